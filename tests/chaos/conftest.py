"""The chaos suite runs the scenario algorithm of the end-to-end tests."""

from __future__ import annotations

from tests.integration.conftest import scenario_package

__all__ = ["scenario_package"]
