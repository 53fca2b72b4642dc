"""``v6 node audit``: read, check and export a node's audit trail (:mod:`v6lib.node.audit`).

Read-only: these commands never write the trail, so a data owner (or an auditor with a
copy) can run them while the node runs. ``verify`` exits 1 when the chain is broken and
says at which entry.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from v6lib import errors
from v6lib.cli._configs import fail
from v6lib.cli._instance import load_instance
from v6lib.cli._select import Selection, select_config

__all__ = ["audit"]

_SHOWN = ("seq", "finished_at", "run_id", "task_id", "init_org_id", "init_user_id", "image",
          "method", "status", "reason")


@click.group()
def audit() -> None:
    """The node's audit trail: one hash-chained entry per run it was given."""


def _trail(selection: Selection, file: Path | None) -> Path:
    if file is not None:
        return file
    from v6lib.node.audit import AUDIT_FILE

    try:
        return Path(load_instance(selection).config.task_dir) / AUDIT_FILE
    except errors.V6Error as exc:
        fail(exc)
        raise  # unreachable: fail exits


_file_option = click.option("--file", type=click.Path(path_type=Path, dir_okay=False),
                            default=None, help="A trail file (a copy) instead of the node's.")


@audit.command("show")
@select_config("node")
@_file_option
@click.option("--last", type=int, default=20, show_default=True,
              help="How many of the latest entries (0: all).")
def show(selection: Selection, file: Path | None, last: int) -> None:
    """Print the latest entries, one per line."""
    from v6lib.node.audit import entries

    shown = entries(_trail(selection, file))
    for entry in shown[-last:] if last > 0 else shown:
        click.echo("  ".join(f"{key}={_short(entry.get(key))}" for key in _SHOWN
                             if entry.get(key) is not None))


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


@audit.command("verify")
@select_config("node")
@_file_option
@click.option("--head", "published", default=None, metavar="COUNT:SHA256",
              help="The chain head published to the server (its node record's audit_count "
                   "and audit_head); the trail must still hold that entry.")
@click.option("--server", "ask_server", is_flag=True,
              help="Fetch the published head from the server with the node's API key.")
def verify_command(selection: Selection, file: Path | None, published: str | None,
                   ask_server: bool) -> None:
    """Check every entry's hash and link; name the first broken entry."""
    from v6lib.node.audit import ChainHead, verify

    head = None
    if published:
        count, _, digest = published.partition(":")
        if not count.isdigit() or len(digest) != 64:
            raise click.BadParameter("expected COUNT:SHA256", param_hint="--head")
        head = ChainHead(int(count), digest)
    elif ask_server:
        head = _published_head(selection)
        click.echo(f"published: {head.count} entries, head {head.hash}" if head
                   else "published: nothing yet")
    result = verify(_trail(selection, file), head)
    if result.ok:
        click.echo(f"ok: {result.head.count} entries, head {result.head.hash}")
        return
    click.echo(f"BROKEN at entry {result.entry}: {result.problem}", err=True)
    sys.exit(1)


def _published_head(selection: Selection) -> Any:
    """The head the server holds for this node (None before the first publication)."""
    from v6lib.node.audit import ChainHead
    from v6lib.node.options import NodeOptions
    from v6lib.node.server_link import link_for

    try:
        options = NodeOptions.from_config(load_instance(selection).config)
        link = link_for(options)
        record = link.node(link.login())
    except errors.V6Error as exc:
        fail(exc)
        raise  # unreachable: fail exits
    if not record.get("audit_count"):
        return None
    return ChainHead(int(record["audit_count"]), str(record["audit_head"]))


@audit.command("export")
@select_config("node")
@_file_option
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Write here instead of to standard output.")
def export(selection: Selection, file: Path | None, output: Path | None) -> None:
    """Write the entries as JSON lines, as recorded (hashes included)."""
    from v6lib.node.audit import entries

    lines = "".join(json.dumps(entry, sort_keys=True) + "\n"
                    for entry in entries(_trail(selection, file)))
    if output is None:
        click.echo(lines, nl=False)
    else:
        output.write_text(lines)
        click.echo(f"wrote {lines.count(chr(10))} entries to {output}", err=True)
