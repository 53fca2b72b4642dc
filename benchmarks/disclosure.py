"""What the data owner's controls add to a run: disclosure checks plus the audit entry.

Measured where the node pays them, in process (no server, no container):

* ``collect``: :meth:`OutputCollector.collect` of a run's output file, without rules and
  with ``min_cell_count: 5, refuse_row_level: true`` (the node's row count cached, as
  after the first run), for a trivial result (``{"ok": true}``, the benchmark of
  ``benchmarks/node.py``), a typed 3x2 crosstab and a 20-column frame of 200 rows;
* ``audit``: one :class:`RunAudit` run (received, decided, input, finished): one entry
  appended and flushed to disk (``fdatasync``) in a temporary directory, next to the
  disk's own floor (a 1 kB write and ``fdatasync``), which dominates it.

Target: checks plus audit entry < 5 ms per run for the trivial task.

Usage::

    python benchmarks/disclosure.py [--repeat 300]

Prints a table of medians and 95th percentiles; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from v6lib.node.audit import AuditTrail  # noqa: E402
from v6lib.node.journal import Journal  # noqa: E402
from v6lib.node.keys import NodeKeys  # noqa: E402
from v6lib.node.run_audit import RunAudit  # noqa: E402
from v6lib.node.run_output import OutputCollector  # noqa: E402
from v6lib.rules.disclosure import DisclosurePolicy, DisclosureRules  # noqa: E402
from v6lib.serialization import dumps  # noqa: E402
from v6lib.wrappers.aggregates import CountTable  # noqa: E402

TASK = {"id": 3, "job_id": 3, "collaboration_id": 1, "init_org_id": 1, "init_user_id": 2,
        "image": "v6-bench:latest", "databases": [{"label": "default"}]}


def _outputs() -> dict[str, bytes]:
    crosstab = pd.crosstab(pd.Series(["a", "b", "c"] * 40, name="island"),
                           pd.Series(["F", "M"] * 60, name="sex"))
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(200, 20)), columns=[f"c{i}" for i in range(20)])
    return {"trivial {'ok': true}": b'{"ok":true}',
            "typed 3x2 crosstab": dumps({"table": CountTable(crosstab)}),
            "200x20 float frame": dumps(frame.describe())}


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    for _ in range(5):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def _flush_floor(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"x" * 1023 + b"\n")
        os.fdatasync(fd)
    finally:
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=300)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        journal = Journal(":memory:")
        journal.receive(7, task_id=3, task_uid="u", image="v6-bench:latest", init_org_id=1)
        entry = journal.get(7)
        assert entry is not None
        keys = NodeKeys(encrypted=False, private_key=None, organization_getter=lambda i: {})
        plain = OutputCollector(keys=keys, organization_id=2, owner=os.geteuid(),
                                limit=1 << 30, results=None, encrypted=False)
        guarded = replace(plain, disclosure=DisclosureRules(
            DisclosurePolicy(min_cell_count=5, refuse_row_level=True)),
            input_rows=lambda: (120,))
        output = folder / "output"
        rows = [("", "p50 ms", "p95 ms")]
        for name, data in _outputs().items():
            output.write_bytes(data)
            for label, collector in (("no rules", plain), ("rules", guarded)):
                outcome = collector.collect(entry, output)
                p50, p95 = _time(lambda c=collector: c.collect(entry, output), repeat)
                rows.append((f"collect {name}, {label} ({outcome.status.value})",
                             f"{p50:.3f}", f"{p95:.3f}"))
        audit = RunAudit(AuditTrail(folder / "audit.jsonl"))

        def audited_run() -> None:
            audit.received(7, TASK)
            audit.decided(7, "node policy", True, None)
            audit.input(7, b'{"method": "noop", "args": [], "kwargs": {}}')
            audit.decided(7, "disclosure", True, None)
            audit.finished(7, entry, "completed", None, output_digest="0" * 64,
                           result=b'{"ok":true}')

        audit_p50, audit_p95 = _time(audited_run, repeat)
        rows.append(("audit entry (flushed to disk)", f"{audit_p50:.3f}", f"{audit_p95:.3f}"))
        p50, p95 = _time(lambda: _flush_floor(folder / "floor"), repeat)
        rows.append(("  of which the disk: write + fdatasync of 1 kB", f"{p50:.3f}",
                     f"{p95:.3f}"))
        output.write_bytes(b'{"ok":true}')
        base = _time(lambda: plain.collect(entry, output), repeat)
        checked = _time(lambda: guarded.collect(entry, output), repeat)
        rows.append(("added per trivial run (rules + audit entry)",
                     f"{checked[0] - base[0] + audit_p50:.3f}",
                     f"{checked[1] - base[1] + audit_p95:.3f}"))
        journal.close()
    width = max(len(r[0]) for r in rows)
    for name, p50_text, p95_text in rows:
        print(f"{name:<{width}}  {p50_text:>8}  {p95_text:>8}")
    print("target: added per trivial run < 5 ms")


if __name__ == "__main__":
    main()
