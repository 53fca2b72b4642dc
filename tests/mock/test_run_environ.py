"""Each run's own ``os.environ`` and temporary directory; nothing changes outside runs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from v6lib.mock import run_environ
from v6lib.mock.run_environ import RunEnvironment
from v6lib.mock.run_scope import RunScope, entered


@pytest.fixture(autouse=True)
def _installed() -> None:
    run_environ.install()


def _scope(environ: RunEnvironment, home: Path = Path("/run/home")) -> RunScope:
    return RunScope(organization_id=1, run_id=1, environ=environ, home=home)


def test_a_run_reads_and_writes_its_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INPUT_FILE", "/process/input")
    environ = RunEnvironment({"INPUT_FILE": "/run/input", "HOME": "/run/home"})
    with entered(_scope(environ)):
        assert os.environ["INPUT_FILE"] == "/run/input"
        assert os.getenv("INPUT_FILE") == "/run/input"
        assert os.path.expanduser("~") == "/run/home"
        os.environ["RESULT_HINT"] = "set in the run"
        os.environ.setdefault("OTHER", "x")
        del os.environ["INPUT_FILE"]
        assert "INPUT_FILE" not in os.environ
        assert os.environ.copy()["RESULT_HINT"] == "set in the run"
        assert "RESULT_HINT" in repr(os.environ)
        with pytest.raises(KeyError):
            del os.environ["INPUT_FILE"]
        with pytest.raises(TypeError):
            os.environ["NUMBER"] = 1  # type: ignore[assignment]

    assert os.environ["INPUT_FILE"] == "/process/input"
    assert "RESULT_HINT" not in os.environ and "OTHER" not in os.environ
    assert environ["RESULT_HINT"] == "set in the run"


def test_the_process_environment_shows_through_except_settings_and_shadowed_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MY_ALGORITHM_OPTION", "fast")
    monkeypatch.setenv("V6_NODE_SECRET", "never in a run")
    monkeypatch.setenv("input_file", "/lower/case/shadow")
    environ = RunEnvironment({"INPUT_FILE": "/run/input"}, frozenset({"INPUT_FILE"}))

    with entered(_scope(environ)):
        visible = dict(os.environ)
        option = os.environ.get("MY_ALGORITHM_OPTION")

    assert option == "fast"
    assert visible["INPUT_FILE"] == "/run/input"
    assert "V6_NODE_SECRET" not in visible and "input_file" not in visible
    assert len(environ) == len(visible)


def test_outside_runs_os_environ_is_the_same_object_behaving_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = id(os.environ)
    monkeypatch.setenv("V6LIB_TEST_VARIABLE", "outside")
    assert os.environ["V6LIB_TEST_VARIABLE"] == os.getenv("V6LIB_TEST_VARIABLE") == "outside"
    monkeypatch.delenv("V6LIB_TEST_VARIABLE")
    assert "V6LIB_TEST_VARIABLE" not in os.environ
    assert id(os.environ) == before
    assert isinstance(os.environ.copy(), dict)


def test_tempfile_writes_to_the_run_home_inside_a_run(tmp_path: Path) -> None:
    outside = tempfile.gettempdir()
    with entered(_scope(RunEnvironment({}), home=tmp_path)):
        inside = tempfile.gettempdir()
        inside_bytes = tempfile.gettempdirb()
        fd, name = tempfile.mkstemp()
        os.close(fd)

    assert (inside, inside_bytes) == (str(tmp_path), os.fsencode(tmp_path))
    assert Path(name).parent == tmp_path
    assert tempfile.gettempdir() == outside != str(tmp_path)
