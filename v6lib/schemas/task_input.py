"""The input an algorithm receives: which method to call and with what arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core import ValidationError as PydanticValidationError

from .task_call import METHOD_MAX_LENGTH, Problem, check_task_input

__all__ = ["TaskInput"]


class TaskInput(BaseModel):
    """``{"method": str, "args": [...], "kwargs": {...}}``.

    The legacy vantage6 form ``{"master": true, "method": "x"}`` is accepted and means a
    central function; it is kept in ``master`` so the wrapper can tell.
    """

    model_config = ConfigDict(extra="forbid")

    method: str = Field(min_length=1, max_length=METHOD_MAX_LENGTH)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    master: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shared_rules(cls, value: Any) -> Any:
        # NOTE: the rules live in v6lib.schemas.task_call (stdlib only, so the container
        # entrypoint checks its INPUT_FILE without pydantic); the fields above only
        # describe the outcome, for the JSON schema.
        if not isinstance(value, Mapping):
            return value  # an instance, or a type pydantic refuses with its own message
        values, problems = check_task_input(value)
        if problems:
            raise PydanticValidationError.from_exception_data(
                cls.__name__, [_line_error(problem, value) for problem in problems])
        return values


def _line_error(problem: Problem, value: Mapping[Any, Any]) -> InitErrorDetails:
    head = problem.loc[0] if problem.loc else None
    return InitErrorDetails(
        type=PydanticCustomError("task_input", "{problem}", {"problem": problem.message}),
        loc=problem.loc,
        input=value.get(head, value) if head is not None else value,
    )
