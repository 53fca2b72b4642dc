"""The issue's promise, as a person would live it: ``v6 demo --keep`` prints the web UI's
address, and someone new opens it and runs the demo task from the browser (gunicorn
serving the UI from the installed package, process-runtime nodes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, login

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def _v6() -> list[str]:
    script = Path(sys.executable).with_name("v6")
    return [str(script)] if script.exists() else [
        sys.executable, "-c", "from v6lib.cli import main; main(prog_name='v6')"]


def test_a_new_user_runs_the_demo_task_from_the_browser(page: Any, tmp_path: Path) -> None:
    # NOTE: the checkout under test comes first on the path of the v6 command and of the
    # servers it starts, whichever checkout the environment's v6lib was installed from.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "HOME": str(tmp_path), "TMPDIR": str(tmp_path), "PYTHONPATH": path}
    done = subprocess.run([*_v6(), "demo", "--keep", "--json"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=280, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    try:
        assert f"web UI  {report['ui']}" in done.stderr
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/ui", report["ui"])
        page.goto(report["ui"].rsplit("/ui", 1)[0] + "/")  # the bare address leads there too
        page.get_by_role("heading", name="Log in").wait_for()
        login(page, report["port"], "researcher", report["password"])
        page.get_by_role("link", name="New task").first.click()
        page.get_by_label("Image").fill("v6-average:latest")
        page.get_by_label("Method").fill("central_average")
        page.get_by_label("Keyword arguments (JSON object)").fill('{"column": "age"}')
        page.get_by_role("button", name="Create task").click()
        page.get_by_text("Finished: completed.").wait_for(timeout=120_000)
        result = json.loads(page.locator(".result pre").first.inner_text())
        assert result["average"] == pytest.approx(report["federated_mean"], abs=1e-9)
    finally:
        subprocess.run(["sh", str(Path(report["workdir"]) / "stop.sh")], check=False,
                       timeout=60)
