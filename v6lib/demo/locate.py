"""Find the average example so node subprocesses can import ``v6_average``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import v6lib
from v6lib.errors import ConfigurationError

__all__ = ["average_example_path"]


def average_example_path() -> Path | None:
    """The directory to put on ``PYTHONPATH`` for ``v6_average``, or None if installed.

    A source checkout has ``examples/average`` next to the ``v6lib`` package; a pip
    installation of the example makes ``v6_average`` importable without help.
    """
    checkout = Path(v6lib.__file__).resolve().parent.parent / "examples" / "average"
    if (checkout / "v6_average" / "__init__.py").is_file():
        return checkout
    if importlib.util.find_spec("v6_average") is not None:
        return None
    raise ConfigurationError(
        "the average example (package v6_average) was not found: run the demo from a source "
        f"checkout (expected {checkout}) or install it with `pip install examples/average`")
