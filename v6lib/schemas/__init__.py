"""Pydantic wire models: the single definition of every payload v6lib sends or receives."""

from __future__ import annotations

from .common import ErrorBody as ErrorBody
from .common import Links as Links
from .common import Page as Page
from .common import PageParams as PageParams
from .run_status import TERMINAL_STATUSES as TERMINAL_STATUSES
from .run_status import RunStatus as RunStatus
from .run_status import can_transition as can_transition
from .task_input import TaskInput as TaskInput

__all__ = ["TERMINAL_STATUSES", "ErrorBody", "Links", "Page", "PageParams", "RunStatus",
           "TaskInput", "can_transition"]
