"""cgroup v2 containment for the process runtime: one cgroup per run, where the kernel allows.

Why: resource limits (:mod:`v6lib.node.runtime.process_limits`) bound each process on its
own and a run's processes are found by a marker a process can rewrite. A cgroup holds
every process a run starts, whatever it does, bounds them together (``memory.max``,
``cpu.max``, ``pids.max``, as Docker does) and ends them all at once (``cgroup.kill``).

What is used is decided once, when the runtime starts (:meth:`RunCgroups.detect`):

* the node's own cgroup on the cgroup v2 hierarchy (``/proc/self/cgroup``, the mount from
  ``/proc/self/mountinfo``) must let this node create a child (root, or a delegated
  cgroup); the runs then live in ``<node's cgroup>/v6lib-<id>/run-<run id>``;
* a limit is set by its cgroup controller when that controller reaches the runs' cgroups
  (``memory`` for ``container.memory``, ``cpu`` for ``container.cpus``, ``pids`` always
  when present): the node enables it in ``cgroup.subtree_control`` on the way down,
  which the kernel refuses for a cgroup that holds processes itself (a node in the root
  cgroup of a container, say);
* a limit whose controller is missing falls back to the resource limits; without a
  usable hierarchy at all (cgroup v1 only, not root, read-only) everything does.

The node logs which applies when it starts.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CGROUP_CONTROLLERS", "CgroupLimits", "RunCgroups"]

log = logging.getLogger(__name__)

CGROUP_CONTROLLERS = ("memory", "cpu", "pids")
"""The controllers a run's cgroup would use, in the order they are enabled."""

PIDS_MAX = 4096
"""At most this many processes and threads per run (a fork bomb ends there)."""

_CPU_PERIOD = 100_000  # microseconds, Docker's default period


@dataclass(frozen=True)
class CgroupLimits:
    """What a run's cgroup bounds (None: not by the cgroup)."""

    memory: int | None = None
    cpus: float | None = None


def _own_cgroup() -> tuple[Path, str] | None:
    """The cgroup v2 mount point and this process's path on it (None: no v2 hierarchy)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    path = next((line[3:] for line in lines if line.startswith("0::")), None)
    mount = None
    for line in mounts:
        fields = line.split(" - ", 1)
        if len(fields) == 2 and fields[1].split()[0] == "cgroup2":
            mount = Path(fields[0].split()[4])
            break
    if path is None or mount is None:
        return None
    return mount, path


class RunCgroups:
    """The cgroups of one runtime's runs (see the module docstring)."""

    def __init__(self, base: Path, controllers: frozenset[str]) -> None:
        self.base = base  # exists while a run's cgroup is in it
        self.controllers = controllers

    @classmethod
    def detect(cls, state_dir: Path) -> tuple[RunCgroups | None, str]:
        """The runs' cgroups of the runtime in ``state_dir``, or None and why not."""
        found = _own_cgroup()
        if found is None:
            return None, "no cgroup v2 hierarchy is mounted"
        mount, path = found
        own = mount / path.lstrip("/")
        name = "v6lib-" + hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:12]
        base = own / name
        try:
            base.mkdir(exist_ok=True)
        except OSError as exc:
            return None, f"cannot create a cgroup in {own}: {exc.strerror or exc}"
        controllers = _enable(own, base)
        cgroups = cls(base, controllers)
        cgroups.release()
        return cgroups, ""

    def describe(self) -> str:
        used = ", ".join(c for c in CGROUP_CONTROLLERS if c in self.controllers) or "none"
        return f"cgroup v2 at {self.base} (controllers: {used})"

    def limits(self, memory: int | None, cpus: float | None) -> CgroupLimits:
        """The part of a run's limits its cgroup can enforce; the rest falls back."""
        return CgroupLimits(memory=memory if "memory" in self.controllers else None,
                            cpus=cpus if "cpu" in self.controllers else None)

    def path(self, run_id: int) -> Path:
        return self.base / f"run-{run_id}"

    def place(self, run_id: int, pid: int, limits: CgroupLimits) -> None:
        """Create the run's cgroup with its limits and move ``pid`` (which has not run
        anything yet) into it; OSError when the kernel refuses."""
        group = self.path(run_id)
        if not self.base.is_dir():
            self.base.mkdir(exist_ok=True)
            _enable(self.base.parent, self.base)
        with contextlib.suppress(FileExistsError):
            group.mkdir()
        if limits.memory is not None:
            (group / "memory.max").write_text(str(limits.memory))
            with contextlib.suppress(OSError):  # no swap accounting: nothing to bound
                (group / "memory.swap.max").write_text("0")
        if limits.cpus is not None:
            quota = max(1000, math.ceil(limits.cpus * _CPU_PERIOD))
            (group / "cpu.max").write_text(f"{quota} {_CPU_PERIOD}")
        if "pids" in self.controllers:
            (group / "pids.max").write_text(str(PIDS_MAX))
        (group / "cgroup.procs").write_text(str(pid))

    def pids(self, run_id: int) -> list[int]:
        """The processes in the run's cgroup now."""
        try:
            text = (self.path(run_id) / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def kill(self, run_id: int) -> None:
        """End every process of the run at once (``cgroup.kill``; SIGKILL each where the
        kernel is older than 5.14)."""
        group = self.path(run_id)
        if not group.is_dir():
            return
        try:
            (group / "cgroup.kill").write_text("1")
        except OSError:
            for pid in self.pids(run_id):
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)

    def remove(self, run_id: int) -> None:
        """Remove the run's cgroup (after :meth:`kill`; an emptied cgroup goes at once)."""
        group = self.path(run_id)
        deadline = time.monotonic() + 3.0
        while True:
            try:
                group.rmdir()
                self.release()
                return
            except FileNotFoundError:
                return
            except OSError as exc:  # EBUSY: a process not yet gone (or reaped)
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    return
                self.kill(run_id)
                time.sleep(0.01)

    def sweep(self, known: set[int]) -> None:
        """Remove the emptied cgroups of runs this runtime has no record of (a node killed
        while it started one leaves it behind)."""
        if not self.base.is_dir():
            return
        for group in self.base.glob("run-*"):
            if group.name[4:].isdigit() and int(group.name[4:]) not in known:
                with contextlib.suppress(OSError):  # not empty: a run is still in it
                    group.rmdir()
        self.release()

    def release(self) -> None:
        """Remove the runtime's cgroup when no run is left in it (runs outlive the node:
        a cgroup still holding one stays, for the node's next start)."""
        with contextlib.suppress(OSError):
            self.base.rmdir()


def _enable(own: Path, base: Path) -> frozenset[str]:
    """Enable what it can of :data:`CGROUP_CONTROLLERS` for the runs' cgroups below
    ``base``; the controllers that reach them."""
    for parent in (own, base):
        try:
            available = set((parent / "cgroup.controllers").read_text().split())
        except OSError:
            return frozenset()
        for controller in CGROUP_CONTROLLERS:
            if controller in available:
                with contextlib.suppress(OSError):  # EBUSY: the cgroup holds processes
                    (parent / "cgroup.subtree_control").write_text(f"+{controller}")
    try:
        enabled = set((base / "cgroup.subtree_control").read_text().split())
    except OSError:
        return frozenset()
    return frozenset(enabled & set(CGROUP_CONTROLLERS))
