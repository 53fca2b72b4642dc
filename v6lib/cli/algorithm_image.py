"""``v6 algorithm build`` and ``v6 algorithm run``: the image of an algorithm package, and
a try of it on a local federation, before anyone else sees it."""

from __future__ import annotations

import json
import pprint
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from v6lib.cli._configs import fail
from v6lib.errors import V6Error

if TYPE_CHECKING:
    from v6lib.demo.image_run import ImageRunReport

__all__ = ["build", "run"]

_PATH = click.option("--path", "-p", type=click.Path(file_okay=False, exists=True,
                                                     path_type=Path),
                     default=Path("."), show_default=True,
                     help="The algorithm package (the folder with pyproject.toml).")


@click.command("build")
@_PATH
@click.option("--tag", "-t", help="Image name; <distribution name>:latest by default.")
@click.option("--base-image", default="v6lib-base:latest", show_default=True,
              help="The image with Python and v6lib to build on.")
@click.option("--find-links", "find_links", multiple=True,
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A folder of wheels to take dependencies from before any package index "
                   "(repeatable).")
@click.option("--wheelhouse", type=click.Path(file_okay=False, path_type=Path),
              help="Where fetched wheels are kept for the next build "
                   "[default: $XDG_CACHE_HOME/v6lib/wheelhouse].")
def build(path: Path, tag: str | None, base_image: str, find_links: tuple[Path, ...],
          wheelhouse: Path | None) -> None:
    """Build the package's image with the dependencies of its pyproject.toml.

    The package's Dockerfile is built on the base image; then its dependencies and v6lib
    with its database extras (sql, sparql, excel) are installed offline from wheels
    fetched on this machine, in the versions of this environment (written to
    v6-image.lock and to the image's labels). A difference in v6lib, pandas, numpy or
    pyarrow between the image and this environment is reported with both versions.
    """
    from v6lib.image.build import BuildOptions, build_image

    try:
        report = build_image(BuildOptions(project=path, tag=tag, base_image=base_image,
                                          find_links=find_links, wheelhouse=wheelhouse,
                                          echo=lambda text: click.echo(text, err=True)))
    except V6Error as exc:
        fail(exc)
        return
    click.echo(report.tag)


def _organizations(text: str) -> str | list[int]:
    if text in ("first", "all"):
        return text
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise click.BadParameter(f"'first', 'all' or positions like 1,3; got {text!r}",
                                 param_hint="--organizations") from None


def _kwargs(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--kwargs") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--kwargs")
    return value


def _show(value: Any) -> str:
    """A result as a person reads it: frames as tables, the rest pretty-printed."""
    to_string = getattr(value, "to_string", None)
    return to_string() if callable(to_string) else pprint.pformat(value, sort_dicts=False)


def _package_image(path: Path) -> str:
    """The tag `v6 algorithm build` gives the package in ``path`` by default."""
    import tomllib

    from v6lib.image.build import default_tag

    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        raise click.UsageError(f"no --image given and {path} has no pyproject.toml to "
                               "name one; pass --image or --path")
    with pyproject.open("rb") as handle:
        return default_tag(tomllib.load(handle))


@click.command("run")
@click.option("--image", "-i", help="The algorithm image; by default the one "
              "`v6 algorithm build` tags for the package in --path.")
@_PATH
@click.option("--method", "-m", required=True, help="The function the task calls.")
@click.option("--kwargs", "kwargs_json", default="{}", show_default=True,
              help="Its keyword arguments, as a JSON object.")
@click.option("--organizations", "-o", default="first", show_default=True,
              help="Where the task runs: 'first' (a central method), 'all' (a partial "
                   "method everywhere), or positions of the sites like 1,3.")
@click.option("--seed", type=int, default=6, show_default=True,
              help="Seed of the synthetic patient data.")
@click.option("--data", "data", multiple=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Your own data instead: one file per organization, three in all (CSV, "
                   "Parquet, Excel, SQLite or RDF such as .ttl; the type by suffix).")
@click.option("--query", default=None,
              help="The SQL or SPARQL SELECT for SQLite or RDF --data files (the task's "
                   "query of the default database).")
@click.option("--keep", is_flag=True,
              help="Leave the federation running afterwards for more tasks, and print "
                   "how to use and stop it.")
@click.option("--timeout", type=float, default=300.0, show_default=True,
              help="Seconds to wait for the task.")
@click.option("--encrypted", is_flag=True, help="Use an encrypted collaboration.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the results to this file, exactly (v6lib's serialization; "
                   "read it with v6lib.serialization.loads).")
def run(image: str | None, path: Path, method: str, kwargs_json: str, organizations: str,
        seed: int, data: tuple[Path, ...], query: str | None, keep: bool, timeout: float,
        encrypted: bool, output: Path | None) -> None:
    """Run an algorithm image on a local federation and print the results.

    Starts the demo federation (a server and three nodes with synthetic patient tables
    as their `default` database) with the Docker runtime, its node policies allowing
    this image, creates one task and prints each organization's result. Everything is
    removed afterwards unless --keep. The data is the same as `v6 demo`'s
    (v6lib.demo.data) unless --data gives three files of your own (with --query for
    SQLite and RDF files).
    """
    from v6lib import serialization
    from v6lib.demo import DemoOptions
    from v6lib.demo.image_run import TaskRequest, run_image

    request = TaskRequest(method=method, kwargs=_kwargs(kwargs_json),
                          organizations=_organizations(organizations), query=query)
    try:
        options = DemoOptions(image=image or _package_image(path), seed=seed, data=data,
                              timeout=timeout, encrypted=encrypted, keep=keep,
                              echo=lambda text: click.echo(text, err=True))
        report = run_image(options, request)
    except V6Error as exc:
        fail(exc)
        return
    for organization, result in zip(report.organization_ids, report.results, strict=True):
        click.echo(f"organization {organization}:")
        click.echo(_show(result))
    click.echo(f"task {report.task_id} on {report.image}: {len(report.results)} result(s) "
               f"in {report.round_trip:.1f} s", err=True)
    if output is not None:
        output.write_bytes(serialization.dumps(report.results))
    if keep and report.workdir is not None:
        _tell_kept(report)


def _tell_kept(report: ImageRunReport) -> None:
    """Where the kept federation runs, how to send it more tasks, and how to stop it."""
    from v6lib.cli.demo import write_stop_script

    stop = write_stop_script(report.workdir or Path("."), report.pids, "v6 algorithm run")
    click.echo(f"""
The federation keeps running in {report.workdir}
  server  http://127.0.0.1:{report.port}/api   (researcher password: {report.researcher_password})
More tasks on it, e.g.:
  V6_USERNAME=researcher V6_PASSWORD='{report.researcher_password}' \\
    v6 task results {report.task_id} --port {report.port}
  or from Python: Client("http://127.0.0.1", {report.port}, "/api")
Stop it and delete everything:  sh {stop}""", err=True)
