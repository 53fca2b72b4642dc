"""The attack suite: each finding performed for real against the real parts.

Fixtures come from the end-to-end tests (a real server in a thread, process-runtime
nodes, the scenario algorithm, the Docker engine); every test here first performs the
attack (an outside probe's finding, an algorithm in a container that replaces its
output, a process that calls the node's proxy with someone else's token, a server
administrator who replays a sealed input) and then asserts that it fails, what the
attacker sees, and that the node carries on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.conftest import (
    Federation,
    LiveServer,
    docker_client,
    live_server,
    make_federation,
    node_options,
    scenario_image,
    scenario_package,
)
from v6lib.crypto import RSAPrivateKey, generate_private_key, public_key_b64, save_private_key
from v6lib.node.options import NodeOptions

__all__ = ["docker_client", "live_server", "scenario_image", "scenario_package",
           "sealed_site"]


def sealed_site(server: LiveServer, scenario_package: Path, tmp: Path, **options: Any
                ) -> tuple[Federation, NodeOptions, RSAPrivateKey]:
    """An encrypted collaboration of one organization, the options of its node (process
    runtime unless ``options`` say otherwise) and the organization's private key."""
    fed = make_federation(server, 1, encrypted=True, prefix="sealed")
    key = generate_private_key(2048)
    save_private_key(key, tmp / "key.pem")
    fed.root.organization.update(fed.org_ids[0], public_key=public_key_b64(key))
    return fed, node_options(fed, 0, tmp / "node", scenario_package=scenario_package,
                             encryption_enabled=True, private_key_path=tmp / "key.pem",
                             **options), key
