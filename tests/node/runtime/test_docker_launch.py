"""Which command a container of an image gets: the launcher first, unless the image runs
v6lib's wrapper (which relays by itself)."""

from __future__ import annotations

import pytest

from v6lib.node.runtime.docker_launch import (
    LAUNCH_DIR,
    launch_command,
    launch_mounts,
    start_problem,
)

LAUNCH = ["-I", "-S", f"{LAUNCH_DIR}/launcher.py", "--"]
VANTAGE6_CMD = ["/bin/sh", "-c", 'python -c "from vantage6.algorithm.tools.wrap import '
                'wrap_algorithm; wrap_algorithm()"']


@pytest.mark.parametrize("config, command", [
    ({"Cmd": VANTAGE6_CMD}, VANTAGE6_CMD),  # vantage6's template: shell form CMD
    ({"Entrypoint": ["/entry", "-x"], "Cmd": ["run"]}, ["/entry", "-x", "run"]),
    ({"Entrypoint": ["/entry"], "Cmd": None}, ["/entry"]),
    ({}, []),  # nothing to run: the launcher says so
])
def test_other_images_start_through_the_launcher(config: dict, command: list[str]) -> None:
    assert launch_command(config) == {"entrypoint": ["python3"],
                                      "command": [*LAUNCH, *command]}


@pytest.mark.parametrize("config", [
    {"Cmd": ["python3", "-m", "v6lib.wrappers"]},
    {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["exec python -m v6lib.wrappers my_package"]},
])
def test_images_running_v6libs_wrapper_start_as_they_are(config: dict) -> None:
    assert launch_command(config) == {}


def test_the_launcher_and_its_relay_are_mounted_read_only() -> None:
    mounts = {m["Target"]: m for m in launch_mounts()}
    assert sorted(mounts) == [f"{LAUNCH_DIR}/launcher.py", f"{LAUNCH_DIR}/proxy_bridge.py"]
    assert all(m["ReadOnly"] and m["Type"] == "bind" for m in mounts.values())
    assert all(m["Source"].endswith(target.rsplit("/", 1)[1]) for target, m in mounts.items())


def test_a_missing_python3_is_named_and_other_errors_are_not() -> None:
    engine = ('400 Client Error: failed to create task for container: exec: "python3": '
              'executable file not found in $PATH: unknown')
    assert "has no python3 on its PATH" in (start_problem(RuntimeError(engine), "r/x:1") or "")
    assert start_problem(RuntimeError("409 Conflict"), "r/x:1") is None
