"""``v6 demo`` as a user runs it: a subprocess in a fresh HOME, checked against pandas."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from v6lib.cli import main


def _v6() -> list[str]:
    script = Path(sys.executable).with_name("v6")
    return [str(script)] if script.exists() else [
        sys.executable, "-c", "from v6lib.cli import main; main(prog_name='v6')"]


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    env.pop("XDG_DATA_HOME", None)
    return subprocess.run([*_v6(), "demo", "--json", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=280, check=False)


@pytest.mark.integration
@pytest.mark.slow
def test_demo_federated_mean_equals_central_check(tmp_path: Path) -> None:
    done = _demo(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["federated_mean"] == pytest.approx(report["central_mean"], abs=1e-9)
    assert report["count"] == 1200 + 450 + 1900
    # The human lines print the same two numbers.
    federated = re.search(r"federated mean of 'age': (\S+)", done.stderr)
    central = re.search(r"central check \(pandas\):\s+(\S+)", done.stderr)
    assert federated and central
    assert float(federated.group(1)) == pytest.approx(float(central.group(1)), abs=1e-9)
    assert set(report["timings"]) == {"server_start", "nodes_ready", "task_round_trip"}
    # Everything was cleaned up: no demo directory left behind.
    assert not list(tmp_path.glob("v6-demo-*"))
    for pid in report["pids"].values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.integration
@pytest.mark.slow
def test_encrypted_demo_gives_the_same_answer(tmp_path: Path) -> None:
    done = _demo(tmp_path, "--encrypted", "--column", "bmi")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert "encrypted collaboration" in done.stderr


@pytest.mark.docker
@pytest.mark.integration
@pytest.mark.slow
def test_demo_with_docker_runtime(tmp_path: Path) -> None:
    done = _demo(tmp_path, "--runtime", "docker")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert "(docker runtime)" in done.stderr


def test_demo_help_lists_the_options() -> None:
    result = CliRunner().invoke(main, ["demo", "--help"])
    assert result.exit_code == 0
    for option in ("--runtime", "--keep", "--json", "--timeout"):
        assert option in result.output


def test_demo_rejects_unknown_runtime() -> None:
    result = CliRunner().invoke(main, ["demo", "--runtime", "kubernetes"])
    assert result.exit_code == 2
    assert "kubernetes" in result.output


def _fake_federation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, federated: float,
                     central: float) -> None:
    from v6lib import demo as demo_package
    from v6lib.demo import DemoReport

    class FakeFederation:
        def __init__(self, options: object) -> None:
            self.options = options

        def run(self) -> DemoReport:
            return DemoReport(
                workdir=tmp_path, port=4242, task_id=1, federated=federated, central=central,
                count=10, timings={"server_start": 1.0, "nodes_ready": 2.0,
                                   "task_round_trip": 0.5},
                researcher_password="pw-1", root_password="root-1", collaboration_id=1,
                organization_ids=[2, 3, 4], pids={"server": 999999, "demo-node-1": 999998})

    monkeypatch.setattr(demo_package, "DemoFederation", FakeFederation)


def test_demo_prints_both_values_and_timings(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    _fake_federation(monkeypatch, tmp_path, 50.25, 50.25)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "federated mean of 'age': 50.25" in result.output
    assert "central check (pandas):  50.25" in result.output
    assert "server start 1.00 s, nodes ready 2.00 s, task round-trip 0.50 s" in result.output


def test_demo_mismatch_exits_non_zero(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_federation(monkeypatch, tmp_path, 50.25, 50.25 + 1e-6)
    result = CliRunner().invoke(main, ["demo", "--json"])
    assert result.exit_code == 1
    assert "MISMATCH" in result.output


def test_demo_keep_writes_a_stop_script(monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    _fake_federation(monkeypatch, tmp_path, 1.0, 1.0)
    result = CliRunner().invoke(main, ["demo", "--keep"])
    assert result.exit_code == 0, result.output
    script = (tmp_path / "stop.sh").read_text()
    assert "kill -TERM -999999" in script and "kill -TERM -999998" in script
    assert f"rm -rf '{tmp_path}'" in script
    assert 'client.authenticate("researcher", "pw-1")' in result.output
    assert "web UI  http://127.0.0.1:4242/ui" in result.output
    assert f"sh {tmp_path / 'stop.sh'}" in result.output
