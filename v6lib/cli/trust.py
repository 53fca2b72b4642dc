"""``v6 trust``: the organization keys and encrypted collaborations you (or a node) pinned.

Keys are trusted on first use (see :mod:`v6lib.trust`). When an organization's key
changes on the server, clients and nodes refuse it until a person compares the new
fingerprint with the organization (by phone, in person) and accepts it here.
"""

from __future__ import annotations

from pathlib import Path

import click

from v6lib import errors
from v6lib.cli._configs import fail, resolve_config
from v6lib.trust import TrustStore, default_trust_path

__all__ = ["trust"]


def _store(server_url: str, port: int, api_path: str, node: str | None) -> TrustStore:
    if node is not None:
        from v6lib.config import load_node_config
        from v6lib.node.options import NodeOptions

        options = NodeOptions.from_config(load_node_config(resolve_config("node", node)))
        return TrustStore(options.trust_path)
    from v6lib.client.user_client import build_base_url

    return TrustStore(default_trust_path(build_base_url(server_url, port, api_path)))


def _where(fn: click.decorators.FC) -> click.decorators.FC:
    for option in reversed([
        click.option("--server-url", envvar="V6_SERVER_URL", default="http://127.0.0.1",
                     show_default=True, help="Server URL (env V6_SERVER_URL)."),
        click.option("--port", envvar="V6_PORT", type=int, default=7601, show_default=True),
        click.option("--api-path", envvar="V6_API_PATH", default="/api", show_default=True),
        click.option("--node", default=None, metavar="CONFIG",
                     help="Act on this node's pins instead of your own."),
    ]):
        fn = option(fn)
    return fn


@click.group()
def trust() -> None:
    """Pinned organization keys: show, accept a new key, forget."""


@trust.command("show")
@_where
def show(server_url: str, port: int, api_path: str, node: str | None) -> None:
    """List the pinned key fingerprints and the collaborations pinned as encrypted."""
    try:
        store = _store(server_url, port, api_path, node)
    except errors.V6Error as exc:
        fail(exc)
    pins = store.snapshot()
    click.echo(f"pins in {store.path}")
    for org_id, value in pins["keys"].items():
        click.echo(f"organization {org_id}: {value}")
    if pins["encrypted_collaborations"]:
        listed = ", ".join(str(c) for c in pins["encrypted_collaborations"])
        click.echo(f"encrypted collaborations: {listed}")


@trust.command("accept")
@_where
@click.argument("organization", type=int)
@click.argument("fingerprint")
def accept(server_url: str, port: int, api_path: str, node: str | None, organization: int,
           fingerprint: str) -> None:
    """Trust FINGERPRINT (64 hex digits) as ORGANIZATION's key from now on."""
    try:
        _store(server_url, port, api_path, node).accept(organization, fingerprint)
    except errors.V6Error as exc:
        fail(exc)
    click.echo(f"organization {organization}: now trusting {fingerprint.lower()}")


@trust.command("forget")
@_where
@click.argument("organization", type=int, required=False)
@click.option("--collaboration", type=int, default=None,
              help="Stop insisting that this collaboration is encrypted.")
def forget(server_url: str, port: int, api_path: str, node: str | None,
           organization: int | None, collaboration: int | None) -> None:
    """Drop ORGANIZATION's pin (its next key is trusted on first use) or a collaboration's."""
    if organization is None and collaboration is None:
        raise click.UsageError("give an ORGANIZATION or --collaboration ID")
    try:
        store = _store(server_url, port, api_path, node)
        if organization is not None:
            store.forget(organization)
            click.echo(f"organization {organization}: pin removed")
        if collaboration is not None:
            store.forget_collaboration(collaboration)
            click.echo(f"collaboration {collaboration}: no longer pinned as encrypted")
    except errors.V6Error as exc:
        fail(exc)


@trust.command("fingerprint")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def fingerprint_(key_file: Path) -> None:
    """Print the fingerprint of a private or public key file, to share out of band."""
    from v6lib.crypto import fingerprint, load_private_key, load_public_key_pem

    data = key_file.read_bytes()
    try:
        key = load_private_key(key_file) if b"PRIVATE" in data else load_public_key_pem(data)
    except errors.V6Error as exc:
        fail(exc)
    click.echo(fingerprint(key))
