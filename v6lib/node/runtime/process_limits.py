"""Containment for the process runtime: resource limits, and every process of a run.

Why: a process run is the node's own subprocess; without this it could allocate all
memory or leave children running after it ended. What applies where the run's cgroup
(:mod:`v6lib.node.runtime.process_cgroups`) cannot bound it:

* ``container.memory`` -> ``RLIMIT_AS`` (address space) on the run's first process,
  inherited by everything it starts: an allocation beyond it fails inside the run
  (``MemoryError`` in Python). Address space is not resident memory: a run that maps
  much more than it touches (many threads) needs a higher limit than under Docker.
* ``container.cpus`` -> CPU affinity: the run and its children may use
  ``ceil(cpus)`` of the node's cores (the first ones the node may use). This is not a
  share of CPU time as Docker enforces it; ``RLIMIT_CPU`` (total CPU seconds) would be
  yet another thing and is not used (see ``max_run_seconds`` for a time limit).

Every process of a run carries a marker in its environment (:data:`MARKER_VARIABLE`,
unique per runtime state folder and run): the runtime finds a run's processes by it in
``/proc``, also those that left the run's process group or outlived its first process.
(A run forked by the warm starter shows the starter's environment in ``/proc`` itself;
the processes it starts carry the marker, and it is ended through its process group.)
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import resource
import signal
from dataclasses import dataclass
from pathlib import Path

from v6lib.node.runtime.base import JobSpec

__all__ = ["MARKER_VARIABLE", "ProcessLimits", "kill_marked", "marked_pids", "memory_bytes",
           "run_marker"]

MARKER_VARIABLE = "V6LIB_RUN_MARKER"
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)([bkmgt]?)$", re.IGNORECASE)


def memory_bytes(text: str) -> int:
    """Docker's memory notation (``"512m"``, ``"1.5g"``, a plain number of bytes)."""
    match = _MEMORY.match(text.strip())
    if match is None:
        raise ValueError(f"not a memory size: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def run_marker(state_dir: Path, run_id: int) -> str:
    """The value of :data:`MARKER_VARIABLE` for ``run_id`` of the runtime in ``state_dir``."""
    folder = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:16]
    return f"{folder}/{run_id}"


@dataclass(frozen=True)
class ProcessLimits:
    """The limits one run gets; applied to its first process before it runs anything."""

    memory: int | None = None
    cores: frozenset[int] | None = None

    @classmethod
    def of(cls, spec: JobSpec) -> ProcessLimits:
        cores = None
        if spec.cpus is not None:
            available = sorted(os.sched_getaffinity(0))
            cores = frozenset(available[:max(1, math.ceil(spec.cpus))])
        return cls(memory=memory_bytes(spec.memory) if spec.memory else None, cores=cores)

    @property
    def active(self) -> bool:
        return self.memory is not None or self.cores is not None

    def apply(self, pid: int) -> None:
        """Set the limits of process ``pid`` (its later children inherit them)."""
        if self.memory is not None:
            resource.prlimit(pid, resource.RLIMIT_AS, (self.memory, self.memory))
        if self.cores is not None:
            os.sched_setaffinity(pid, self.cores)


def _markers() -> dict[int, str]:
    """The marker of every marked process now running, by pid."""
    prefix = f"{MARKER_VARIABLE}=".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        for variable in environ.split(b"\0"):
            if variable.startswith(prefix):
                found[int(entry.name)] = variable[len(prefix):].decode(errors="replace")
    return found


def marked_pids(marker: str) -> list[int]:
    """Every process whose environment holds ``MARKER_VARIABLE=marker``."""
    return sorted(pid for pid, value in _markers().items() if value == marker)


def kill_marked(marker: str) -> list[int]:
    """SIGKILL every process of the run marked ``marker``; the pids signalled."""
    pids = [pid for pid in marked_pids(marker) if pid != os.getpid()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pids
