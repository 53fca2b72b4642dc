"""The demo's configurations are valid for the real loaders, and its report is honest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from v6lib.config import load_node_config, load_server_config
from v6lib.demo import DemoFederation, DemoOptions, DemoReport
from v6lib.errors import ConfigurationError


def _federation(tmp_path: Path, **options: object) -> DemoFederation:
    return DemoFederation(DemoOptions(workdir=tmp_path, echo=lambda text: None,
                                      **options))  # type: ignore[arg-type]


def test_server_config_loads(tmp_path: Path) -> None:
    federation = _federation(tmp_path)
    path = federation._write_yaml(tmp_path / "server.yaml", federation.server_config())
    config = load_server_config(path)
    assert config.port == federation.port and config.host == "127.0.0.1"
    assert str(config.uri).startswith(f"sqlite:///{tmp_path}")
    assert config.root_password is not None
    assert config.root_password.get_secret_value() == federation.root_password
    assert path.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("encrypted", [False, True])
def test_node_config_loads(tmp_path: Path, encrypted: bool) -> None:
    federation = _federation(tmp_path, encrypted=encrypted)
    data = tmp_path / "site_1.csv"
    data.write_text("age\n1\n")
    path = federation._write_yaml(tmp_path / "node.yaml",
                                  federation.node_config(1, "key-1", data))
    config = load_node_config(path)
    assert config.name == "demo-node-1" and config.runtime == "process"
    assert config.api_key.get_secret_value() == "key-1"
    assert config.databases["default"].uri == str(data)
    assert config.databases["default"].type == "csv"
    assert config.policies.allowed_images == [r"v6\-average:latest"]
    assert config.server_api_url == f"http://127.0.0.1:{federation.port}/api"
    assert config.encryption.enabled is encrypted
    assert (config.encryption.private_key is not None) is encrypted


def test_nodes_allow_exactly_the_image_asked_for(tmp_path: Path) -> None:
    from v6lib.rules.node_policy import image_allowed

    federation = _federation(tmp_path, image="my-algo.v2:dev")
    patterns = tuple(federation.node_config(1, "key-1", tmp_path / "a.csv")["policies"][
        "allowed_images"])

    assert image_allowed("my-algo.v2:dev", patterns, ())
    assert not image_allowed("my-algoXv2:dev", patterns, ())
    assert not image_allowed("v6-average:latest", patterns, ())


def test_docker_nodes_need_no_algorithm_on_their_path(tmp_path: Path) -> None:
    # The image holds the algorithm: an installed v6lib without the examples can run one.
    assert "PYTHONPATH" not in _federation(tmp_path, runtime="docker")._child_env()
    assert "PYTHONPATH" in _federation(tmp_path, runtime="process")._child_env()


def test_own_data_files_become_the_nodes_databases_typed_by_suffix(tmp_path: Path) -> None:
    files = []
    for number, suffix in enumerate((".csv", ".parquet", ".xlsx"), start=1):
        (tmp_path / f"site_{number}{suffix}").write_bytes(b"x")
        files.append(tmp_path / f"site_{number}{suffix}")
    federation = _federation(tmp_path, data=tuple(files))

    types = []
    for number, data in enumerate(files, start=1):
        path = federation._write_yaml(tmp_path / f"node{number}.yaml",
                                      federation.node_config(number, "key", data))
        types.append(load_node_config(path).databases["default"].type)
    assert types == ["csv", "parquet", "excel"]


def test_own_data_needs_one_existing_file_per_organization(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("age\n1\n")
    with pytest.raises(ConfigurationError, match="one data file per organization: 3, not 1"):
        _federation(tmp_path, data=(tmp_path / "a.csv",))
    with pytest.raises(ConfigurationError, match="not found"):
        _federation(tmp_path, data=(tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"))


def test_unknown_runtime_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="runtime"):
        _federation(tmp_path, runtime="kubernetes")


def test_given_workdir_is_not_deleted(tmp_path: Path) -> None:
    federation = _federation(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    federation.stop()
    assert (tmp_path / "keep.txt").exists()


def test_report_tolerance() -> None:
    def report(federated: float, central: float) -> DemoReport:
        return DemoReport(workdir=Path("/x"), port=1, task_id=1, federated=federated,
                          central=central, count=3, timings={}, researcher_password="p",
                          root_password="r", collaboration_id=1, organization_ids=[2])

    assert report(50.0, 50.0 + 1e-10).ok
    assert not report(50.0, 50.0 + 1e-8).ok
    document = report(1.0, 1.0).as_dict()
    assert yaml.safe_dump(document)  # plain data only
    assert document["difference"] == 0.0 and document["username"] == "researcher"


def test_a_missing_extra_is_named_before_anything_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("gunicorn", "docker") else
                        found(name, *a))
    federation = _federation(tmp_path, runtime="docker")

    with pytest.raises(ConfigurationError, match=r"lacks gunicorn, docker "
                                                 r"\(v6lib\[node,server\]\).*\[algorithm\]"):
        federation.start()
    assert not (tmp_path / "server").exists()  # nothing was written or started
