"""Algorithm images for the Docker runtime: use the local copy, else pull from a known registry.

Why so strict: a node pulls only from registries its owner configured (with their
logins); any other absent image ends the run as "no docker image" (a
:class:`~v6lib.errors.NotFoundError` whose message says what to do), never as a pull
from wherever the image name points. With ``always_pull`` (vantage6's
``require_algorithm_pull``) every run pulls first, so no outdated local copy runs, and a
failed pull refuses the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from v6lib.errors import NotFoundError

__all__ = ["ensure_image", "registry_entry"]

_DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io", "index.docker.io/v1"}


def registry_entry(entry: Any) -> dict[str, str]:
    """A registry login as plain strings, from a mapping or a config object."""
    def get(key: str) -> str:
        value = entry.get(key) if isinstance(entry, Mapping) else getattr(entry, key, None)
        getter = getattr(value, "get_secret_value", None)
        return str(getter() if callable(getter) else value or "")

    return {"registry": get("registry"), "username": get("username"),
            "password": get("password")}


def _host(registry: str) -> str:
    host = registry.removeprefix("https://").removeprefix("http://").rstrip("/")
    return "docker.io" if host in _DOCKER_HUB else host


def ensure_image(client: Any, image: str, registries: Iterable[Mapping[str, str]],
                 node_name: str, *, always_pull: bool = False) -> None:
    """Return when ``image`` is local (pulling it from a configured registry if needed).

    Args:
        always_pull: pull even when a local copy exists, and refuse when that fails.

    Raises:
        NotFoundError: absent (or ``always_pull``) and no configured registry serves it,
            or the pull failed.
        docker.errors.DockerException: the engine itself failed (the caller maps it).
    """
    import docker.auth
    import docker.errors
    import docker.utils

    if not always_pull:
        try:
            client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
    lead = (f"docker image {image!r} must be pulled before it runs on node {node_name!r} "
            "(require_algorithm_pull)" if always_pull else
            f"docker image {image!r} is not present on node {node_name!r}")
    repository, tag = docker.utils.parse_repository_tag(image)
    registry, _ = docker.auth.resolve_repository_name(repository)
    entry = next((r for r in registries if _host(r.get("registry", "")) == _host(registry)),
                 None)
    if entry is None:
        raise NotFoundError(
            f"{lead} and no configured "
            f"registry serves {registry!r}; pull or build it on the node, or add the "
            "registry to docker_registries"
        )
    auth = ({"username": entry["username"], "password": entry.get("password", "")}
            if entry.get("username") else None)
    try:
        client.images.pull(repository, tag=tag or "latest", auth_config=auth)
    except docker.errors.DockerException as exc:
        raise NotFoundError(
            f"{lead} and pulling it "
            f"from {registry!r} failed: {exc}"
        ) from exc

