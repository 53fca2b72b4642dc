"""``v6 algorithm build``: an algorithm package's image, with its dependencies, offline.

1. The package's own Dockerfile is built on the base image (``BASE_IMAGE`` build
   argument): it adds the package's code, nothing else.
2. The lock (``v6-image.lock`` in the package folder) pins the package's dependencies,
   v6lib with the extras its data sources need and everything they pull in, to the
   versions of this environment: the one the MockNetwork runs in.
3. Whatever the image lacks or has in another version is fetched as wheels on the host
   (``v6lib.image.wheelhouse``); v6lib itself is built from its source tree, or made
   again from its installed files when it was installed from a wheel.
4. A container of that image installs the lock from the wheels, mounted read-only and
   without network, and is committed under the tag, labelled with the versions it
   really installed: the wheels never land in a layer.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from v6lib.errors import ConfigurationError, RuntimeUnavailableError
from v6lib.image.docker_cli import docker, image_config
from v6lib.image.lock import (
    LOCK_FILE,
    PARITY_PACKAGES,
    Mismatch,
    labels,
    local_versions,
    mismatches,
    write_lock,
)
from v6lib.image.repack import installed_wheel
from v6lib.image.requirements import parse, pinned_closure
from v6lib.image.wheelhouse import build_wheel, download, source_checkout

__all__ = ["BASE_IMAGE", "DATA_SOURCE_EXTRAS", "BuildOptions", "BuildReport", "build_image",
           "default_tag", "image_requirements", "install_offline"]

BASE_IMAGE = "v6lib-base:latest"
#: v6lib's extras that add a database type (SQL, SPARQL, Excel) to the wrapper's readers
DATA_SOURCE_EXTRAS = ("sql", "sparql", "excel")
_WHEELS_IN_CONTAINER = "/v6-wheels"
_LOCK_IN_CONTAINER = "/v6-image.lock"
# Prints {normalized name: version} of every distribution, the last line of the output.
_LIST_VERSIONS = ("import json, re, importlib.metadata as m; print(json.dumps({re.sub("
                  "r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
                  "for d in m.distributions()}))")
# Prints the Python version and a digest of v6lib's Python sources as installed (found
# without importing v6lib): run here and in the image, the digest tells a v6lib of the
# same version but other code (a development build) from the one the MockNetwork runs.
# The template is not run code.
_PYTHON_AND_V6LIB = ("import sys, hashlib, importlib.util as u, pathlib; r = pathlib.Path("
                     "next(iter(u.find_spec('v6lib').submodule_search_locations))); "
                     "h = hashlib.sha256(); [h.update(p.relative_to(r).as_posix().encode() "
                     "+ bytes(1) + p.read_bytes()) for p in sorted(r.rglob('*.py')) if "
                     "'_algorithm_template' not in p.parts]; "
                     "print('%d.%d' % sys.version_info[:2], h.hexdigest())")


@dataclass(frozen=True)
class BuildOptions:
    """What ``v6 algorithm build`` was asked for."""

    project: Path
    tag: str | None = None
    base_image: str = BASE_IMAGE
    find_links: tuple[Path, ...] = ()
    wheelhouse: Path | None = None
    echo: Callable[[str], None] = print


@dataclass(frozen=True)
class BuildReport:
    """The image built, its lock, and the parity packages it differs in (if any)."""

    tag: str
    lock: Path
    versions: dict[str, str]
    fetched: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)


def _pyproject(project: Path) -> dict[str, object]:
    path = project / "pyproject.toml"
    if not path.is_file():
        raise ConfigurationError(
            f"{project} has no pyproject.toml: run `v6 algorithm build` in an algorithm "
            "package's folder (one made by `v6 algorithm new`), or pass --path")
    if not (project / "Dockerfile").is_file():
        raise ConfigurationError(f"{project} has no Dockerfile to build the image from")
    with path.open("rb") as handle:
        return tomllib.load(handle)


def image_requirements(pyproject: dict[str, object]) -> list[str]:
    """The package's dependencies, with v6lib and the extras of its data sources.

    ``[tool.v6lib] extras = [...]`` chooses the extras; by default every data-source
    extra, since the node, not the algorithm, decides which kind of database a task reads.
    A ``v6lib[...]`` dependency adds its extras too.

    Raises:
        ConfigurationError: an extra v6lib does not have (a typo would install nothing).
    """
    project = pyproject.get("project") or {}
    assert isinstance(project, dict)
    tools = pyproject.get("tool") or {}
    assert isinstance(tools, dict)
    tool = tools.get("v6lib") or {}
    extras = set(tool.get("extras", DATA_SOURCE_EXTRAS))
    requirements = []
    for line in project.get("dependencies", []):
        requirement = parse(line)
        if requirement.key == "v6lib":
            extras.update(requirement.extras)
        else:
            requirements.append(line)
    unknown = sorted(extras - set(metadata.metadata("v6lib").get_all("Provides-Extra") or []))
    if unknown:
        raise ConfigurationError(
            f"v6lib has no extra {', '.join(map(repr, unknown))} (asked for in "
            "pyproject.toml); its database extras are " + ", ".join(DATA_SOURCE_EXTRAS))
    return [f"v6lib[{','.join(sorted(extras))}]" if extras else "v6lib", *requirements]


def default_tag(pyproject: dict[str, object]) -> str:
    """``<distribution name>:latest``: the image name a package gets unless told another."""
    project = pyproject.get("project") or {}
    assert isinstance(project, dict)
    name = re.sub(r"[^a-z0-9._-]+", "-", str(project.get("name", "algorithm")).lower())
    return f"{name}:latest"


def _require_image(image: str) -> None:
    """Refuse early, and say how to get it, when the base image is not on this engine."""
    try:
        image_config(image)
    except RuntimeUnavailableError as exc:
        if "No such image" not in exc.message:
            raise  # no docker command, or no engine: its own message says so
        raise RuntimeUnavailableError(
            f"the base image {image} is not on this Docker engine (no registry is asked); "
            "build it with `bash .ci/images.sh` in a v6lib checkout, or name another with "
            "--base-image") from None


def _run_python(image: str, code: str) -> str:
    return docker(["run", "--rm", "--network", "none", "--entrypoint", "python3", image,
                   "-c", code])


def _last_json(output: str) -> dict[str, str]:
    lines = output.strip().splitlines()
    found: dict[str, str] = json.loads(lines[-1]) if lines else {}
    return found


def _missing(lock: dict[str, str], installed: dict[str, str]) -> list[str]:
    """The lock lines the image does not satisfy yet."""
    missing = []
    for key, line in lock.items():
        requirement = parse(line)
        wanted = requirement.spec[2:] if requirement.spec.startswith("==") else None
        if key not in installed or (wanted is not None and installed[key] != wanted):
            missing.append(line)
    return missing


def _python_and_v6lib(image: str) -> tuple[str, str]:
    """The image's and this environment's Python (``3.11``) and v6lib digest, each
    ``"<python> <digest>"``.

    Raises:
        ConfigurationError: the two Pythons differ. The wheels fetched here are for the
            image's Python and the lock pins this one's versions: a lock of another
            Python may name versions the image's cannot install, and the MockNetwork
            would not run what the image runs.
    """
    here = subprocess.run([sys.executable, "-c", _PYTHON_AND_V6LIB], capture_output=True,
                          text=True, check=False, timeout=120).stdout.strip()
    there = _run_python(image, _PYTHON_AND_V6LIB).strip()
    python_here = f"{sys.version_info.major}.{sys.version_info.minor}"
    python_there = there.split(" ", 1)[0]
    if python_there != python_here:
        raise ConfigurationError(
            f"the base image runs Python {python_there}, this environment Python "
            f"{python_here}: build in a Python {python_there} environment (the image gets "
            "the versions of the environment that runs your MockNetwork tests), or name a "
            f"base image with Python {python_here} in --base-image")
    return here, there


def _other_v6lib_code(image: str, lock: dict[str, str], missing: list[str]) -> list[str]:
    """The lock's v6lib line when the image has v6lib at this version but with other code
    (both development builds of one version), so it must be installed anew; else none."""
    here, there = _python_and_v6lib(image)
    line = lock.get("v6lib")
    if line is None or line in missing or here == there:
        return []
    return [line]


def _fetch(missing: list[str], wheelhouse: Path, options: BuildOptions) -> None:
    """Wheels for the ``missing`` lines: v6lib from its source tree or, installed from a
    wheel, from its installed files; the rest downloaded."""
    others = []
    for line in missing:
        if parse(line).key != "v6lib":
            others.append(line)
            continue
        checkout = source_checkout()
        if checkout is not None:
            build_wheel(checkout, wheelhouse)
        else:  # installed from a wheel: no index serves v6lib, so the installed files
            options.echo(f"  {line}: the wheel made again from this environment's files")
            installed_wheel("v6lib", wheelhouse)
    # A lock pins the whole closure: then each wheel alone is enough (no resolver run).
    download(others, wheelhouse, find_links=options.find_links,
             no_deps=all(parse(line).spec.startswith("==") for line in others))


def install_offline(image: str, tag: str, title: str, wheelhouse: Path, lock: Path,
                    *, reinstall: tuple[str, ...] = ()) -> dict[str, str]:
    """Install the requirements file ``lock`` from ``wheelhouse`` into a container of
    ``image`` without network, and commit it as ``tag`` (the image's command, entrypoint
    and user kept); the versions of every distribution it then holds. ``reinstall``
    names requirements installed anew first (without their dependencies) even where the
    image has their version: the same version with other code.

    Raises:
        RuntimeUnavailableError: a docker step (the install among them) failed.
    """
    config = image_config(image)
    name = f"v6-algorithm-build-{uuid.uuid4().hex[:8]}"
    pip = ("python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check "
           f"--no-index --find-links {_WHEELS_IN_CONTAINER}")
    first = (f"{pip} --no-deps --force-reinstall {' '.join(map(shlex.quote, reinstall))} && "
             if reinstall else "")
    script = f'{first}{pip} -r {_LOCK_IN_CONTAINER} && python3 -c "{_LIST_VERSIONS}"'
    user = ["--user", "0"] if config.get("User") else []
    # An image without an entrypoint keeps none: only the command is replaced, and restored.
    entrypoint = ["--entrypoint", "sh"] if config.get("Entrypoint") else []
    command = ["-c", script] if entrypoint else ["sh", "-c", script]
    try:
        output = docker(["run", "--name", name, "--network", "none", *user,
                         "-v", f"{wheelhouse.resolve()}:{_WHEELS_IN_CONTAINER}:ro",
                         "-v", f"{lock.resolve()}:{_LOCK_IN_CONTAINER}:ro",
                         *entrypoint, image, *command])
        installed = _last_json(output)
        recorded = {key: installed[key] for key in PARITY_PACKAGES if key in installed}
        changes = [f"CMD {json.dumps(config.get('Cmd') or [])}"]
        if entrypoint:
            changes.append(f"ENTRYPOINT {json.dumps(config['Entrypoint'])}")
        if config.get("User"):
            changes.append(f"USER {config['User']}")
        changes.append(f"LABEL org.opencontainers.image.title={title}")
        changes += [f"LABEL {key}={value}" for key, value in labels(recorded).items()]
        docker(["commit", *[arg for change in changes for arg in ("--change", change)],
                name, tag])
    finally:
        docker(["rm", "-f", name])
    return installed


def _default_wheelhouse() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "v6lib" / "wheelhouse"


def build_image(options: BuildOptions) -> BuildReport:
    """Build the package's image (see the module); the report says what it holds.

    Raises:
        ConfigurationError: no package there, or wheels that cannot be had.
        RuntimeUnavailableError: Docker is missing or a docker step failed.
    """
    project = options.project.resolve()
    pyproject = _pyproject(project)
    tag = options.tag or default_tag(pyproject)
    wheelhouse = options.wheelhouse or _default_wheelhouse()
    lock_lines = pinned_closure(image_requirements(pyproject), keep_extras=frozenset({"v6lib"}))
    lock = write_lock(project / LOCK_FILE, list(lock_lines.values()),
                      source=f"{project.name}/pyproject.toml")
    options.echo(f"v6 algorithm build: {len(lock_lines)} pinned requirements in {lock}")
    _require_image(options.base_image)
    built = docker(["build", "--quiet", "--force-rm", "--build-arg",
                    f"BASE_IMAGE={options.base_image}", str(project)]).strip()
    missing = _missing(lock_lines, _last_json(_run_python(built, _LIST_VERSIONS)))
    reinstall = _other_v6lib_code(built, lock_lines, missing)
    if missing or reinstall:
        options.echo(f"  fetching wheels into {wheelhouse}: {', '.join(missing + reinstall)}")
        _fetch(missing + reinstall, wheelhouse, options)
    wheelhouse.mkdir(parents=True, exist_ok=True)
    installed = install_offline(built, tag, tag.rsplit(":", 1)[0], wheelhouse, lock,
                                reinstall=tuple(reinstall))
    versions = {name: installed[name] for name in PARITY_PACKAGES if name in installed}
    found = mismatches(versions, local_versions())
    options.echo(f"  built {tag}: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    for mismatch in found:
        options.echo(f"  WARNING: the image and this environment differ: {mismatch}")
    return BuildReport(tag=tag, lock=lock, versions=versions, fetched=missing,
                       mismatches=found)

