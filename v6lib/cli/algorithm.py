"""``v6 algorithm``: start a new algorithm package from the project's cookiecutter template.

The template lives in the repository (``cookiecutter-algorithm/``, the one source of
truth). It is found through ``V6_ALGORITHM_TEMPLATE``, else next to an editable install
or checkout of v6lib; a clear error says how to point at it otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from v6lib.errors import ConfigurationError

__all__ = ["TEMPLATE_ENV", "algorithm", "find_template"]

TEMPLATE_ENV = "V6_ALGORITHM_TEMPLATE"
_TEMPLATE_DIR = "cookiecutter-algorithm"


def find_template() -> Path:
    """The folder of the algorithm template.

    Raises:
        ConfigurationError: neither ``V6_ALGORITHM_TEMPLATE`` nor a checkout has it.
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

    checkout = Path(v6lib.__file__).resolve().parents[1] / _TEMPLATE_DIR
    if (checkout / "cookiecutter.json").is_file():
        return checkout
    raise ConfigurationError(
        f"the algorithm template was not found next to this v6lib installation ({checkout}); "
        f"set {TEMPLATE_ENV} to the {_TEMPLATE_DIR} folder of a v6lib checkout"
    )


@click.group()
def algorithm() -> None:
    """Create and develop algorithm packages."""


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
@click.option("--no-input", is_flag=True, help="Do not ask; use the defaults and --name.")
def new(name: str | None, directory: Path, no_input: bool) -> None:
    """Create a new algorithm package (partial and central function, Dockerfile, tests
    that run on a MockNetwork)."""
    from cookiecutter.exceptions import CookiecutterException, FailedHookException
    from cookiecutter.main import cookiecutter

    try:
        template = find_template()
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from None
    extra = {"algorithm_name": name} if name else {}
    directory.mkdir(parents=True, exist_ok=True)
    try:
        created = cookiecutter(
            str(template), no_input=no_input, output_dir=str(directory), extra_context=extra
        )
    except FailedHookException as exc:
        raise click.ClickException(
            f"the template refused the input ({exc}); the package name must be a valid "
            "Python identifier, so pick a --name made of letters, digits and spaces"
        ) from None
    except CookiecutterException as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    click.echo(f"Created {created}")
    click.echo(f"Next: cd {created} && pip install -e . && pytest")
