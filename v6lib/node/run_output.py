"""From what an ended run left in its output folder to the outcome the node reports.

Why a module of its own: the output file is the one thing the node takes from an
algorithm, and the algorithm controls it completely. It is opened once through
:mod:`v6lib.node.untrusted_files` and that one descriptor serves everything: the JSON
check, the read into memory of a small output (sealed for the researcher's organization
in an encrypted collaboration) and the streamed seal or copy of a big one into the
journal's result files (:mod:`v6lib.node.result_files`). An output that breaks the rules
(a link, a pipe, a file of another user, too big) ends the run as "unexpected output"
with the rule it broke; the node reads nothing of it and carries on. An output the data
owner's disclosure rules refuse (:mod:`v6lib.rules.disclosure`) ends the run "not
allowed" with the rule's reason, before anything is sealed or kept for upload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from v6lib.crypto import Binding, TaskBinding, load_public_key_pem
from v6lib.errors import EncryptionError, UnsafeFileError
from v6lib.node.journal import JournalEntry
from v6lib.node.keys import NodeKeys
from v6lib.node.result_files import BIG_RESULT_BYTES, ResultFiles
from v6lib.node.untrusted_files import UntrustedFile, open_untrusted
from v6lib.rules.disclosure import DisclosureRules, check_output, check_size
from v6lib.rules.failures import FAILURE_RECORD_LIMIT, read_failure_record
from v6lib.schemas.run_status import RunStatus

__all__ = ["FULL_CHECK_LIMIT", "Outcome", "OutputCollector", "json_file_problem",
           "json_problem"]

#: Outputs up to this size are parsed to check they are JSON; larger ones only have
#: their outer brackets checked (parsing would hold them many times over in memory; the
#: server and the researcher's client decode them anyway).
FULL_CHECK_LIMIT = 64 * 1024 * 1024
_CLOSERS = {ord("{"): ord("}"), ord("["): ord("]"), ord('"'): ord('"')}
_EDGE = 64
_DIGEST_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    """How a run ended, as the node journals it."""

    status: RunStatus
    result: bytes | None = None
    reason: str | None = None
    #: SHA-256 of the output as the algorithm wrote it (for the audit trail), when read.
    output_digest: str | None = field(default=None, compare=False)


def _brackets_problem(head: bytes, tail: bytes) -> str | None:
    head, tail = head.lstrip(), tail.rstrip()
    if not head or not tail or _CLOSERS.get(head[0]) != tail[-1]:
        return "a large output must be a JSON object, array or string"
    return None


def json_problem(data: bytes) -> str | None:
    """Why ``data`` is not a JSON document, or None (see :data:`FULL_CHECK_LIMIT`)."""
    if len(data) <= FULL_CHECK_LIMIT:
        try:
            json.loads(data)
        except ValueError as exc:
            return str(exc)
        return None
    return _brackets_problem(data[:_EDGE], data[-_EDGE:])


def json_file_problem(file: UntrustedFile) -> str | None:
    """Why the opened file is not a JSON document, or None."""
    if file.size <= FULL_CHECK_LIMIT:
        return json_problem(file.read_all())
    return _brackets_problem(file.read_at(0, _EDGE),
                             file.read_at(max(0, file.size - _EDGE), _EDGE))


@dataclass(frozen=True)
class OutputCollector:
    """Reads runs' outputs for one node.

    Args:
        keys: the node's keys (results are sealed when they are encrypted).
        organization_id: this node's organization (bound into sealed results).
        owner: the uid a run's output must belong to (the runtime's run user).
        limit: the most bytes an output may hold (``max_output_bytes``).
        results: where big outputs wait for upload; None keeps every output in memory.
        encrypted: whether the node's collaboration is encrypted.
        disclosure: the data owner's disclosure rules, applied to every output.
        input_rows: the row counts of the node's databases (for the row-level rule).
    """

    keys: NodeKeys
    organization_id: int
    owner: int
    limit: int
    results: ResultFiles | None
    encrypted: bool
    disclosure: DisclosureRules = field(default_factory=DisclosureRules)
    input_rows: Callable[[], Sequence[int]] = field(default=tuple)

    def collect(self, entry: JournalEntry, output_file: Path) -> Outcome:
        """The outcome of a run whose algorithm exited with code 0."""
        try:
            file = open_untrusted(output_file.parent, output_file.name, owner=self.owner,
                                  limit=self.limit, what="the output file")
        except FileNotFoundError:
            return Outcome(RunStatus.UNEXPECTED_OUTPUT,
                           reason="the algorithm wrote no output file")
        except UnsafeFileError as exc:
            return Outcome(RunStatus.UNEXPECTED_OUTPUT, reason=exc.message)
        except OSError as exc:
            return Outcome(RunStatus.UNEXPECTED_OUTPUT,
                           reason=f"the node cannot open the output file: {exc.strerror}")
        with file:
            try:
                if self.results is not None and file.size > BIG_RESULT_BYTES:
                    return self._keep_big(entry, file, self.results)
                return self._in_memory(entry, file)
            except UnsafeFileError as exc:
                return Outcome(RunStatus.UNEXPECTED_OUTPUT, reason=exc.message)

    def failure_reason(self, output_file: Path) -> str | None:
        """The algorithm's own account of its failure, or None.

        A run that exits non-zero may leave a failure record (:mod:`v6lib.rules.failures`)
        in its output file; it is read under the same rules as any output, only smaller.
        """
        try:
            with open_untrusted(output_file.parent, output_file.name, owner=self.owner,
                                limit=FAILURE_RECORD_LIMIT, what="the output file") as file:
                return read_failure_record(file.read_all())
        except (OSError, UnsafeFileError):
            return None

    def _binding(self, entry: JournalEntry) -> Binding:
        """The binding of this node's result, from what the journal kept of its task."""
        task = TaskBinding.of({"id": entry.task_id, "uid": entry.task_uid,
                               "image": entry.image, "init_org_id": entry.init_org_id})
        return task.result(self.organization_id)

    def _sealing(self) -> bool:
        return self.encrypted and self.keys.encrypted

    def _refusal(self, entry: JournalEntry, data: bytes) -> str | None:
        """Why the disclosure rules keep ``data`` at the node, or None."""
        policy = self.disclosure.for_image(entry.image or "")
        if not policy.active:
            return None
        rows = self.input_rows() if policy.refuse_row_level else ()
        return check_output(policy, data, input_rows=rows).reason

    def _in_memory(self, entry: JournalEntry, file: UntrustedFile) -> Outcome:
        data = file.read_all()
        problem = json_problem(data)
        if problem:
            return Outcome(RunStatus.UNEXPECTED_OUTPUT,
                           reason=f"the output file is not JSON: {problem}")
        digest = hashlib.sha256(data).hexdigest()
        refusal = self._refusal(entry, data)
        if refusal:
            return Outcome(RunStatus.NOT_ALLOWED, reason=refusal, output_digest=digest)
        if not self._sealing():
            return Outcome(RunStatus.COMPLETED, data, output_digest=digest)
        try:
            recipient = load_public_key_pem(entry.recipient_key or "")
            return Outcome(RunStatus.COMPLETED, self.keys.seal_with(
                data, recipient, self._binding(entry)), output_digest=digest)
        except EncryptionError as exc:
            return Outcome(RunStatus.FAILED, reason=f"cannot encrypt the result: {exc}",
                           output_digest=digest)

    def _big_refusal(self, entry: JournalEntry, file: UntrustedFile) -> str | None:
        """The disclosure rules on an output too big to keep in memory for long."""
        policy = self.disclosure.for_image(entry.image or "")
        if not policy.reads_values:
            return check_size(policy, file.size).reason
        if file.size > FULL_CHECK_LIMIT:
            return (f"refused: the result has {file.size} bytes, more than the "
                    f"{FULL_CHECK_LIMIT} bytes the disclosure rules read to check it")
        return self._refusal(entry, file.read_all())

    def _keep_big(self, entry: JournalEntry, file: UntrustedFile,
                  results: ResultFiles) -> Outcome:
        """Seal (or copy) a big output by streaming it into the journal's result files.

        Never read into memory as a whole; the outbox uploads the file with a streaming
        PUT. It is durable before the outcome is journaled, so a crash in between only
        means doing this again.
        """
        problem = json_file_problem(file)
        if problem:
            return Outcome(RunStatus.UNEXPECTED_OUTPUT,
                           reason=f"the output file is not JSON: {problem}")
        digest = _file_digest(file)
        refusal = self._big_refusal(entry, file)
        if refusal:
            return Outcome(RunStatus.NOT_ALLOWED, reason=refusal, output_digest=digest)
        try:
            with file.reader() as source:
                if self._sealing():
                    recipient = load_public_key_pem(entry.recipient_key or "")
                    results.store(entry.run_id, source, recipient=recipient,
                                  binding=self._binding(entry))
                else:
                    results.store(entry.run_id, source)
        except EncryptionError as exc:
            return Outcome(RunStatus.FAILED, reason=f"cannot encrypt the result: {exc}")
        except OSError as exc:
            return Outcome(RunStatus.FAILED, reason=f"cannot keep the result for upload: {exc}")
        return Outcome(RunStatus.COMPLETED, output_digest=digest)


def _file_digest(file: UntrustedFile) -> str:
    digest, offset = hashlib.sha256(), 0
    while offset < file.size:
        chunk = file.read_at(offset, min(_DIGEST_CHUNK, file.size - offset))
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return digest.hexdigest()
