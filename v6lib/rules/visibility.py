"""What an algorithm's container token may see: its own job's tasks and runs only.

The server's permission engine and the MockNetwork's in-process API both ask this one
function; both answer "not found" for what is hidden, as a 404 reveals nothing.
"""

from __future__ import annotations

from v6lib.errors import NotFoundError

__all__ = ["check_job_visible", "hidden_task_message", "job_visible"]


def job_visible(caller_job_id: int | None, target_job_id: int | None) -> bool:
    """Whether a run of ``caller_job_id`` may see a task or run of ``target_job_id``."""
    return caller_job_id is not None and caller_job_id == target_job_id


def hidden_task_message(task_id: int) -> str:
    """What a run reads about a task it may not see (or that does not exist)."""
    return (f"task {task_id} does not exist or belongs to another job; a run may only "
            "read the tasks of its own job")


def check_job_visible(caller_job_id: int | None, task_id: int,
                      target_job_id: int | None) -> None:
    """Raise the "not found" a hidden task gets."""
    if not job_visible(caller_job_id, target_job_id):
        raise NotFoundError(hidden_task_message(task_id))
