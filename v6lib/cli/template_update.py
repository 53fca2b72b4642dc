"""Keep an algorithm package in step with the template it was made from.

How: ``v6 algorithm create`` (or ``new``) leaves ``.v6-template.json`` in the package with
the answers it was made with and a checksum of every file the template produced.
``v6 algorithm update`` renders the current template again with those answers and, file
by file:

* a file the template added since is added;
* a file still as the template made it is replaced by the new version;
* a file the owner changed is left alone; when the template changed it too, its new
  version is written next to it as ``<file>.update`` to merge by hand (``overwrite``
  replaces the owner's file instead);
* a file the template dropped is removed when unchanged, kept otherwise;
* a file the owner deleted stays deleted.

The checksums then describe the new template version, so the next update compares the
owner's files with what this one produced (as cruft and copier do, without needing git).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from v6lib.errors import ConfigurationError

__all__ = ["RECORD", "UpdateReport", "read_record", "record_project", "render", "update_project"]

RECORD = ".v6-template.json"
CONFLICT_SUFFIX = ".update"


@dataclass
class UpdateReport:
    """What an update did, by path relative to the package."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.conflicts)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root: Path) -> dict[str, Path]:
    """Every file below ``root`` by relative path, except the record and caches."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and relative != RECORD and "__pycache__" not in path.parts:
            found[relative] = path
    return found


def read_record(project: Path) -> dict[str, Any]:
    """The package's record; ConfigurationError when it has none."""
    try:
        record = json.loads((project / RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"{project} has no {RECORD}: it was not made by `v6 algorithm create` (or by a "
            "version before updates existed); create a new package and move your code "
            "into it") from None
    except ValueError as exc:
        raise ConfigurationError(f"{project / RECORD}: not valid JSON: {exc}") from None
    if not isinstance(record, dict) or not isinstance(record.get("answers"), dict):
        raise ConfigurationError(f"{project / RECORD}: has no answers")
    return record


def record_project(project: Path, template_version: str) -> None:
    """Add the checksums of the files just made to the record the template wrote."""
    record = read_record(project)
    record["template_version"] = template_version
    record["files"] = {rel: _digest(path) for rel, path in _files(project).items()}
    (project / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def render(template: Path, answers: Mapping[str, Any], output_dir: Path) -> Path:
    """The template rendered with ``answers`` into ``output_dir``; the package folder."""
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.main import cookiecutter

    scratch = output_dir / ".cookiecutter"
    config = {"replay_dir": str(scratch / "replay"), "cookiecutters_dir": str(scratch)}
    try:
        created = cookiecutter(str(template), no_input=True, extra_context=dict(answers),
                               output_dir=str(output_dir), default_config=config)
    except CookiecutterException as exc:
        raise ConfigurationError(f"the template could not be rendered: "
                                 f"{type(exc).__name__}: {exc}") from None
    return Path(created)


def _apply(project: Path, rel: str, new: Path, recorded: Mapping[str, str],
           overwrite: bool, report: UpdateReport) -> None:
    target = project / rel
    new_digest = _digest(new)
    if not target.exists():
        if rel in recorded:
            report.kept.append(f"{rel} (deleted by you)")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(new.read_bytes())
            report.added.append(rel)
        return
    current = _digest(target)
    if current == new_digest:
        return
    if recorded.get(rel) == new_digest and not overwrite:
        return  # the template has not changed this file since: yours stays as it is
    if recorded.get(rel) == current or overwrite:
        target.write_bytes(new.read_bytes())
        report.updated.append(rel)
        return
    target.with_name(target.name + CONFLICT_SUFFIX).write_bytes(new.read_bytes())
    report.conflicts.append(rel)


def update_project(project: Path, template: Path, *, answers: Mapping[str, Any] | None = None,
                   overwrite: bool = False, template_version: str = "") -> UpdateReport:
    """Bring ``project`` to the current ``template`` (see the module docstring)."""
    record = read_record(project)
    recorded: dict[str, str] = dict(record.get("files") or {})
    chosen = {**record["answers"], **(answers or {})}
    report = UpdateReport()
    with tempfile.TemporaryDirectory(prefix="v6-template-") as scratch:
        rendered = _files(render(template, chosen, Path(scratch)))
        for rel, new in rendered.items():
            _apply(project, rel, new, recorded, overwrite, report)
        for rel, digest in recorded.items():
            if rel in rendered or not (project / rel).exists():
                continue
            if _digest(project / rel) == digest:
                (project / rel).unlink()
                report.removed.append(rel)
            else:
                report.kept.append(f"{rel} (changed by you; the template dropped it)")
        new_record = {"answers": chosen, "template_version": template_version,
                      "files": {rel: _digest(path) for rel, path in rendered.items()}}
    (project / RECORD).write_text(json.dumps(new_record, indent=2) + "\n", encoding="utf-8")
    return report
