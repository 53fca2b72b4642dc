"""The attack suite: each finding of an outside probe, performed against the real parts.

Fixtures come from the end-to-end tests (a real server in a thread, process-runtime
nodes, the scenario algorithm, the Docker engine); every test here first performs the
attack as the probe did and then asserts that it fails and what the attacker sees.
"""

from __future__ import annotations

from tests.integration.conftest import docker_client, scenario_image, scenario_package

__all__ = ["docker_client", "scenario_image", "scenario_package"]
