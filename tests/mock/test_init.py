"""``v6lib.mock`` exports exactly its public names."""

from __future__ import annotations

import v6lib.mock


def test_all_imports_are_exported() -> None:
    # Names starting with "@" are pytest's assertion-rewriting helpers (the package
    # hosts the pytest plugin, so pytest rewrites it), not part of the API.
    public = {name for name in vars(v6lib.mock) if not name.startswith(("_", "@"))}
    modules = {
        "algorithm_client",
        "annotations",
        "api",
        "codec",
        "container",
        "datasets",
        "folders",
        "network",
        "progress",
        "run_environ",
        "run_scope",
        "runtime",
        "sandbox",
        "server",
        "store",
        "pytest_plugin",
    }

    assert set(v6lib.mock.__all__) == public - modules
    assert v6lib.mock.__all__ == sorted(v6lib.mock.__all__)
