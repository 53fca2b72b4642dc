"""Requirements pinned to what this Python environment has installed.

An image that must compute what the developer's environment computes (the MockNetwork,
parity tests) has to carry the same versions: pandas and numpy give other dtypes and
other rounding across versions. So a requirement is pinned to the version installed
here, and only left as written when this environment lacks it. Used by
``v6 algorithm build`` and by ``.ci/images.sh`` for the project's base image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata

__all__ = ["Requirement", "installed_version", "parse", "pinned", "pinned_closure"]

_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?"
    r"\s*(?P<spec>[^;]*?)\s*(?:;(?P<marker>.*))?$")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """The parts of a PEP 508 requirement this module needs (name, extras, the rest)."""

    name: str
    extras: tuple[str, ...] = ()
    spec: str = ""
    marker: str = ""

    @property
    def key(self) -> str:
        """The normalized name, as package indexes compare names."""
        return _normalize(self.name)

    def text(self) -> str:
        """The requirement as written, without its environment marker."""
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        return f"{self.name}{extras}{self.spec}"


def parse(line: str) -> Requirement:
    """One requirement line; ValueError when it is not one."""
    match = _REQUIREMENT.match(line)
    if match is None:
        raise ValueError(f"not a requirement: {line!r}")
    extras = tuple(e.strip() for e in (match["extras"] or "").split(",") if e.strip())
    return Requirement(match["name"], extras, match["spec"].replace(" ", ""),
                       (match["marker"] or "").strip())


def installed_version(name: str) -> str | None:
    """The version of ``name`` installed in this environment, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def pinned(specs: Iterable[str]) -> list[str]:
    """Each requirement as ``name==<installed version>``, or as written when not installed."""
    lines = []
    for spec in specs:
        requirement = parse(spec)
        version = installed_version(requirement.name)
        lines.append(f"{requirement.name}=={version}" if version else requirement.text())
    return lines


def _dependencies(requirement: Requirement) -> list[Requirement]:
    """The installed distribution's own requirements, with the extras asked for.

    Markers other than ``extra`` are not evaluated: a dependency this environment did not
    install (another platform's, another Python's) is skipped by the caller instead.
    """
    try:
        lines = metadata.requires(requirement.name) or []
    except metadata.PackageNotFoundError:
        return []
    wanted = set(requirement.extras)
    found = []
    for line in lines:
        dependency = parse(line)
        extra = _EXTRA_MARKER.search(dependency.marker)
        if extra is None or extra.group(1) in wanted:
            found.append(dependency)
    return found


def pinned_closure(specs: Iterable[str], *, keep_extras: frozenset[str] = frozenset()
                   ) -> dict[str, str]:
    """``{normalized name: requirement}`` for ``specs`` and everything they pull in.

    Installed distributions are pinned to their version (``name==1.2``); a requirement
    this environment lacks is kept as written, and its own dependencies are left to the
    installer. The extras of the names in ``keep_extras`` stay on their line
    (``v6lib[sql]==0.1``), so an installer resolves them the same way.
    """
    found: dict[str, str] = {}
    pending = [parse(spec) for spec in specs]
    extras_seen: dict[str, set[str]] = {}
    while pending:
        requirement = pending.pop()
        seen = extras_seen.setdefault(requirement.key, set())
        if requirement.key in found and set(requirement.extras) <= seen:
            continue
        seen.update(requirement.extras)
        version = installed_version(requirement.name)
        if version is None:
            if requirement.marker and not _EXTRA_MARKER.search(requirement.marker):
                continue  # another platform's or Python's dependency
            found.setdefault(requirement.key, requirement.text())
            continue
        extras = f"[{','.join(sorted(seen))}]" if seen and requirement.key in keep_extras else ""
        found[requirement.key] = f"{requirement.name}{extras}=={version}"
        pending.extend(_dependencies(Requirement(requirement.name, tuple(sorted(seen)))))
    return dict(sorted(found.items()))
