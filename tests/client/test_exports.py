"""The client packages export exactly what their ``__all__`` promises."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("module", ["v6lib.client", "v6lib.client.resources", "v6lib.demo"])
def test_all_imports_are_exported(module: str) -> None:
    mod = importlib.import_module(module)
    public = {name for name in dir(mod) if not name.startswith("_")}
    exported = set(mod.__all__)
    missing = {name for name in exported if not hasattr(mod, name)}
    assert not missing
    # Every public class-like attribute defined for users is listed.
    classes = {n for n in public if isinstance(getattr(mod, n), type)}
    assert classes <= exported


def test_client_is_user_client() -> None:
    from v6lib.client import Client, UserClient

    assert Client is UserClient
