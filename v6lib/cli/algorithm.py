"""``v6 algorithm``: start an algorithm package from the project's cookiecutter template
(``new``, or vantage6's name ``create``), and bring one up to a newer template (``update``).
Its image and a local try of it (``build``, ``run``) live in :mod:`v6lib.cli.algorithm_image`.

The template lives in the repository (``cookiecutter-algorithm/``, the one source of
truth) and the wheel ships it inside the package (``v6lib/_algorithm_template``). It is
found through ``V6_ALGORITHM_TEMPLATE``, else in the installed package, else next to an
editable install or checkout of v6lib; a clear error says how to point at it otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from v6lib.cli._configs import fail
from v6lib.cli.algorithm_names import package_name_problem
from v6lib.errors import ConfigurationError, UnsupportedError, V6Error

__all__ = ["TEMPLATE_ENV", "algorithm", "find_template"]

TEMPLATE_ENV = "V6_ALGORITHM_TEMPLATE"
_TEMPLATE_DIR = "cookiecutter-algorithm"
_PACKAGED_TEMPLATE_DIR = "_algorithm_template"  # where pyproject.toml puts it in the wheel


def find_template() -> Path:
    """The folder of the algorithm template.

    Raises:
        ConfigurationError: neither ``V6_ALGORITHM_TEMPLATE``, the installed package nor a
            checkout has it.
    """
    configured = os.environ.get(TEMPLATE_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not (path / "cookiecutter.json").is_file():
            raise ConfigurationError(
                f"{TEMPLATE_ENV}={configured} is not a cookiecutter template (no "
                "cookiecutter.json in it)"
            )
        return path
    import v6lib

    package = Path(v6lib.__file__).resolve().parent
    for candidate in (package / _PACKAGED_TEMPLATE_DIR, package.parent / _TEMPLATE_DIR):
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    raise ConfigurationError(
        f"the algorithm template was found neither in this v6lib installation "
        f"({package / _PACKAGED_TEMPLATE_DIR}) nor next to it ({package.parent / _TEMPLATE_DIR});"
        f" install v6lib from its wheel, or set {TEMPLATE_ENV} to the {_TEMPLATE_DIR} folder "
        "of a v6lib checkout"
    )


@click.group()
def algorithm() -> None:
    """Create and develop algorithm packages."""


def _answers(template: Path, name: str | None, no_input: bool) -> dict[str, Any]:
    """The template's answers (asked unless ``no_input``), the derived names rendered, so
    the package name can be checked before cookiecutter writes or runs anything."""
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    extra = {"algorithm_name": name} if name else {}
    context = generate_context(str(template / "cookiecutter.json"), extra_context=extra)
    answers = prompt_for_config(context, no_input=no_input)
    return {key: value for key, value in answers.items() if not key.startswith("_")}


def _create(name: str | None, directory: Path, no_input: bool) -> None:
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.main import cookiecutter

    from v6lib import __version__
    from v6lib.cli.template_update import RECORD, record_project

    try:
        template = find_template()
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from None
    answers = _answers(template, name, no_input)
    problem = package_name_problem(str(answers.get("package_name", "")))
    if problem:
        fail(UnsupportedError(problem))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        created = cookiecutter(
            str(template), no_input=True, output_dir=str(directory), extra_context=answers
        )
    except CookiecutterException as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    if (Path(created) / RECORD).is_file():
        record_project(Path(created), __version__)
    click.echo(f"Created {created}")
    click.echo(f"Next, in an environment with v6lib[algorithm] installed: cd {created} && "
               "pip install -e . && pytest")


_NO_INPUT = click.option("--no-input", is_flag=True,
                         help="Do not ask; use the defaults and --name.")


@algorithm.command("new")
@click.option("--name", help="Human name of the algorithm, e.g. 'Column statistics'.")
@click.option(
    "--directory",
    "-d",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder in which the package folder is created.",
)
@_NO_INPUT
def new(name: str | None, directory: Path, no_input: bool) -> None:
    """Create a new algorithm package (partial and central function, Dockerfile, tests
    that run on a MockNetwork)."""
    _create(name, directory, no_input)


@algorithm.command("create")
@click.option("-n", "--name", help="Human name of the algorithm, e.g. 'Column statistics'.")
@click.option("-d", "--dir", "--directory", "directory",
              type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Folder in which the package folder is created.")
@click.option("--major-version", type=int, default=None, hidden=True)
@_NO_INPUT
def create(name: str | None, directory: Path, major_version: int | None,
           no_input: bool) -> None:
    """Create a new algorithm package (vantage6's name for `v6 algorithm new`)."""
    if major_version is not None:
        fail(UnsupportedError(
            "v6 algorithm create --major-version: not supported: v6lib ships one template, "
            "the one of this version; install another v6lib version for another template"))
    _create(name, directory, no_input)


def _ask_again(template: Path, earlier: dict[str, Any]) -> dict[str, Any]:
    """The template's questions in its own order, the earlier answers as defaults."""
    order = list(json.loads((template / "cookiecutter.json").read_text(encoding="utf-8")))
    keys = [k for k in order if k in earlier] + [k for k in earlier if k not in order]
    return {key: click.prompt(key, default=str(earlier[key])) for key in keys}


@algorithm.command("update")
@click.option("-d", "--dir", "--directory", "directory",
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("."), show_default=True,
              help="The algorithm package (the folder with .v6-template.json).")
@click.option("--change-answers", is_flag=True,
              help="Ask the template's questions again, the earlier answers as defaults.")
@click.option("--overwrite", is_flag=True,
              help="Replace files you changed too, instead of writing <file>.update.")
def update(directory: Path, change_answers: bool, overwrite: bool) -> None:
    """Bring an algorithm package up to this version's template.

    Files you did not change are updated, new template files added and dropped ones
    removed; a file you changed is kept, with the template's new version next to it as
    <file>.update to merge by hand.
    """
    from v6lib import __version__
    from v6lib.cli.template_update import read_record, update_project

    try:
        template = find_template()
        answers = None
        if change_answers:
            answers = _ask_again(template, read_record(directory)["answers"])
        report = update_project(directory, template, answers=answers, overwrite=overwrite,
                                template_version=__version__)
    except V6Error as exc:
        fail(exc)
        return
    for label, paths in (("added", report.added), ("updated", report.updated),
                         ("removed", report.removed), ("kept", report.kept)):
        for path in paths:
            click.echo(f"{label:8} {path}")
    for path in report.conflicts:
        click.echo(f"conflict {path}: yours is kept, the template's is in {path}.update")
    if not report.changed:
        click.echo("already up to date with the template")


def _add_image_commands() -> None:
    # NOTE: in their own module, which imports nothing of cookiecutter.
    from v6lib.cli.algorithm_image import build, run

    algorithm.add_command(build)
    algorithm.add_command(run)


_add_image_commands()
