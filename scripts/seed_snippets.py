"""Which of vantage6's documented Python snippets work against a v6lib server.

Usage::

    python scripts/seed_snippets.py --seeds DIR --upstream-python VENV/bin/python

``DIR`` holds vantage6's documentation pages as text; ``VENV`` has
``vantage6-client==4.15.2`` (``tests/compat/conftest.py`` makes one). The pages are plain
text (code and prose run together), so a snippet here is what can be found reliably:

* every ``client.<...>(...)`` / ``Client(...)`` call with its balanced arguments, and
* every ``from vantage6... import ...`` line.

Each is classified by running it, not by reading it:

* a call runs in the upstream client's venv, logged in as root on a live v6lib server
  (:class:`v6lib.testing.LocalFederation`, process-runtime nodes), with the names the
  page's surrounding code defines (``collaboration_id``, ``task_id``, ``config``, ...)
  bound to real objects of that server. It is *as written* when the call returns without
  an exception and without an error body; *with changes* when it fails as written and
  the rewrite in ``CHANGES`` (the change a user makes, shown in the table) succeeds;
  *unsupported* otherwise, with the error it gave as the reason.
* an import is *as written* when it imports in the upstream venv (vantage6's client
  package, used against v6lib unchanged); *with changes* when the v6lib name of
  ``PORTED`` imports in this environment; *unsupported* otherwise.

Snippets with elided arguments (``...``) or prose that looks like a call are counted as
*not runnable* and left out of the three counts. Prints a Markdown table and the counts.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: a call on a client object, up to its opening parenthesis
CALL = re.compile(r"(?<![\w.])(?:client|Client)(?:\.[A-Za-z_]\w*)*\s*\(")
IMPORT = re.compile(r"from (vantage6[\w.]*) import \(?([\w, ]+)\)?")

#: snippet -> (rewritten snippet, the change), for calls that fail as written
CHANGES: dict[str, tuple[str, str]] = {
    "client.setup_encryption('/path/to/private/key')": (
        "client.setup_encryption(None)",
        "no key file in a plain collaboration (v6lib refuses vantage6's encryption format)"),
    "client.setup_encryption(config.organization_key)": (
        "client.setup_encryption(None)",
        "no key file in a plain collaboration (v6lib refuses vantage6's encryption format)"),
    "client.collaboration.create(name = collaboration_name, organizations = organization_ids,"
    " encrypted = True)": (
        "client.collaboration.create(name = collaboration_name + '-plain', "
        "organizations = organization_ids, encrypted = False)",
        "encrypted = False: vantage6's client cannot seal inputs in v6lib's format"),
    "Client(config.server_url, config.server_port, config.server_api, verbose=True)": (
        "Client(config.server_url, config.server_port, config.server_api, "
        "log_level='debug')",
        "vantage6 4.x's client takes log_level, not verbose (with any server)"),
    "client.task.create(collaboration=1, organizations=[2,3], name=\"an-awesome-task\", "
    "image=\"harbor2.vantage6.ai/demo/average\", description='', input=input_, "
    "data_format='json')": (
        "client.task.create(collaboration=1, organizations=[2,3], name='an-awesome-task', "
        "image='harbor2.vantage6.ai/demo/average', description='', input_=input_, "
        "databases=[{'label': 'default'}])",
        "vantage6 4.x's signature: input_ and databases, no data_format (with any server)"),
    "client.result.list(task=result_id)": (
        "client.result.from_task(task_id=result_id)",
        "vantage6 4.x's client has result.from_task, not result.list (with any server)"),
}

#: errors raised inside vantage6's client before anything reaches the server
CLIENT_SIDE = ("AttributeError", "TypeError", "ModuleNotFoundError", "ImportError")

#: vantage6 module -> v6lib module with the same names (docs/algorithm-developer.md)
PORTED = {
    "vantage6.algorithm.tools.decorators": "v6lib.wrappers",
    "vantage6.algorithm.tools.util": "v6lib.wrappers",
    "vantage6.tools.util": "v6lib.wrappers",
    "vantage6.algorithm.client": "v6lib.wrappers",
    "vantage6.algorithm.tools.wrap": "v6lib.wrappers",
    "vantage6.algorithm.tools.mock_client": "v6lib.mock",
}

#: runs in the upstream venv: each snippet in a fresh copy of the page's names
RUNNER = r'''
import json, sys, types, traceback
from vantage6.client import Client
given = json.load(open(sys.argv[1]))
s = given["settings"]
client = Client(s["host"], s["port"], s["path"], log_level="critical")
client.authenticate(s["username"], s["password"])
client.setup_encryption(None)
config = types.SimpleNamespace(server_url=s["host"], server_port=s["port"],
                               server_api=s["path"], username=s["username"],
                               password=s["password"], organization_key="/path/to/private/key")
names = dict(client=client, Client=Client, config=config, **s["names"])
out = {}
for key, code in given["snippets"].items():
    space = dict(names)
    try:
        value = eval(compile(code, key, "eval"), space) if "import" not in code \
            else exec(code, space)
    except BaseException as exc:
        out[key] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        continue
    if isinstance(value, dict) and {"code", "message"} <= value.keys():
        out[key] = {"ok": False, "error": f"server answered {value['code']}: "
                                          f"{value['message']}"[:300]}
    else:
        out[key] = {"ok": True}
json.dump(out, open(sys.argv[2], "w"))
'''


@dataclass
class Snippet:
    page: str
    code: str
    kind: str  # "call" or "import"
    verdict: str = ""
    reason: str = ""


def _balanced(text: str, start: int) -> int:
    depth, i = 1, start
    while i < len(text) and depth:
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return i


def extract(seeds: Path) -> list[Snippet]:
    """Every call and vantage6 import of the pages, once each, in page order."""
    found: dict[str, Snippet] = {}
    for page in sorted(seeds.glob("*.txt")):
        text = page.read_text(encoding="utf-8")
        for match in CALL.finditer(text):
            code = " ".join(text[match.start():_balanced(text, match.end())].split())
            found.setdefault(code, Snippet(page.name, code, "call"))
        for match in IMPORT.finditer(text):
            names = ", ".join(n.strip() for n in match.group(2).split(",") if n.strip())
            code = f"from {match.group(1)} import {names}"
            found.setdefault(code, Snippet(page.name, code, "import"))
    return list(found.values())


def _runnable(snippet: Snippet) -> str | None:
    """Why a call cannot be run as it stands, or None."""
    if "..." in snippet.code:
        return "elided arguments (...)"
    if not snippet.code.endswith(")") or " (" in snippet.code.split("(")[0]:
        return "prose, not code"
    if re.fullmatch(r"[\w.]+\(\)", snippet.code) and snippet.code.split(".")[-1] in (
            "create()", "update()", "change_my_password()"):
        return "arguments left out by the page"
    if snippet.code.startswith("client(") or snippet.code.startswith("Client ("):
        return "prose, not code"
    return None


def _run(upstream: Path, snippets: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        given, out, runner = Path(tmp) / "in.json", Path(tmp) / "out.json", Path(tmp) / "r.py"
        given.write_text(json.dumps({"snippets": snippets, "settings": settings}))
        runner.write_text(RUNNER)
        done = subprocess.run([str(upstream), str(runner), str(given), str(out)],
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise SystemExit(f"the upstream runner failed:\n{done.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _settings(federation: Any) -> dict[str, Any]:
    """The names the pages' code around the snippets defines, bound to real objects."""
    from v6lib.client import Client

    root = Client("http://127.0.0.1", federation.port, "/api", trust_file=None)
    root.authenticate("root", federation.PASSWORD)
    # the pages' tasks are created by an administrator of a member organization
    root.collaboration.add_organization(federation.collaboration_id,
                                        root.whoami["organization"]["id"])
    task = federation.client.task.create(
        collaboration=federation.collaboration_id,
        organizations=federation.organization_ids, name="seed", image=federation.image,
        input_={"method": "partial_sum", "kwargs": {"column": "value"}},
        databases=[{"label": "default"}])
    input_ = {"method": "partial_sum", "kwargs": {"column": "value"}}
    orgs = list(federation.organization_ids)
    # a collaboration without nodes yet, for the page's node.create
    spare = root.collaboration.create("seed spare", orgs)
    return {"host": "http://127.0.0.1", "port": federation.port, "path": "/api",
            "username": "root", "password": federation.PASSWORD,
            "names": {"collaboration_name": "seed collaboration", "organization_ids": orgs,
                      "collaboration_id": spare["id"],
                      "organization_id": orgs[0], "task_id": task["id"],
                      "result_id": task["id"], "input_": input_, "column_name": "value",
                      "ids": orgs, "org_ids": orgs, "task": task, "public_key": None,
                      "average_partial_task": task, "average_task": task}}


