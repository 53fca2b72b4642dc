"""Exercise the documentation's non-console samples: config files, import files, Dockerfiles,
the algorithm module on the MockNetwork, the pytest example, and the marker policy.

Info strings this module understands (``test_docs.py`` handles ``python test``,
``python test-federation`` and ``console``):

* ```` ```yaml node-config ```` / ```` ```yaml server-config ````: loaded with
  :func:`v6lib.config.load_node_config` / :func:`~v6lib.config.load_server_config`;
* ```` ```yaml server-instance ````: one instance of several, loaded and checked to share
  the key through a file and to trust its reverse proxy;
* ```` ```yaml node-network ````: a node file with network databases, whitelist or
  docker_services, loaded and given to the node's relays (its URIs rewritten, its
  passwords kept out; tests/node/runtime/test_docker_network_databases.py runs the same
  shapes against a real PostgreSQL, HTTP servers and a service container);
* ```` ```yaml server-import ````: imported twice into a fresh SQLite server database;
* ```` ```python test-mock ````: written to a module and run on a :class:`MockNetwork`;
* ```` ```python test-pytest ````: written to a test module and run with pytest in a
  subprocess (the ``mock_network`` plugin fixture must be found by plain pytest);
* ```` ```python fresh-venv-module ```` / ```` ```python fresh-venv-loop ````: a module
  the reader adds to the generated package and the loop's steps, run by
  ``test_fresh_venv.py`` in a fresh virtual environment (with Docker);
* ```` ```python no-test ````: deliberately not run; every such block needs a reason in
  :data:`NOT_RUN` below;
* ```` ```dockerfile ````: checked against ``examples/average/Dockerfile``.

A new python or yaml block without one of these markers fails :func:`test_every_block_is_marked`.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.docs.test_docs import DOCS, EXAMPLES, Block, blocks

PYTHON_MARKERS = {"test", "test-federation", "test-mock", "test-pytest", "no-test",
                  "fresh-venv-module", "fresh-venv-loop"}
YAML_MARKERS = {"node-config", "node-network", "server-config", "server-instance",
                "server-import"}

#: Blocks deliberately not run: (page name, first line of the block) -> why.
NOT_RUN: dict[tuple[str, str], str] = {
    ("node-operator.md",
     'api_key = client.node.create(collaboration=1, organization=2, name="hospital-a")'):
        "an administrator's one-liner with fixed ids that exist only on the reader's server; "
        "the same call (client.node.create returning the key) runs in researcher.md's "
        "Administration block against the live server",
    ("algorithm-developer.md",
     "# Needs Docker and a built image: tests/cli/test_algorithm_image.py does exactly this."):
        "needs Docker and an image built from the reader's own package; the Docker test "
        "tests/cli/test_algorithm_image.py runs the same comparison on a generated package",
    ("algorithm-developer.md", "from v6lib.wrappers import data, progress"):
        "a sketch with elided work (``...``); tests/mock/test_progress.py runs an algorithm "
        "reporting progress on the MockNetwork and tests/integration/test_progress.py on "
        "real nodes",
}


def _marked(language: str, marker: str) -> list[Block]:
    return [b for b in blocks() if b.language == language and b.marker == marker]


def _ids(block: Block) -> str:
    return block.where


# ---------------------------------------------------------------- marker policy
def test_every_block_is_marked() -> None:
    unmarked = [b.where for b in blocks()
                if (b.language == "python" and b.marker not in PYTHON_MARKERS)
                or (b.language == "yaml" and b.marker not in YAML_MARKERS)]
    assert not unmarked, (
        f"python/yaml blocks without a known marker {sorted(PYTHON_MARKERS | YAML_MARKERS)}: "
        f"{unmarked}; mark them so a test runs them (or 'no-test' with a reason in NOT_RUN)")


def test_every_excluded_block_has_a_reason() -> None:
    excluded = {(b.page.name, b.code.splitlines()[0].strip()): b.where
                for b in _marked("python", "no-test")}
    missing = [where for key, where in excluded.items() if key not in NOT_RUN]
    stale = [key for key in NOT_RUN if key not in excluded]
    assert not missing, f"```python no-test blocks without a reason in NOT_RUN: {missing}"
    assert not stale, f"NOT_RUN names blocks that are no longer no-test: {stale}"


def test_the_sample_markers_are_used() -> None:
    for language, marker in [("yaml", "node-config"), ("yaml", "node-network"),
                             ("yaml", "server-config"),
                             ("yaml", "server-import"), ("python", "test-mock"),
                             ("python", "test-pytest"), ("dockerfile", "")]:
        assert _marked(language, marker), f"no ```{language} {marker} block in docs/"


# ---------------------------------------------------------------- configuration files
@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Overrides from the environment would hide what the sample itself says."""
    for name in list(os.environ):
        if name.startswith(("V6_NODE_", "V6_SERVER_")):
            monkeypatch.delenv(name)


