"""``v6 algorithm build`` and ``v6 algorithm run``: the image of an algorithm package, and
a try of it on a local federation, before anyone else sees it."""

from __future__ import annotations

from pathlib import Path

import click

from v6lib.cli._configs import fail
from v6lib.errors import V6Error

__all__ = ["build"]

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
def build(path: Path, tag: str | None, base_image: str, find_links: tuple[Path, ...]) -> None:
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
                                          find_links=find_links,
                                          echo=lambda text: click.echo(text, err=True)))
    except V6Error as exc:
        fail(exc)
        return
    click.echo(report.tag)
