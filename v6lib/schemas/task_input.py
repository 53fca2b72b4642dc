"""The input an algorithm receives: which method to call and with what arguments."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TaskInput"]


class TaskInput(BaseModel):
    """``{"method": str, "args": [...], "kwargs": {...}}``.

    The legacy vantage6 form ``{"master": true, "method": "x"}`` is accepted and means a
    central function; it is kept in ``master`` so the wrapper can tell.
    """

    model_config = ConfigDict(extra="forbid")

    method: str = Field(min_length=1, max_length=200)
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    master: bool = False

    @model_validator(mode="before")
    @classmethod
    def _accept_legacy(cls, value: Any) -> Any:
        if isinstance(value, dict):
            value = dict(value)
            # Legacy inputs carried "output_format"/"data_format"; they have no effect here.
            value.pop("output_format", None)
            value.pop("data_format", None)
            if value.get("master") and not value.get("method"):
                value["method"] = "central"
        return value
