"""``v6 node`` commands that change a node's files: its private key, its API key, and the
leftovers of earlier runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from v6lib import errors
from v6lib.cli._configs import fail
from v6lib.cli._instance import load_instance
from v6lib.cli._refused import refused_options
from v6lib.cli._select import Selection, select_config
from v6lib.private_files import write_private

__all__ = ["clean", "create_private_key", "set_api_key"]


@click.command("create-private-key")
@select_config("node")
@click.option("--upload/--no-upload", default=False,
              help="Upload the public key with the node's API key (default: do not).")
@click.option("--force", "--overwrite", "force", is_flag=True,
              help="Replace an existing key file.")
@refused_options("node create-private-key")
def create_private_key(selection: Selection, upload: bool, force: bool) -> None:
    """Generate the organization's private key (saved 0600) and optionally upload it."""
    from v6lib.crypto import fingerprint, generate_private_key, public_key_b64, save_private_key

    try:
        config = load_instance(selection).config
        path = Path(config.encryption.private_key or Path(config.task_dir) / "private_key.pem")
        if path.exists() and not force:
            raise errors.ConfigurationError(
                f"{path} exists; pass --force to replace it (data sealed for the old key "
                "can then no longer be read)")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = generate_private_key()
        save_private_key(key, path)
        click.echo(f"saved private key to {path}\nfingerprint {fingerprint(key)}\n"
                   "(give this fingerprint to the other organizations out of band: their "
                   "clients and nodes ask for it when your key changes)")
        if config.encryption.private_key is None:
            click.echo("set encryption.private_key in the node configuration to this path")
        if upload:
            org_id = _upload_public_key(config, public_key_b64(key))
            click.echo(f"uploaded the public key of organization {org_id}")
    except errors.V6Error as exc:
        fail(exc)


def _upload_public_key(config: Any, key_b64: str) -> int:
    from v6lib.node.options import NodeOptions
    from v6lib.node.server_link import link_for

    options = NodeOptions.from_config(config)
    link = link_for(options)
    node_id = link.login()
    org_id = int(link.node(node_id)["organization_id"])
    link.set_public_key(org_id, key_b64)
    return org_id


def _settings_section(data: dict[str, Any]) -> dict[str, Any]:
    """The mapping that holds the settings (vantage6 files wrap it)."""
    if set(data) == {"application"} and isinstance(data["application"], dict):
        return data["application"]
    environments = data.get("environments")
    if isinstance(environments, dict) and environments:
        chosen = environments.get("prod") or next(iter(environments.values()))
        if isinstance(chosen, dict):
            return chosen
    return data


@click.command("set-api-key")
@select_config("node")
@click.option("--api-key", prompt="New API key", hide_input=True,
              help="The key the server administrator gave (prompted for when omitted).")
def set_api_key(selection: Selection, api_key: str) -> None:
    """Put a new API key in the node's configuration file (kept 0600).

    The file is rewritten from its parsed content, so comments in it are lost.
    """
    try:
        instance = load_instance(selection)
        data = yaml.safe_load(instance.path.read_text(encoding="utf-8")) or {}
        _settings_section(data)["api_key"] = api_key.strip()
        write_private(instance.path, yaml.safe_dump(data, sort_keys=False))
    except (OSError, yaml.YAMLError) as exc:
        fail(errors.ConfigurationError(f"cannot update the configuration: {exc}"))
        return
    except errors.V6Error as exc:
        fail(exc)
        return
    click.echo(f"wrote the new API key to {instance.path}")
    if instance.pid():
        click.echo(f"node '{instance.name}' is running with the old key: restart it "
                   f"(v6 node restart -n {instance.name})")


@click.command("clean")
@select_config("node")
def clean(selection: Selection) -> None:
    """Remove what runs of a stopped node left behind: ended containers or processes and
    run folders of runs that are done. Runs still in flight are kept for the next start."""
    from v6lib.node.cleanup import clean_node
    from v6lib.node.daemon import make_runtime
    from v6lib.node.options import NodeOptions

    try:
        instance = load_instance(selection)
        running = instance.pid()
        if running:
            raise errors.ConflictError(
                f"node '{instance.name}' is running (pid {running}); it cleans up after "
                f"itself, so stop it first (v6 node stop -n {instance.name}) if you must")
        options = NodeOptions.from_config(instance.config)
        runtime = make_runtime(options)
        try:
            report = clean_node(options.task_dir, options.journal_path, runtime)
        finally:
            runtime.close()
    except errors.V6Error as exc:
        fail(exc)
        return
    for handle in report.removed_jobs:
        click.echo(f"removed {options.runtime} job {handle}")
    for folder in report.removed_folders:
        click.echo(f"removed {folder}")
    if report.kept_runs:
        click.echo("kept runs still in flight (the next start collects them): "
                   + ", ".join(map(str, report.kept_runs)))
    if report.runtime_problem:
        click.echo(f"could not look for {options.runtime} jobs: {report.runtime_problem}",
                   err=True)
    if not (report.removed_jobs or report.removed_folders):
        click.echo(f"nothing to clean for node '{instance.name}'")