def _why(error: str) -> str:
    """The reason, saying whether vantage6's own client or v6lib's server refused."""
    if error.startswith(CLIENT_SIDE):
        return f"not in vantage6 4.15's client either (the page is older): {error}"
    return f"v6lib: {error}"


def _port_import(code: str) -> tuple[str, str]:
    module, names = code[len("from "):].split(" import ")
    target = PORTED.get(module)
    if target is None:
        return "unsupported", f"{module} has no v6lib counterpart"
    import importlib

    have = importlib.import_module(target)
    missing = [n.strip() for n in names.split(",") if not hasattr(have, n.strip())]
    if missing:
        return "unsupported", f"{target} has no {', '.join(missing)}"
    return "with changes", f"from {target} import {names}"


def classify(snippets: list[Snippet], upstream: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "contract" / "algorithms"))
    import pandas as pd
    import v6_contract  # the contract tests' algorithm: partial_sum over a column

    from v6lib.testing import LocalFederation

    for snippet in snippets:
        if snippet.kind == "call" and (why := _runnable(snippet)):
            snippet.verdict, snippet.reason = "not runnable", why
    frames = [{"default": pd.DataFrame({"value": [1.0, 2.0]})}] * 2
    with LocalFederation(v6_contract, frames) as federation:
        settings = _settings(federation)
        todo = {s.code: s.code for s in snippets if not s.verdict}
        as_written = _run(upstream, todo, settings)
        changed = _run(upstream, {code: CHANGES[code][0] for code in todo
                                  if code in CHANGES and not as_written[code]["ok"]},
                       settings)
    for snippet in snippets:
        if snippet.verdict:
            continue
        outcome = as_written[snippet.code]
        if outcome["ok"]:
            snippet.verdict = "as written"
        elif snippet.kind == "import":
            snippet.verdict, snippet.reason = _port_import(snippet.code)
            if snippet.verdict == "unsupported":
                snippet.reason += f" ({_why(outcome['error'])})"
        elif changed.get(snippet.code, {}).get("ok"):
            snippet.verdict = "with changes"
            snippet.reason = f"`{CHANGES[snippet.code][0]}`: {CHANGES[snippet.code][1]}"
        else:
            snippet.verdict, snippet.reason = "unsupported", _why(outcome["error"])
            if snippet.code in changed:
                snippet.reason += (f"; changed to `{CHANGES[snippet.code][0]}`: "
                                   f"{_why(changed[snippet.code]['error'])}")


def report(snippets: list[Snippet]) -> str:
    lines = ["| page | snippet | verdict | reason or change |", "|---|---|---|---|"]
    for s in snippets:
        code = s.code if len(s.code) < 90 else s.code[:87] + "..."
        reason = s.reason.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {s.page[:3]} | `{code.replace('|', '/')}` | {s.verdict} | {reason} |")
    counts = {v: sum(s.verdict == v for s in snippets)
              for v in ("as written", "with changes", "unsupported", "not runnable")}
    lines += ["", " / ".join(f"{v}: {n}" for v, n in counts.items())]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=Path, required=True)
    parser.add_argument("--upstream-python", type=Path, required=True)
    args = parser.parse_args()
    snippets = extract(args.seeds)
    classify(snippets, args.upstream_python)
    print(report(snippets))


if __name__ == "__main__":
    main()
