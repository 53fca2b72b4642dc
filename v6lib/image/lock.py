"""The image lock: which versions an algorithm image carries, and whether they match.

``v6 algorithm build`` writes ``v6-image.lock`` into the package folder (a pip
requirements file, every line ``name==version``) and labels the image with the versions
it really installed. Results computed on a MockNetwork only predict the image's when
both run the same v6lib, pandas, numpy and pyarrow; :func:`mismatches` says where they
do not, with both versions, and :func:`check_environment` warns about it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from v6lib.image.requirements import installed_version, parse

__all__ = ["LABEL_PREFIX", "LOCK_FILE", "PARITY_PACKAGES", "ImageMismatchWarning", "Mismatch",
           "check_environment", "image_versions", "labels", "local_versions", "lock_beside",
           "mismatches", "read_lock", "write_lock"]

LOCK_FILE = "v6-image.lock"
LABEL_PREFIX = "org.v6lib.version."
#: the distributions whose versions decide whether the mock predicts the image's results
PARITY_PACKAGES = ("v6lib", "pandas", "numpy", "pyarrow")


class ImageMismatchWarning(UserWarning):
    """The algorithm image and this environment carry different versions of a package.

    A warning, not an error: the results may still agree, but a MockNetwork run no longer
    proves what the image computes.
    """


@dataclass(frozen=True)
class Mismatch:
    """One package whose version differs between the image and this environment."""

    package: str
    image: str | None
    local: str | None

    def __str__(self) -> str:
        return (f"{self.package}: image {self.image or 'not installed'}, "
                f"local {self.local or 'not installed'}")


def write_lock(path: Path, lines: list[str], *, source: str) -> Path:
    """Write the lock ``lines`` (requirements) with a header that says where they came from."""
    header = [f"# Written by `v6 algorithm build` from {source}: the versions the image",
              "# installs, those of the environment that built it. Do not edit; rebuild."]
    path.write_text("\n".join([*header, *lines, ""]), encoding="utf-8")
    return path


def read_lock(path: Path) -> dict[str, str]:
    """``{name: version}`` of the pinned lines of a lock file (other lines are skipped)."""
    versions = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = parse(line)
        if requirement.spec.startswith("=="):
            versions[requirement.key] = requirement.spec[2:]
    return versions


def lock_beside(module: ModuleType) -> Path | None:
    """Where ``v6 algorithm build`` writes the lock of ``module``'s package, if it has a file.

    The package folder's parent for a package (``pkg/__init__.py``), else the module's
    own folder: the folder of the package's ``pyproject.toml``.
    """
    source = getattr(module, "__file__", None)
    if not source:
        return None
    path = Path(source).resolve()
    folder = path.parents[1] if path.name == "__init__.py" else path.parent
    return folder / LOCK_FILE


def labels(versions: Mapping[str, str]) -> dict[str, str]:
    """The image labels that record ``versions`` (``org.v6lib.version.pandas=3.1.1``)."""
    return {f"{LABEL_PREFIX}{name}": version for name, version in sorted(versions.items())}


def local_versions(packages: tuple[str, ...] = PARITY_PACKAGES) -> dict[str, str | None]:
    """The versions this environment has of ``packages`` (None: not installed)."""
    return {name: installed_version(name) for name in packages}


def mismatches(image: Mapping[str, str | None],
               local: Mapping[str, str | None] | None = None) -> list[Mismatch]:
    """The parity packages whose image and local versions differ."""
    local = local_versions() if local is None else local
    return [Mismatch(name, image.get(name), local.get(name))
            for name in PARITY_PACKAGES if image.get(name) != local.get(name)]


def image_versions(image: str) -> dict[str, str]:
    """The versions an image built by ``v6 algorithm build`` records in its labels.

    Reads them with the ``docker`` command (no container is started); an empty mapping
    when Docker or the image is not there, or the image has no such labels.
    """
    docker = shutil.which("docker")
    if docker is None:
        return {}
    inspected = subprocess.run([docker, "image", "inspect", "--format",
                                "{{json .Config.Labels}}", image],
                               capture_output=True, text=True, check=False, timeout=30)
    if inspected.returncode != 0:
        return {}
    found = json.loads(inspected.stdout or "null") or {}
    return {key[len(LABEL_PREFIX):]: value for key, value in found.items()
            if key.startswith(LABEL_PREFIX)}


def check_environment(*, lock: Path | None = None, image: str | None = None,
                      stacklevel: int = 2) -> list[Mismatch]:
    """Warn (:class:`ImageMismatchWarning`) when this environment differs from an image.

    The image's versions come from ``image``'s labels when given, else from the ``lock``
    file; with neither (or nothing readable) there is nothing to compare and nothing is
    said. Returns the mismatches found.
    """
    recorded: dict[str, str] = {}
    where = ""
    if image:
        recorded, where = image_versions(image), f"image {image}"
    if not recorded and lock is not None and lock.is_file():
        recorded, where = read_lock(lock), f"{lock}"
    if not recorded:
        return []
    found = mismatches(recorded)
    if found:
        warnings.warn(
            f"the algorithm image ({where}) and this environment differ: "
            + "; ".join(map(str, found))
            + ". Results here may differ from the image's: rebuild it with "
              "`v6 algorithm build` in this environment",
            ImageMismatchWarning, stacklevel=stacklevel + 1)
    return found
