"""``v6 dev`` and ``v6 test`` on a real demo network: created, started, tested, removed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tests.cli.conftest import free_port
from v6lib.cli import main
from v6lib.config import load_node_config, load_server_config


def v6(*argv: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(argv))
    assert result.exit_code == code, f"v6 {' '.join(argv)}\n{result.output}"
    return result.output


def test_create_writes_configurations_where_server_and_node_find_them(home: Path) -> None:
    extra = home / "extra.yaml"
    extra.write_text("share_algorithm_logs: false\n")
    dataset = home / "extra.csv"
    dataset.write_text("x\n1\n")
    out = v6("dev", "create-demo-network", "-n", "lab", "--num-nodes", "4",
             "-p", "7777", "--extra-node-config", str(extra), "--add-dataset", "more",
             str(dataset))
    assert "v6 dev start-demo-network -n lab" in out
    config_dir = home / "config" / "v6lib"
    server = load_server_config(config_dir / "server" / "lab.yaml")
    assert server.port == 7777 and server.name == "lab"
    names = [load_node_config(config_dir / "node" / f"lab_node_{i}.yaml") for i in range(1, 5)]
    assert [n.name for n in names] == [f"lab_node_{i}" for i in range(1, 5)]
    assert all(n.share_algorithm_logs is False and set(n.databases) == {"default", "more"}
               for n in names)
    assert len({n.api_key.get_secret_value() for n in names}) == 4
    record = home / "data" / "v6lib" / "dev" / "lab" / "network.yaml"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert yaml.safe_load(record.read_text())["username"] == "dev_admin"
    assert "lab_node_4" in v6("node", "list") and "lab" in v6("server", "list")
    again = v6("dev", "create-demo-network", "-n", "lab", code=78)
    assert "remove it first with `v6 dev remove-demo-network -n lab`" in again
    refused = v6("dev", "create-demo-network", "-n", "x", "--ui-port", "7600", code=64)
    assert "--ui-port: not supported: v6lib has no user interface" in refused
    assert "removed" in v6("dev", "remove-demo-network", "-n", "lab")
    assert not (config_dir / "server" / "lab.yaml").exists() and not record.exists()


@pytest.mark.integration
@pytest.mark.slow
def test_demo_network_lifecycle_with_feature_test_and_client_script(home: Path) -> None:
    v6("dev", "create-demo-network", "-n", "net", "-p", str(free_port()))
    started = v6("dev", "start-demo-network", "-n", "net")
    assert "is up at" in started and started.count("running (pid") == 4
    tested = v6("test", "feature-test", "-n", "net")
    assert "feature test passed: 7 of 7 checks ok" in tested
    assert "subtasks: central_average" in tested

    script = home / "script.py"
    script.write_text(
        "task = client.task.create(collaboration=collaboration_id,\n"
        "    organizations=organization_ids, image='v6-average:latest',\n"
        "    input_={'method': 'partial_average', 'kwargs': {'column': 'bmi'}})\n"
        "counts = [r['count'] for r in client.wait_for_results(task['id'])]\n"
        "assert counts == [1200, 450, 1900], counts\n"
        "print('counts ok')\n")
    passed = v6("test", "client-script", "-n", "net", "--script", str(script))
    assert "counts ok" in passed and "test passed" in passed
    script.write_text("assert False, 'the check failed'\n")
    failed = v6("test", "client-script", "-n", "net", "--script", str(script), code=1)
    assert "test FAILED" in failed
    refused = v6("test", "client-script", "-n", "net", "--task-arguments", "{}",
                 "--script", str(script), code=2)
    assert "cannot be given together" in refused

    busy = v6("dev", "remove-demo-network", "-n", "net", code=1)
    assert "is running" in busy
    stopped = v6("dev", "stop-demo-network", "-n", "net")
    assert stopped.count("stopped") == 4
    v6("dev", "remove-demo-network", "-n", "net")
    assert "no server configurations" in v6("server", "list")


@pytest.mark.integration
@pytest.mark.slow
def test_integration_test_creates_tests_and_removes_a_network(home: Path) -> None:
    out = v6("test", "integration-test", "-n", "it", "-p", str(free_port()))
    assert "created demo network 'it'" in out and "feature test passed" in out
    assert "removed" in out
    assert "no node configurations" in v6("node", "list")
