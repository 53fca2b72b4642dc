"""Shared pieces of the configuration models: strict base model, logging, data directories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["LoggingConfig", "StrictModel", "normalize_api_path", "user_data_dir"]


def user_data_dir(*parts: str) -> Path:
    """Per-user data directory (``$XDG_DATA_HOME/v6lib/...``, else ``~/.local/share``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base, "v6lib", *parts)


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo in a config file must not pass silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoggingConfig(StrictModel):
    level: Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG", "NOTSET"] = "INFO"
    file: Path | None = None
    use_console: bool = True
    backup_count: int = Field(default=5, ge=0)
    max_size: int = Field(default=1024, ge=1, description="kB per log file before rotation")
    format: str | None = None
    datefmt: str | None = None
    loggers: list[dict[str, Any]] = []

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def normalize_api_path(value: str) -> str:
    value = value.strip().rstrip("/")
    return value if not value or value.startswith("/") else f"/{value}"


