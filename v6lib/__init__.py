"""v6lib: privacy-preserving analysis of data that stays where it is."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
