"""Readers that turn a run's databases into DataFrames, one module per database type."""

from __future__ import annotations

from .base import DataSource as DataSource
from .base import get_source as get_source
from .base import known_types as known_types
from .base import load_data as load_data
from .base import register_source as register_source

__all__ = ["DataSource", "get_source", "known_types", "load_data", "register_source"]
