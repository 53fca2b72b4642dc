"""Requirements pinned to this environment: what the image installs."""

from __future__ import annotations

from importlib import metadata

import pytest

from v6lib.image.requirements import parse, pinned, pinned_closure


def test_parse_reads_name_extras_spec_and_marker() -> None:
    requirement = parse('v6lib[sql, excel] >= 0.1 ; python_version >= "3.11"')

    assert (requirement.name, requirement.extras, requirement.spec) == (
        "v6lib", ("sql", "excel"), ">=0.1")
    assert requirement.marker == 'python_version >= "3.11"'
    assert requirement.text() == "v6lib[sql,excel]>=0.1"
    assert parse("Typing_Extensions").key == "typing-extensions"


def test_parse_refuses_what_is_no_requirement() -> None:
    with pytest.raises(ValueError, match="not a requirement"):
        parse("==1.0")


def test_installed_requirements_are_pinned_to_their_version_others_kept() -> None:
    assert pinned(["pandas>=2.1", "surely-not-installed-v6>=1"]) == [
        f"pandas=={metadata.version('pandas')}", "surely-not-installed-v6>=1"]


def test_closure_follows_dependencies_and_the_extras_asked_for() -> None:
    plain = pinned_closure(["v6lib"])
    with_sql = pinned_closure(["v6lib[sql]"], keep_extras=frozenset({"v6lib"}))

    for name in ("pandas", "numpy", "pyarrow"):
        assert plain[name] == f"{name}=={metadata.version(name)}"
    assert "sqlalchemy" not in plain  # only with the extra
    assert with_sql["sqlalchemy"] == f"sqlalchemy=={metadata.version('sqlalchemy')}"
    assert with_sql["v6lib"] == f"v6lib[sql]=={metadata.version('v6lib')}"
    assert plain["v6lib"] == f"v6lib=={metadata.version('v6lib')}"
