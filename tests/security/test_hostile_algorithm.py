"""An algorithm that attacks its node through its output file, in real Docker containers.

A real server and a node with the Docker runtime (running as root, its containers as
``nobody`` without a network) run the ``v6-probe`` image with the attack below in
``V6_PROBE``. The algorithm deletes its ``OUTPUT_FILE``, leaves something else in its
place and exits 0: a symbolic link to a root-only file of the host, to another run's
decrypted input, to ``/dev/zero``; a named pipe; a hard link; a sparse file of 10 GiB.
Each run must end "unexpected output" with the rule it broke, nothing of the linked
files may reach the server, and the node must go on running tasks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker_support import BASE_IMAGE, PROBE_IMAGE, cleanup_node
from tests.integration.conftest import (
    LiveServer,
    ThreadNode,
    make_federation,
    node_options,
    wait_statuses,
)
from tests.security.conftest import NodeSite
from v6lib.node.run_files import run_paths
from v6lib.node.runtime.docker import DockerRuntime
from v6lib.schemas.run_status import RunStatus

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]

LIMIT = 1024 * 1024  # the node's max_output_bytes in these tests
UNEXPECTED = RunStatus.UNEXPECTED_OUTPUT.value
TERMINAL = {s.value for s in RunStatus if s.is_terminal}
RULE = "the node only reads regular files the algorithm wrote itself"

# What the v6-probe containers run: the task's method says which attack.
ATTACK = r"""
import json, os, time
task = json.load(open(os.environ["INPUT_FILE"]))
how, kw = task.get("method"), task.get("kwargs", {})
out = os.environ["OUTPUT_FILE"]
if how == "hold":  # a victim run: sits on its decrypted input
    print("holding my input", flush=True); time.sleep(600)
elif how == "echo":
    json.dump({"echo": kw.get("value")}, open(out, "w"))
else:
    if os.path.lexists(out):
        os.unlink(out)
    if how == "link":
        os.symlink(kw["target"], out)
    elif how == "fifo":
        os.mkfifo(out)
    elif how == "hard link":
        mine = os.path.join(os.path.dirname(out), "mine.json")
        json.dump({"mine": True}, open(mine, "w"))
        os.link(mine, out)
    elif how == "sparse":
        with open(out, "wb") as fh:
            fh.truncate(10 * 1024 ** 3)
    print("output replaced:", how, flush=True)
"""


class Site(NodeSite):

    def task(self, method: str, **kwargs: Any) -> dict[str, Any]:
        return self.fed.root.task.create(
            collaboration=self.fed.collaboration, organizations=[self.org],
            name=f"attack {method}", image=PROBE_IMAGE,
            input_={"method": method, "kwargs": kwargs})

    def run_of(self, task: dict[str, Any]) -> dict[str, Any]:
        [run] = self.fed.root.run.from_task(task["id"])
        return run

    def ended(self, task: dict[str, Any]) -> dict[str, Any]:
        wait_statuses(self.fed.root, task["id"], TERMINAL, timeout=90)
        return self.run_of(task)


@pytest.fixture(scope="module")
def site(live_server: LiveServer, scenario_package: Path, docker_client: Any,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    for image in (PROBE_IMAGE, BASE_IMAGE):
        docker_client.images.get(image)
    fed = make_federation(live_server, 1, prefix="hostile")
    options = node_options(fed, 0, tmp_path_factory.mktemp("hostile-node"),
                           scenario_package=scenario_package, runtime="docker",
                           allowed_images=(PROBE_IMAGE,), algorithm_env={"V6_PROBE": ATTACK},
                           max_output_bytes=LIMIT)
    node = ThreadNode(options, runtime=DockerRuntime(fed.names[0], check_image=BASE_IMAGE))
    fed.nodes.append(node)
    try:
        yield Site(fed, node)
    finally:
        fed.stop_nodes()
        assert cleanup_node(docker_client, node.runtime) == []


def _assert_nothing_leaked(run: dict[str, Any], *secrets: str) -> None:
    assert run["result"] is None and not run.get("result_size"), run
    shown = json.dumps(run)
    for secret in secrets:
        assert secret not in shown, f"{secret!r} reached the server: {shown}"


def test_output_links_to_host_files_are_never_followed(site: Site, tmp_path: Path) -> None:
    # Prepare: a root-only file of the host, and another run holding its decrypted input
    host_secret = f"HOST-SECRET-{uuid.uuid4().hex}"
    secret_file = tmp_path / "host-secret.json"
    secret_file.write_text(json.dumps({"secret": host_secret}))
    secret_file.chmod(0o600)
    input_secret = f"VICTIM-INPUT-{uuid.uuid4().hex}"
    victim = site.task("hold", secret=input_secret)
    wait_statuses(site.fed.root, victim["id"], {RunStatus.ACTIVE.value}, timeout=90)
    victim_run = site.run_of(victim)
    victim_input = run_paths(site.node.options.task_dir, victim["id"],
                             victim_run["id"]).input_file
    assert input_secret in victim_input.read_text()  # the target is really there
    try:
        # Execute: three algorithms leave links where their output should be
        attacks = {target: site.task("link", target=str(target))
                   for target in (secret_file, victim_input, Path("/dev/zero"))}
        ended = {target: site.ended(task) for target, task in attacks.items()}
    finally:
        site.fed.root.task.kill(victim["id"])
    # Assert: each ended on the rule, and neither secret reached the server
    for target, run in ended.items():
        assert run["status"] == UNEXPECTED, (target, run)
        assert run["reason"] == f"the output file is a symbolic link; {RULE}", run
        assert "output replaced: link" in (run["log"] or "")
        _assert_nothing_leaked(run, host_secret, input_secret)
    wait_statuses(site.fed.root, victim["id"], {RunStatus.KILLED.value}, timeout=30)
    _assert_nothing_leaked(site.run_of(victim), input_secret)


@pytest.mark.parametrize(("method", "reason"), [
    ("fifo", f"the output file is a named pipe (FIFO); {RULE}"),
    ("hard link", f"the output file has 2 hard links; {RULE}"),
    ("sparse", f"the output file holds {10 * 1024 ** 3} bytes, more than the {LIMIT} bytes "
               "the node accepts"),
])
def test_a_pipe_a_hard_link_or_a_giant_ends_the_run_and_the_node_carries_on(
        site: Site, method: str, reason: str) -> None:
    run = site.ended(site.task(method))
    assert (run["status"], run["reason"]) == (UNEXPECTED, reason), run
    _assert_nothing_leaked(run)
    following = site.task("echo", value=f"still working after a {method}")
    [result] = site.fed.root.wait_for_results(following["id"], timeout=90)
    assert result == {"echo": f"still working after a {method}"}
