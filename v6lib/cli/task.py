"""``v6 task``: create a task, follow it and read its results from the shell.

Human output is a table; ``--json`` prints one JSON document for scripts. The exit code
is the ``exit_code`` of the v6lib error that stopped the command (0 on success).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import click
from tabulate import tabulate

from v6lib import errors, serialization
from v6lib.cli.progress_lines import progress_line
from v6lib.client import Client, RunOutcome

__all__ = ["task"]


@dataclass(frozen=True)
class Connection:
    """Where the server is and who logs in: what every subcommand's options add up to."""

    server_url: str
    port: int
    api_path: str
    username: str
    password: str
    mfa_code: str | None
    private_key: str | None
    ca_file: str | None

    def login(self) -> Client:
        """A logged-in client (with encryption set up when a private key was given)."""
        client = Client(self.server_url, self.port, self.api_path, ca_file=self.ca_file)
        client.authenticate(self.username, self.password, mfa_code=self.mfa_code)
        if self.private_key:
            client.setup_encryption(self.private_key)
        return client


_CONNECTION_FIELDS = tuple(f.name for f in fields(Connection))


def _connection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options every subcommand needs to reach and log in to a server, handed to it
    as one ``connection`` (plus ``as_json``)."""
    options = [
        click.option("--server-url", envvar="V6_SERVER_URL", default="http://127.0.0.1",
                     show_default=True, help="Server URL (env V6_SERVER_URL)."),
        click.option("--port", envvar="V6_PORT", type=int, default=7601, show_default=True,
                     help="Server port (env V6_PORT)."),
        click.option("--api-path", envvar="V6_API_PATH", default="/api", show_default=True,
                     help="API path (env V6_API_PATH)."),
        click.option("--username", envvar="V6_USERNAME", required=True,
                     help="User name (env V6_USERNAME)."),
        click.option("--password", envvar="V6_PASSWORD", required=True,
                     help="Password (env V6_PASSWORD; prefer the variable over the flag)."),
        click.option("--mfa-code", envvar="V6_MFA_CODE", default=None,
                     help="Two-factor code, when the account needs one."),
        click.option("--private-key", envvar="V6_PRIVATE_KEY", default=None,
                     type=click.Path(dir_okay=False),
                     help="Your organization's private key, for encrypted collaborations."),
        click.option("--ca-file", envvar="V6_CA_FILE", default=None,
                     type=click.Path(dir_okay=False),
                     help="PEM bundle of the certificate authorities to trust for an https "
                          "server with a private CA (env V6_CA_FILE)."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables."),
    ]

    @functools.wraps(fn)
    def with_connection(**kwargs: Any) -> Any:
        connection = Connection(**{name: kwargs.pop(name) for name in _CONNECTION_FIELDS})
        return fn(connection=connection, **kwargs)

    command: Callable[..., Any] = with_connection
    for option in reversed(options):
        command = option(command)
    return command


def _handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a v6lib error into a one-line message on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except errors.V6Error as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _plain(value: Any) -> Any:
    """A decoded result as the JSON of :mod:`v6lib.serialization` (exact: frames and numpy
    values as their tagged objects, which ``serialization.loads`` turns back)."""
    return json.loads(serialization.dumps(value, root="result"))


def _short(value: Any, width: int = 60) -> str:
    """One line for the table: the JSON of a plain result, else its repr (a frame's
    tagged JSON is base64 that says nothing to a reader)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = " ".join(repr(value).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _parse_json(text: str | None, what: str, kind: type) -> Any:
    if text is None:
        return kind()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.ValidationError(f"--{what} is not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        raise errors.ValidationError(f"--{what} must be a JSON {kind.__name__}, got {text!r}")
    return value


def _emit(as_json: bool, document: Any, table: str) -> None:
    click.echo(json.dumps(document, indent=2, default=str) if as_json else table)


def _task_table(task: dict[str, Any]) -> str:
    keys = ["id", "uid", "name", "image", "collaboration_id", "status", "created_at"]
    if task.get("max_run_seconds") is not None:
        keys.append("max_run_seconds")
    return str(tabulate([[k, task.get(k)] for k in keys], tablefmt="simple"))


def _outcome_rows(outcomes: list[RunOutcome]) -> list[dict[str, Any]]:
    return [{"run_id": o.run_id, "organization_id": o.organization_id,
             "status": o.status.value, "result": _plain(o.result) if o.ok else None,
             "reason": o.reason} for o in outcomes]


def _outcome_table(outcomes: list[RunOutcome]) -> str:
    rows = [[o.run_id, o.organization_id, o.status.value,
             _short(o.result) if o.ok else (o.reason or "")] for o in outcomes]
    return str(tabulate(rows, headers=["run", "organization", "status", "result / reason"]))


def _wait_with_progress(client: Client, task_id: int, timeout: float | None,
                        quiet: bool) -> None:
    """Wait for the task; unless ``quiet``, a line per organization whenever its run's
    progress changes (the node forwards at most one report a second)."""
    def show(run: dict[str, Any]) -> None:
        click.echo(f"task {task_id}: {progress_line(run)}", err=True)

    try:
        client.task.wait(task_id, timeout=timeout, on_progress=None if quiet else show)
    except errors.WaitTimeoutError:
        raise errors.WaitTimeoutError(
            f"task {task_id} did not finish within {timeout:g} s; it keeps running "
            f"(see `v6 task status {task_id}`)", details={"task_id": task_id}) from None


@click.group()
def task() -> None:
    """Create tasks and read their status and results."""


@task.command("create")
@_connection_options
@click.option("--collaboration", type=int, required=True, help="Collaboration id.")
@click.option("--organization", "organizations", type=int, multiple=True, required=True,
              help="Organization id that runs the task (repeat for several).")
@click.option("--image", required=True, help="Algorithm image, e.g. v6-average:latest.")
@click.option("--method", required=True, help="Function of the algorithm to call.")
@click.option("--kwargs", "kwargs_json", default=None, help='Keyword arguments as JSON, '
              'e.g. \'{"column": "age"}\'.')
@click.option("--args", "args_json", default=None, help="Positional arguments as a JSON list.")
@click.option("--database", "databases", multiple=True,
              help="Database label on the nodes (repeat for several; default: default).")
@click.option("--study", type=int, default=None, help="Restrict the task to a study.")
@click.option("--name", default="", help="Task name.")
@click.option("--description", default="", help="Task description.")
@click.option("--max-run-seconds", type=float, default=None,
              help="Time limit of each run; a node applies the shorter of it and its own.")
@click.option("--wait", "wait", is_flag=True, help="Wait for the results and print them.")
@click.option("--timeout", type=float, default=None, help="With --wait: give up after S s.")
@_handle_errors
def create(connection: Connection, as_json: bool, collaboration: int,
           organizations: tuple[int, ...], image: str, method: str, kwargs_json: str | None,
           args_json: str | None, databases: tuple[str, ...], study: int | None, name: str,
           description: str, max_run_seconds: float | None, wait: bool,
           timeout: float | None) -> None:
    """Create a task; with --wait, also wait for it and print every run's outcome."""
    input_ = {"method": method, "args": _parse_json(args_json, "args", list),
              "kwargs": _parse_json(kwargs_json, "kwargs", dict)}
    client = connection.login()
    created = client.task.create(
        collaboration=collaboration, organizations=list(organizations), name=name or method,
        image=image, description=description, input_=input_,
        databases=list(databases) or None, study=study, max_run_seconds=max_run_seconds)
    if not wait:
        _emit(as_json, created, _task_table(created))
        return
    if not as_json:
        click.echo(f"created task {created['id']}; waiting for its runs...", err=True)
    _wait_with_progress(client, int(created["id"]), timeout, quiet=as_json)
    outcomes = client.outcomes(int(created["id"]))
    _emit(as_json, {"task": client.task.get(int(created["id"])),
                    "results": _outcome_rows(outcomes)}, _outcome_table(outcomes))
    if any(not o.ok for o in outcomes):
        sys.exit(errors.AlgorithmError.exit_code)


@task.command("status")
@_connection_options
@click.argument("task_id", type=int)
@_handle_errors
def status(connection: Connection, as_json: bool, task_id: int) -> None:
    """Show a task and the status of each of its runs."""
    client = connection.login()
    info = client.task.get(task_id)
    runs = client.run.from_task(task_id)
    rows = [[r["id"], r["organization_id"], r["status"], r.get("started_at") or "",
             r.get("finished_at") or ""] for r in runs]
    table = _task_table(info) + "\n\n" + tabulate(
        rows, headers=["run", "organization", "status", "started", "finished"])
    fields = ("id", "organization_id", "status", "reason", "assigned_at", "started_at",
              "finished_at")
    _emit(as_json, {"task": info, "runs": [{k: r.get(k) for k in fields} for r in runs]},
          table)


@task.command("results")
@_connection_options
@click.argument("task_id", type=int)
@_handle_errors
def results(connection: Connection, as_json: bool, task_id: int) -> None:
    """Print the decoded result of every run of a task (exit 70 if a run failed)."""
    client = connection.login()
    outcomes = client.outcomes(task_id)
    _emit(as_json, {"task_id": task_id, "results": _outcome_rows(outcomes)},
          _outcome_table(outcomes))
    if any(not o.ok and o.status.is_terminal for o in outcomes):
        sys.exit(errors.AlgorithmError.exit_code)


@task.command("kill")
@_connection_options
@click.argument("task_id", type=int)
@_handle_errors
def kill(connection: Connection, as_json: bool, task_id: int) -> None:
    """Stop a task and all its subtasks."""
    client = connection.login()
    answer = client.task.kill(task_id)
    _emit(as_json, answer or {"id": task_id, "killed": True}, f"task {task_id} killed")
