"""Run the documentation's examples so the guides cannot drift from the code.

Fenced blocks are picked by their info string:

* ```` ```python test ```` runs, in page order and one namespace per page, against a real
  server in a thread (fresh database per page) with ``V6_PORT``, ``V6_USERNAME`` and
  ``V6_PASSWORD`` (root) set in the environment and ``examples/average`` importable;
* ```` ```python test-federation ```` runs against ``v6 demo --keep`` (a server with three
  real nodes), logged in as the demo researcher (integration); ``client`` starts out as
  that researcher's logged-in ``Client``, as the quickstart's console output shows;
* ```` ```console test ```` runs every ``$ v6 ...`` line and expects exit code 0;
* every ``python`` block must at least parse, and every ``$ v6 <command>`` line in
  any ``console`` block must name an existing command (checked through ``--help``).

YAML, Dockerfile, ``python test-mock``/``test-pytest``/``no-test`` blocks and the rule that
every python and yaml block carries a marker live in ``test_samples.py``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import click
import pytest
from click.testing import CliRunner

from v6lib.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS.parent / "examples"
FENCE = re.compile(r"^```([\w-]*)[ \t]*([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
ROOT_PASSWORD = "Docs-root-pw-1"


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    marker: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(DOCS.parent)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(page, line, match.group(1), match.group(2), match.group(3)))
    return found


def _pages(marker: str, language: str = "python") -> list[Path]:
    return sorted({b.page for b in blocks() if b.language == language and b.marker == marker})


def _run_page(page: Path, marker: str, preset: dict[str, object] | None = None) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}", **(preset or {})}
    for block in blocks():
        if block.page == page and block.language == "python" and block.marker == marker:
            code = compile(block.code, block.where, "exec")
            exec(code, namespace)


# ---------------------------------------------------------------- a live server per page
class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def live_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    from v6lib.config import ServerConfig
    from v6lib.server.app import create_app
    from v6lib.server.auth.passwords import TEST_COST

    config = ServerConfig(uri=f"sqlite:///{tmp_path / 'docs.sqlite'}",
                          root_password=ROOT_PASSWORD, jwt_secret_key="d" * 40)
    app = create_app(config, kdf_cost=TEST_COST, announce=lambda result, name: None)
    httpd = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer,
                        handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    port = httpd.server_address[1]
    monkeypatch.setenv("V6_PORT", str(port))
    monkeypatch.setenv("V6_USERNAME", "root")
    monkeypatch.setenv("V6_PASSWORD", ROOT_PASSWORD)
    monkeypatch.chdir(tmp_path)
    # The algorithm developer guide imports the example package, as a checkout allows.
    monkeypatch.syspath_prepend(str(EXAMPLES / "average"))
    try:
        yield port
    finally:
        httpd.shutdown()
        httpd.server_close()
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()


@pytest.mark.parametrize("page", _pages("test"), ids=lambda p: p.name)
def test_python_examples(page: Path, live_server: int) -> None:
    _run_page(page, "test")


# ---------------------------------------------------------------- the demo federation
@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    home = tmp_path_factory.mktemp("demo-home")
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", "from v6lib.cli import main; main(prog_name='v6')",
         "demo", "--keep", "--json"], capture_output=True, text=True, env=env, timeout=280,
        check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    try:
        yield report
    finally:
        subprocess.run(["sh", str(report["stop_script"])], check=False, timeout=60)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("page", _pages("test-federation"), ids=lambda p: p.name)
def test_federation_examples(page: Path, federation: dict[str, object],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("V6_PORT", str(federation["port"]))
    monkeypatch.setenv("V6_USERNAME", str(federation["username"]))
    monkeypatch.setenv("V6_PASSWORD", str(federation["password"]))
    # Pages that show the login in a console block (the quickstart) continue from it.
    from v6lib.client import Client

    client = Client("http://127.0.0.1", int(str(federation["port"])), "/api")
    client.authenticate(str(federation["username"]), str(federation["password"]))
    _run_page(page, "test-federation", {"client": client})


# ---------------------------------------------------------------- shell commands
def _v6_lines(block: Block) -> list[list[str]]:
    lines = []
    text = block.code.replace("\\\n", " ")
    for raw in text.splitlines():
        raw = raw.strip()
        if raw.startswith("$ v6 "):
            lines.append(shlex.split(raw[2:])[1:])
    return lines


def _console_blocks(marker: str | None = None) -> list[Block]:
    return [b for b in blocks() if b.language == "console"
            and (marker is None or b.marker == marker)]


@pytest.mark.parametrize("block", _console_blocks("test"), ids=lambda b: b.where)
def test_console_examples(block: Block) -> None:
    for argv in _v6_lines(block):
        result = CliRunner().invoke(main, argv)
        assert result.exit_code == 0, f"{block.where}: v6 {' '.join(argv)}\n{result.output}"


def _command_path(argv: list[str]) -> list[str]:
    """The subcommand names at the start of ``argv`` (stops at options and arguments)."""
    path: list[str] = []
    command: click.Command = main
    ctx = click.Context(main)
    for token in argv:
        if not isinstance(command, click.Group) or token.startswith("-"):
            break
        sub = command.get_command(ctx, token)
        if sub is None:
            raise AssertionError(f"`v6 {' '.join([*path, token])}` is not a command")
        path.append(token)
        command = sub
    return path


@pytest.mark.parametrize("block", _console_blocks(), ids=lambda b: b.where)
def test_documented_commands_exist(block: Block) -> None:
    for argv in _v6_lines(block):
        path = _command_path(argv)
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0, f"{block.where}: v6 {' '.join(path)} --help failed"


@pytest.mark.parametrize("block", [b for b in blocks() if b.language == "python"],
                         ids=lambda b: b.where)
def test_every_python_block_parses(block: Block) -> None:
    ast.parse(block.code, filename=block.where)


def test_the_markers_are_used() -> None:
    assert _pages("test"), "no ```python test blocks found in docs/"
    assert _console_blocks("test"), "no ```console test blocks found in docs/"


LINK = re.compile(r"\]\(([^)#\s]+\.md)(#[^)]*)?\)")


@pytest.mark.parametrize("page", sorted(DOCS.rglob("*.md")), ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    missing = [target for target, _ in LINK.findall(text)
               if "://" not in target and not (page.parent / target).is_file()]
    assert not missing, f"{page.name} links to missing pages: {missing}"