def _table_keys(page: str) -> set[str]:
    """The top-level keys named in the first column of a page's settings table."""
    text = (DOCS / page).read_text(encoding="utf-8")
    keys = set()
    for row in re.findall(r"^\| (`[^|]+`) \|", text, re.M):
        keys.update(name.split(".")[0] for name in re.findall(r"`([\w.]+)`", row))
    return keys


@pytest.mark.parametrize("block", _marked("yaml", "node-config"), ids=_ids)
def test_node_config_sample_loads(block: Block, tmp_path: Path, clean_env: None) -> None:
    from v6lib.config import NodeConfig, load_node_config
    from v6lib.config.vantage6 import NODE_RULES

    path = tmp_path / "hospital-a.yaml"
    path.write_text(block.code, encoding="utf-8")
    config = load_node_config(path)
    assert config.name == "hospital-a"
    assert config.databases["default"].type == "csv"
    assert config.databases["registry"].type == "sql"
    assert config.encryption.enabled is True
    assert config.policies.allowed_images, "the sample should show allowed_images"
    documented = _table_keys("node-operator.md")
    assert documented, "node-operator.md has no settings table"
    # the vantage6 table names keys that are ignored or refused rather than fields
    unknown = documented - set(NodeConfig.model_fields) - set(NODE_RULES)
    assert not unknown, f"node-operator.md documents keys NodeConfig lacks: {unknown}"


@pytest.mark.parametrize("block", _marked("yaml", "node-network"), ids=_ids)
def test_network_node_sample_is_relayed(block: Block, tmp_path: Path, clean_env: None) -> None:
    from v6lib.config import load_node_config
    from v6lib.node.options import NodeOptions
    from v6lib.node.relays import open_relays
    from v6lib.rules.network_access import network_endpoint, uri_password

    path = tmp_path / "hospital-a.yaml"
    path.write_text(block.code, encoding="utf-8")
    options = NodeOptions.from_config(load_node_config(path))
    network = [db for db in options.databases.values() if network_endpoint(db.uri)]
    assert network, "the sample should show a network database"
    relays = open_relays(1, network, options.allowlist, directory=tmp_path / "relays",
                         container_dir="/mnt/relays",
                         services=dict.fromkeys(options.docker_services, "192.0.2.1"))
    try:
        for before, after in zip(network, relays.databases, strict=True):
            assert network_endpoint(after.uri) is not None
            assert str(network_endpoint(after.uri)).startswith("127.0.0.1:160")
            if before.uri.startswith("postgresql"):
                assert uri_password(after.uri) is None
                assert relays.environment["PGPASSFILE"] == "/mnt/relays/pgpass"
    finally:
        relays.close()


@pytest.mark.parametrize("block", _marked("yaml", "server-config"), ids=_ids)
def test_server_config_sample_loads(block: Block, tmp_path: Path, clean_env: None) -> None:
    from v6lib.config import load_server_config

    path = tmp_path / "myserver.yaml"
    path.write_text(block.code, encoding="utf-8")
    config = load_server_config(path)
    assert config.name == "myserver"
    assert config.uri.startswith("postgresql+psycopg://")
    assert config.password_policy.min_length == 8
    assert config.workers == 2 and config.threads == 8
    _serve_and_log_in(path, tmp_path)


@pytest.mark.parametrize("block", _marked("yaml", "server-instance"), ids=_ids)
def test_instance_config_sample_loads(block: Block, tmp_path: Path, clean_env: None) -> None:
    from v6lib.config import load_server_config

    path = tmp_path / "v6.yaml"
    path.write_text(block.code, encoding="utf-8")
    config = load_server_config(path)
    assert config.uri.startswith("postgresql+psycopg://")
    assert config.jwt_secret_key is None and config.jwt_secret_file is not None
    assert [str(net) for net in config.trusted_proxies] == ["10.0.0.10/32"]


def _serve_and_log_in(path: Path, tmp_path: Path) -> None:
    """The sample's settings start a server (on SQLite here) and its root user logs in."""
    import falcon.testing

    from v6lib.config import load_server_config
    from v6lib.server.app import create_app
    from v6lib.server.auth.passwords import TEST_COST

    config = load_server_config(path, uri=f"sqlite:///{tmp_path / 'sample.sqlite'}",
                                logging={"level": "INFO", "file": str(tmp_path / "s.log")})
    assert config.root_password is not None, "the sample should set root_password"
    app = create_app(config, kdf_cost=TEST_COST, announce=lambda result, name: None)
    try:
        client = falcon.testing.TestClient(app)
        api = config.api_path
        assert client.simulate_get(f"{api}/health").json["status"] == "ok"
        login = client.simulate_post(f"{api}/token/user", json={
            "username": config.root_username,
            "password": config.root_password.get_secret_value()})
        assert login.status_code == 200, login.text
        assert login.json["access_token"]
    finally:
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()


