"""Which absent images the Docker runtime pulls, from where, with which login (no engine)."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest
from pydantic import SecretStr

from v6lib.config.node import DockerRegistry
from v6lib.errors import NotFoundError
from v6lib.node.runtime.docker_images import ensure_image, registry_entry


class FakeImages:
    def __init__(self, present: set[str], pull_error: Exception | None = None) -> None:
        self.present, self.pull_error = present, pull_error
        self.pulls: list[tuple[str, str, Any]] = []

    def get(self, image: str) -> object:
        if image not in self.present:
            raise docker.errors.ImageNotFound(f"no such image: {image}")
        return object()

    def pull(self, repository: str, tag: str, auth_config: Any = None) -> None:
        self.pulls.append((repository, tag, auth_config))
        if self.pull_error:
            raise self.pull_error


class FakeClient:
    def __init__(self, images: FakeImages) -> None:
        self.images = images


def test_a_local_image_is_never_pulled() -> None:
    images = FakeImages({"algo:1"})
    ensure_image(FakeClient(images), "algo:1", [{"registry": "docker.io"}], "n1")
    assert images.pulls == []


def test_absent_image_of_an_unconfigured_registry_is_not_found() -> None:
    images = FakeImages(set())
    with pytest.raises(NotFoundError, match=r"no configured registry serves 'harbor\.x'"):
        ensure_image(FakeClient(images), "harbor.x/p/algo:1", [{"registry": "other.y"}], "n1")
    assert images.pulls == []


def test_pull_uses_the_matching_login() -> None:
    images = FakeImages(set())
    registries = [registry_entry({"registry": "other.y"}),
                  registry_entry(DockerRegistry(registry="https://harbor.x/",
                                                username="u", password=SecretStr("pw")))]
    ensure_image(FakeClient(images), "harbor.x/p/algo:2", registries, "n1")
    assert images.pulls == [("harbor.x/p/algo", "2", {"username": "u", "password": "pw"})]


def test_docker_hub_names_match_and_tag_defaults_to_latest() -> None:
    images = FakeImages(set())
    ensure_image(FakeClient(images), "library/python", [{"registry": "index.docker.io"}], "n1")
    assert images.pulls == [("library/python", "latest", None)]


def test_failed_pull_is_not_found_with_the_reason() -> None:
    images = FakeImages(set(), pull_error=docker.errors.APIError("manifest unknown"))
    with pytest.raises(NotFoundError, match=r"pulling it from 'harbor\.x' failed: manifest"):
        ensure_image(FakeClient(images), "harbor.x/algo:3", [{"registry": "harbor.x"}], "n9")


def test_require_algorithm_pull_pulls_a_local_image_again() -> None:
    images = FakeImages({"harbor.x/algo:1"})
    ensure_image(FakeClient(images), "harbor.x/algo:1", [{"registry": "harbor.x"}], "n1",
                 always_pull=True)
    assert images.pulls == [("harbor.x/algo", "1", None)]


def test_require_algorithm_pull_refuses_what_cannot_be_pulled() -> None:
    images = FakeImages({"local-build:1"})
    with pytest.raises(NotFoundError, match=r"must be pulled before it runs on node 'n1' "
                                            r"\(require_algorithm_pull\) and no configured"):
        ensure_image(FakeClient(images), "local-build:1", [{"registry": "harbor.x"}], "n1",
                     always_pull=True)
    failing = FakeImages({"harbor.x/algo:1"}, pull_error=docker.errors.APIError("offline"))
    with pytest.raises(NotFoundError, match=r"pulling it from 'harbor\.x' failed: offline"):
        ensure_image(FakeClient(failing), "harbor.x/algo:1", [{"registry": "harbor.x"}], "n1",
                     always_pull=True)
