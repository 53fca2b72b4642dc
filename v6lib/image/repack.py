"""A wheel of an installed pure-Python distribution, rebuilt from the files it installed.

``v6 algorithm build`` puts the developer's own v6lib into the image when the base image
has another version. From a source tree it builds the wheel; a developer who installed
v6lib from a wheel has no source tree, and no index serves v6lib, so the wheel is made
again from what the installer recorded (``RECORD``): the same files, the installer's own
bookkeeping (``INSTALLER``, ``REQUESTED``, ``direct_url.json``), byte-code caches and
scripts outside the package (the installer writes them anew from ``entry_points.txt``)
left out, and a fresh ``RECORD`` with each file's hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zipfile
from importlib import metadata
from pathlib import Path

from v6lib.errors import ConfigurationError

__all__ = ["installed_wheel"]

_INSTALLER_FILES = frozenset({"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"})


def _hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode('ascii')}"


def _packed(path: metadata.PackagePath, dist_info: str) -> bool:
    """Whether an installed file belongs in the wheel (see the module)."""
    parts = path.parts
    if not parts or parts[0] == ".." or "__pycache__" in parts or path.suffix == ".pyc":
        return False
    return not (parts[0] == dist_info and len(parts) == 2 and parts[1] in _INSTALLER_FILES)


def _editable(dist: metadata.Distribution) -> bool:
    """Installed as a link to a source tree (PEP 660): its files are not the package's."""
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return False
    return bool(isinstance(direct, dict) and (direct.get("dir_info") or {}).get("editable"))


def installed_wheel(name: str, dest: Path) -> Path:
    """Write the wheel of the installed distribution ``name`` into ``dest``; its path.

    Raises:
        ConfigurationError: ``name`` is not installed, is installed in a way that left
            its files elsewhere (editable, a source tree), or is not pure Python.
    """
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise ConfigurationError(f"{name} is not installed in this environment") from None
    wheel_info = dist.read_text("WHEEL") or ""
    tags = re.findall(r"^Tag:\s*(\S+)\s*$", wheel_info, re.M)
    if "Root-Is-Purelib: true" not in wheel_info or not tags:
        raise ConfigurationError(
            f"{name} {dist.version} was not installed from a pure-Python wheel, so no wheel "
            "can be made again from its files; install it from its wheel or a source tree")
    files = [f for f in dist.files or [] if f.parts]
    dist_info = next((f.parts[0] for f in files if f.parts[0].endswith(".dist-info")), "")
    packed = [f for f in files if _packed(f, dist_info)]
    if _editable(dist) or not any(f.parts[0] != dist_info for f in packed):
        raise ConfigurationError(
            f"{name} {dist.version} is installed without its files (an editable install?); "
            "build the image from its source tree instead")
    distribution = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{distribution}-{dist.version}-{tags[0]}.whl"
    record = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(packed, key=lambda f: (f.parts[0] == dist_info, str(f))):
            data = Path(str(dist.locate_file(path))).read_bytes()
            archive.writestr(path.as_posix(), data)
            record.append(f"{path.as_posix()},{_hash(data)},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return wheel
