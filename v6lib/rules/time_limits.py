"""How long a run may take: the node's limit, a task's own limit, and which one applies.

Why a rule of its own: a researcher may give a task a time limit (``max_run_seconds``
on task creation, validated by :class:`v6lib.schemas.task.TaskIn`), a node operator
gives every run on the node one (``max_run_seconds`` in the node's configuration). The
node enforces the shorter of the two, and the MockNetwork would have to do the same
were it to apply time limits (it runs algorithms in-process and applies none); one
function decides, and one words the reason a researcher reads.

* The task's limit applies only within the node's: it can shorten a run's time, never
  lengthen it.
* When both are equal the node's is named (the operator's limit holds either way).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TimeLimit", "run_time_limit"]


@dataclass(frozen=True)
class TimeLimit:
    """The limit that applies to a run, and whose it is (``"node"`` or ``"task"``)."""

    seconds: float
    owner: str

    @property
    def reason(self) -> str:
        """What a run that exceeded it is told."""
        return f"run exceeded the {self.owner}'s time limit of {self.seconds:g} s"


def run_time_limit(node_seconds: float | None, task_seconds: float | None) -> TimeLimit | None:
    """The time limit of a run: the shorter of the node's and the task's (None: none)."""
    if task_seconds is not None and (node_seconds is None or task_seconds < node_seconds):
        return TimeLimit(float(task_seconds), "task")
    if node_seconds is not None:
        return TimeLimit(float(node_seconds), "node")
    return None