@pytest.mark.parametrize("block", _marked("yaml", "server-import"), ids=_ids)
def test_import_sample_imports(block: Block, tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from v6lib.config import ServerConfig
    from v6lib.server.app import create_app
    from v6lib.server.auth.passwords import TEST_COST
    from v6lib.server.db.models import Collaboration, Organization, User
    from v6lib.server.importer import import_file

    path = tmp_path / "entities.yaml"
    path.write_text(block.code, encoding="utf-8")
    config = ServerConfig(uri=f"sqlite:///{tmp_path / 'import.sqlite'}",
                          root_password="Docs-root-pw-1", jwt_secret_key="i" * 40)
    app = create_app(config, kdf_cost=TEST_COST, announce=lambda result, name: None)
    try:
        for _ in range(2):  # documented as idempotent by name
            with app.v6_state.session_factory() as session:
                report = import_file(session, path, kdf_cost=TEST_COST)
                session.commit()
        assert report.organizations and report.collaborations
        with app.v6_state.session_factory() as session:
            for model, name in [(Organization, report.organizations[0]),
                                (Collaboration, report.collaborations[0])]:
                count = session.scalar(select(func.count()).select_from(model)
                                       .where(model.name == name))
                assert count == 1, f"{model.__name__} {name!r} imported {count} times"
            for username in report.users:
                assert session.scalar(select(User).where(User.username == username))
    finally:
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()


# ---------------------------------------------------------------- algorithm examples
SITES = [pd.DataFrame({"age": [30, 40, 50], "bmi": [20.0, 25.0, 30.0]}),
         pd.DataFrame({"age": [60, 70], "bmi": [22.0, 24.0]})]


@pytest.mark.parametrize("block", _marked("python", "test-mock"), ids=_ids)
def test_algorithm_module_runs_on_the_mock_network(block: Block, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from v6lib.errors import AlgorithmError
    from v6lib.mock import MockNetwork

    name = f"docs_algorithm_{block.line}"
    (tmp_path / f"{name}.py").write_text(block.code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    try:
        with MockNetwork(module, SITES) as network:
            parts = network.run("partial_average", kwargs={"column": "age"})
            [result] = network.run("central_average", kwargs={"column": "bmi"})
            # The documented projection: a column the data lacks is named, with the others.
            with pytest.raises(AlgorithmError, match=r"(?s)height.*age"):
                network.run("partial_average", kwargs={"column": "height"})
    finally:
        sys.modules.pop(name, None)
    assert parts == [{"sum": 120.0, "count": 3}, {"sum": 130.0, "count": 2}]
    pooled = pd.concat(SITES)["bmi"].mean()
    assert result["average"] == pytest.approx(pooled, rel=1e-12)


@pytest.mark.parametrize("block", _marked("python", "test-pytest"), ids=_ids)
def test_pytest_example_passes_under_pytest(block: Block, tmp_path: Path) -> None:
    for index, frame in enumerate(SITES):
        frame.to_csv(tmp_path / f"site_{'ab'[index]}.csv", index=False)
    (tmp_path / "test_from_docs.py").write_text(block.code, encoding="utf-8")
    # A project of its own, as an algorithm package is: the plugin must come from v6lib.
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n", encoding="utf-8")
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(EXAMPLES / "average"),
                                          os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), "-c", str(tmp_path / "pytest.ini"), "test_from_docs.py"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout


# ---------------------------------------------------------------- Dockerfiles
def _instructions(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("block", _marked("dockerfile", ""), ids=_ids)
def test_dockerfile_sample_matches_the_example_image(block: Block) -> None:
    check_dockerfile(block.code)


def check_dockerfile(text: str) -> None:
    """``text`` builds like ``examples/average/Dockerfile``: local base image, the wrapper as
    command, ``PKG_NAME`` naming the package it copies, the same offline install."""
    reference = _instructions((EXAMPLES / "average" / "Dockerfile").read_text(encoding="utf-8"))
    sample = _instructions(text)
    base = ["ARG BASE_IMAGE=v6lib-base:latest", "FROM ${BASE_IMAGE}"]
    assert sample[:2] == reference[:2] == base, sample[:2]
    assert sample[-1] == reference[-1] == 'CMD ["python3", "-m", "v6lib.wrappers"]', sample[-1]
    [pkg] = [line.removeprefix("ENV PKG_NAME=") for line in sample
             if line.startswith("ENV PKG_NAME=")]
    assert f"COPY {pkg} /algorithm/{pkg}" in sample, f"PKG_NAME={pkg} is not the copied package"
    install = [line for line in reference if line.startswith("RUN ")]
    assert [line for line in sample if line.startswith("RUN ")] == install
    # The same steps as the example, with only the package name changed.
    assert [line.replace(pkg, "v6_average") for line in sample] == reference
