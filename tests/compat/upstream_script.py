"""A researcher's script written for vantage6 4.x, run with vantage6's own client.

Runs in the upstream client's venv (see ``conftest.py``), never imported by the tests.
Each call's outcome goes into the JSON file named by the settings, as
``{call: {"ok": bool, "value": ..., "error": ...}}``; the test judges the values.
Usage: ``python upstream_script.py SETTINGS.json``.
"""

from __future__ import annotations

import io
import json
import sys
import traceback
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

from vantage6.client import Client


def main(settings: dict[str, Any]) -> dict[str, Any]:
    outcomes: dict[str, Any] = {}

    def record(call: str, action: Callable[[], Any]) -> Any:
        try:
            value = action()
        except Exception as exc:  # the test reports which call failed, and how
            outcomes[call] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                              "trace": traceback.format_exc()}
            return None
        outcomes[call] = {"ok": True, "value": value}
        return value

    client = Client(settings["host"], settings["port"], settings["path"], log_level="error")
    printed = io.StringIO()  # what the person sees: at enrolment, the QR code and secret
    with redirect_stdout(printed):
        record("authenticate", lambda: client.authenticate(
            settings["username"], settings["password"], mfa_code=settings.get("mfa_code")))
    if printed.getvalue():
        outcomes["authenticate (printed)"] = {"ok": True, "value": printed.getvalue()}
    record("whoami", lambda: {"id": client.whoami.id_, "name": client.whoami.name,
                              "organization_id": client.whoami.organization_id,
                              "organization_name": client.whoami.organization_name})
    if settings.get("only_login"):
        return outcomes
    if "encrypted_task" in settings:
        create_encrypted_tasks(client, settings["encrypted_task"], record)
        return outcomes
    record("setup_encryption", lambda: client.setup_encryption(None))
    ids = settings["ids"]
    for resource in ("organization", "collaboration", "node", "user", "role", "rule",
                     "study"):
        sub = getattr(client, resource)
        record(f"{resource}.list", sub.list)
        if ids.get(resource):
            record(f"{resource}.get", lambda sub=sub, resource=resource: sub.get(ids[resource]))
    task = record("task.create", lambda: client.task.create(
        collaboration=settings["collaboration"], organizations=settings["organizations"],
        name="upstream sum", image=settings["image"], description="from vantage6's client",
        input_={"method": "partial_sum", "kwargs": {"column": "value"}},
        databases=[{"label": "default"}]))
    task_id = (task or {}).get("id")
    record("task.get", lambda: client.task.get(task_id))
    record("wait_for_results", lambda: client.wait_for_results(task_id, interval=0.2))
    record("run.from_task", lambda: client.run.from_task(task_id))
    record("result.from_task", lambda: client.result.from_task(task_id))
    slow = record("task.create (slow)", lambda: client.task.create(
        collaboration=settings["collaboration"], organizations=settings["organizations"],
        name="upstream sleep", image=settings["image"], description="",
        input_={"method": "sleep", "kwargs": {"seconds": 60}}, databases=[]))
    slow_id = (slow or {}).get("id")
    record("run.list (open)", lambda: client.run.list(task=slow_id, state="open"))
    record("task.kill", lambda: client.task.kill(slow_id))
    record("task.get (killed)", lambda: client.task.get(slow_id))
    record("run.list (open, killed)", lambda: client.run.list(task=slow_id, state="open"))
    record("request (sort)", lambda: client.request("organization", params={"sort": "-id"}))
    record("request (sort unknown)", lambda: client.request(
        "organization", params={"sort": "password"}))
    kill_on_node(client, settings, record)
    administer(settings, record)
    new_password = settings["password"] + "-changed"
    record("util.change_my_password", lambda: client.util.change_my_password(
        settings["password"], new_password))
    record("authenticate (changed password)", lambda: client.authenticate(
        settings["username"], new_password))
    return outcomes


def kill_on_node(client: Client, settings: dict[str, Any],
                 record: Callable[[str, Callable[[], Any]], Any]) -> None:
    """Start a long task and stop it with ``node.kill_tasks`` (the node's runs only)."""
    slow = record("task.create (for node kill)", lambda: client.task.create(
        collaboration=settings["collaboration"], organizations=settings["organizations"],
        name="upstream sleep on a node", image=settings["image"], description="",
        input_={"method": "sleep", "kwargs": {"seconds": 60}}, databases=[]))
    slow_id = (slow or {}).get("id")
    record("node.kill_tasks", lambda: client.node.kill_tasks(settings["ids"]["node"]))
    record("run.from_task (node kill)", lambda: client.run.from_task(slow_id))
    record("task.kill (rest)", lambda: client.task.kill(slow_id))


def administer(settings: dict[str, Any],
               record: Callable[[str, Callable[[], Any]], Any]) -> None:
    """An administrator's calls: a role with rules, a user with it, a study's members."""
    admin = Client(settings["host"], settings["port"], settings["path"], log_level="error")
    record("authenticate (admin)", lambda: admin.authenticate(
        settings["admin"]["username"], settings["admin"]["password"]))
    organization = settings["organizations"][0]
    role = record("role.create", lambda: admin.role.create(
        name="upstream viewer", description="made by vantage6's client",
        rules=settings["admin"]["rules"], organization=organization))
    record("user.create", lambda: admin.user.create(
        username="upstream-made", firstname="Grace", lastname="Hopper",
        password=settings["password"], email="grace@upstream.test",
        organization=organization, roles=[(role or {}).get("id")]))
    study, member = settings["ids"]["study"], settings["organizations"][-1]
    record("study.remove_organization", lambda: admin.study.remove_organization(
        member, study=study))
    record("study.add_organization", lambda: admin.study.add_organization(
        member, study=study))


def create_encrypted_tasks(client: Client, given: dict[str, Any],
                           record: Callable[[str, Callable[[], Any]], Any]) -> None:
    """Create a task in an encrypted collaboration, sealed with the organization's key
    (vantage6's format) and unsealed; the server is expected to refuse both."""
    def create() -> Any:
        return client.task.create(
            collaboration=given["collaboration"], organizations=given["organizations"],
            name="sealed", image=given["image"], description="",
            input_={"method": "partial_sum"}, databases=[{"label": "default"}])

    record("setup_encryption (key)", lambda: client.setup_encryption(given["private_key"]))
    record("task.create (sealed)", create)
    record("setup_encryption (none)", lambda: client.setup_encryption(None))
    record("task.create (unsealed)", create)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        given = json.load(fh)
    result = main(given)
    with open(given["output"], "w", encoding="utf-8") as fh:
        json.dump(result, fh, default=str)
