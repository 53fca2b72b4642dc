"""The commands ``v6 server`` and ``v6 node`` share: stop, list, attach, files, remove, version.

Each factory builds one click command for a kind; what differs between server and node
(the columns of ``list``, the files a ``remove`` deletes, the server ``version`` asks)
is passed in, so the two groups cannot drift apart.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import click
import requests

from v6lib import __version__, errors
from v6lib.cli._configs import Kind, fail, list_configs
from v6lib.cli._instance import Instance, load_instance, load_path, stop_instance
from v6lib.cli._select import Selection, scope_options, select_config
from v6lib.cli.background import follow_log, log_tail

__all__ = ["attach_command", "files_command", "list_command", "remove_command", "remove_tree",
           "running_instances",
           "stop_command", "version_command"]

Row = Callable[[Instance], str]


def running_instances(kind: Kind, system: bool | None = None) -> list[Instance]:
    """The instances of ``kind`` that are running now."""
    found = []
    for path in list_configs(kind, system):
        try:
            instance = load_path(kind, path)
        except errors.V6Error:
            continue
        if instance.pid():
            found.append(instance)
    return found


def stop_command(kind: Kind) -> click.Command:
    @click.command("stop")
    @select_config(kind)
    @click.option("--all", "all_", is_flag=True, help=f"Stop every running {kind}.")
    @click.option("--force", is_flag=True, help="Kill at once (SIGKILL) instead of a clean "
                                                 "stop.")
    @click.option("--timeout", type=float, default=30.0, show_default=True,
                  help="Seconds to wait for a clean stop.")
    def stop(selection: Selection, all_: bool, force: bool, timeout: float) -> None:
        try:
            instances = (running_instances(kind, selection.system) if all_
                         else [load_instance(selection)])
            if not instances:
                click.echo(f"no {kind} is running")
            for instance in instances:
                pid = stop_instance(instance, force=force, grace=timeout)
                click.echo(f"stopped {kind} '{instance.name}' (pid {pid})")
        except errors.V6Error as exc:
            fail(exc)

    stop.help = (f"Stop a {kind} (started in the background or in the foreground) through "
                 "its pid file, and wait until it has ended.")
    return stop


def list_command(kind: Kind, row: Row) -> click.Command:
    @click.command("list")
    @scope_options
    def list_(system: bool | None) -> None:
        files = list_configs(kind, system)
        if not files:
            click.echo(f"no {kind} configurations")
        for path in files:
            try:
                instance = load_path(kind, path)
            except errors.V6Error as exc:
                click.echo(f"{path.stem:20} invalid: {exc.message.splitlines()[0]}")
                continue
            click.echo(row(instance))

    list_.help = (f"List the {kind} configurations (user and system directories) and whether "
                  "each is running.")
    return list_


def attach_command(kind: Kind) -> click.Command:
    @click.command("attach")
    @select_config(kind)
    @click.option("--lines", type=int, default=20, show_default=True,
                  help="How many earlier log lines to show first.")
    def attach(selection: Selection, lines: int) -> None:
        try:
            instance = load_instance(selection)
        except errors.V6Error as exc:
            fail(exc)
            return
        running = instance.pid() is not None
        if not instance.log_file.exists():
            why = ("it was started in the foreground (--attach): its output is on that "
                   "terminal" if running else "it is not running")
            fail(errors.NotFoundError(
                f"{kind} '{instance.name}' has no log file at {instance.log_file}; {why}"))
            return
        if not running:
            click.echo(log_tail(instance.log_file, lines))
            click.echo(f"({kind} '{instance.name}' is not running)", err=True)
            return
        click.echo(f"following {instance.log_file} (Ctrl+C stops following; the {kind} "
                   "keeps running)", err=True)
        try:
            follow_log(instance.log_file, lambda: instance.pid() is not None, click.echo,
                       lines=lines)
        except KeyboardInterrupt:
            click.echo(f"\ndetached; {kind} '{instance.name}' keeps running", err=True)
            return
        click.echo(f"({kind} '{instance.name}' has stopped)", err=True)

    attach.help = f"Show the log of a {kind} started in the background, and follow it."
    return attach


def files_command(kind: Kind, details: Callable[[Instance], list[tuple[str, Any]]]
                  ) -> click.Command:
    @click.command("files")
    @select_config(kind)
    def files(selection: Selection) -> None:
        try:
            instance = load_instance(selection)
        except errors.V6Error as exc:
            fail(exc)
            return
        rows = [("configuration", instance.path), ("pid file", instance.pid_file),
                ("background log", instance.log_file),
                ("log file", instance.config.logging.file or "(none: console only)"),
                *details(instance)]
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            click.echo(f"{label:{width}}  {value}")

    files.help = f"Show where a {kind}'s configuration, data, pid and log files are."
    return files


def remove_command(kind: Kind, cleanup: Callable[[Instance], list[str]],
                   what: str) -> click.Command:
    @click.command("remove")
    @select_config(kind)
    @click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
    def remove(selection: Selection, force: bool) -> None:
        try:
            instance = load_instance(selection)
            running = instance.pid()
            if running:
                raise errors.ConflictError(
                    f"{kind} '{instance.name}' is running (pid {running}); stop it first "
                    f"with `v6 {kind} stop -n {instance.name}`")
        except errors.V6Error as exc:
            fail(exc)
            return
        if not force:
            click.confirm(f"Remove {kind} '{instance.name}' for good: {what}?", abort=True)
        for path in (instance.log_file, instance.pid_file):
            path.unlink(missing_ok=True)
        for line in cleanup(instance):
            click.echo(line)
        instance.path.unlink(missing_ok=True)
        click.echo(f"removed {instance.path}")

    remove.help = f"Delete a {kind}: {what}."
    return remove


def version_command(kind: Kind, server_api: Callable[[Instance], str],
                    ca_file: Callable[[Instance], Any] = lambda _instance: None
                    ) -> click.Command:
    """``v6 <kind> version``; ``ca_file`` gives the CA bundle to trust for the server."""
    @click.command("version")
    @select_config(kind)
    def version(selection: Selection) -> None:
        click.echo(f"v6 (v6lib) {__version__}")
        try:
            path = selection.path()
        except errors.ConfigurationError:
            if selection.target:
                raise
            return  # nothing to ask: no (single) configuration
        try:
            instance = load_path(kind, path)
        except errors.V6Error as exc:
            fail(exc)
            return
        from v6lib.client.tls import tls_session

        url = server_api(instance)
        try:
            answer = tls_session(ca_file(instance)).get(f"{url}/version", timeout=5)
            answer.raise_for_status()
            body = answer.json()
            click.echo(f"server at {url}: v6lib {body.get('version')} "
                       f"(API {body.get('api')})")
        except (requests.RequestException, ValueError, errors.ConfigurationError) as exc:
            click.echo(f"server at {url}: not reachable ({type(exc).__name__})")

    version.help = (f"Show the version of v6lib, and of the server the {kind} configuration "
                    "points at when it answers.")
    return version


def remove_tree(path: Any, keep: set[Any] | None = None) -> str:
    """Delete a directory except the files in ``keep``; a line saying what was done."""
    from pathlib import Path

    root = Path(path)
    if not root.exists():
        return f"{root}: not there"
    kept = {Path(p).resolve() for p in keep or set()}
    inside = [p for p in kept if root.resolve() in p.parents]
    if not inside:
        shutil.rmtree(root, ignore_errors=True)
        return f"removed {root}"
    for child in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        resolved = child.resolve()
        if resolved in kept or any(resolved in k.parents for k in kept):
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    return f"removed {root}, except {', '.join(str(p) for p in inside)}"
