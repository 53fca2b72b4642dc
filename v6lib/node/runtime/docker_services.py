"""vantage6's ``docker_services``: containers (a local OMOP database, say) that algorithm
runs may reach by a name of the operator's choosing.

Why resolved at each run's start: a service container gets a new address when it is
restarted. The node finds it by its container name on the Docker engine and connects
to its address on its Docker network (reachable from the host, where the node's relays
run); algorithm containers still have no network and reach it only through their relays
(see :mod:`v6lib.node.relays`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from v6lib.errors import RuntimeUnavailableError

__all__ = ["service_addresses"]


def service_addresses(client: Any, services: Mapping[str, str]) -> dict[str, str]:
    """``{name algorithms use: IP address}`` of the running ``docker_services`` containers.

    Raises:
        RuntimeUnavailableError: a service container is absent, stopped or has no address.
    """
    import docker.errors

    found: dict[str, str] = {}
    for alias, container_name in services.items():
        try:
            details = client.api.inspect_container(container_name)
        except docker.errors.NotFound:
            raise RuntimeUnavailableError(
                f"docker_services.{alias}: no container named {container_name!r}; start it "
                "before the node (vantage6 requires the same)") from None
        state = details.get("State") or {}
        networks = (details.get("NetworkSettings") or {}).get("Networks") or {}
        addresses = [n.get("IPAddress") for n in networks.values() if n.get("IPAddress")]
        if not state.get("Running") or not addresses:
            raise RuntimeUnavailableError(
                f"docker_services.{alias}: container {container_name!r} is not running on a "
                "Docker network (no address to reach it at)")
        found[alias.lower()] = addresses[0]
    return found
