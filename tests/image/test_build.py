"""What ``v6 algorithm build`` installs, decided without Docker (the image itself is built
in tests/integration/test_algorithm_image.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from v6lib.errors import ConfigurationError, RuntimeUnavailableError
from v6lib.image import build
from v6lib.image.build import DATA_SOURCE_EXTRAS, BuildOptions, build_image, image_requirements

ROOT = Path(__file__).resolve().parents[2]


def test_every_data_source_extra_exists_in_pyproject() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(DATA_SOURCE_EXTRAS) <= set(extras)
    for extra in DATA_SOURCE_EXTRAS:  # the reader's own hint names the extra
        assert f"v6lib[{extra}]" in (ROOT / "v6lib" / "wrappers" / "sources" /
                                     f"{extra}.py").read_text()


def test_v6lib_gets_every_database_extra_by_default() -> None:
    pyproject = {"project": {"dependencies": ["v6lib", "tabulate>=0.9"]}}

    assert image_requirements(pyproject) == ["v6lib[excel,sparql,sql]", "tabulate>=0.9"]


def test_the_package_chooses_its_extras() -> None:
    pyproject = {"project": {"dependencies": ["v6lib[sql]>=0.1"]},
                 "tool": {"v6lib": {"extras": []}}}

    assert image_requirements(pyproject) == ["v6lib[sql]"]


def test_a_folder_without_package_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"has no pyproject\.toml"):
        build_image(BuildOptions(project=tmp_path))


def test_a_missing_base_image_says_how_to_build_it(tmp_path: Path) -> None:
    import shutil

    if shutil.which("docker") is None:
        pytest.fail("needs the docker command (not an engine: the image is only looked up); "
                    "bash .ci/docker.sh installs it")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = []\n')
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")

    with pytest.raises(RuntimeUnavailableError, match=r"v6-no-such-base:never is not on this"):
        build_image(BuildOptions(project=tmp_path, base_image="v6-no-such-base:never",
                                 echo=lambda text: None))


def test_an_extra_v6lib_lacks_is_refused() -> None:
    pyproject = {"project": {"dependencies": ["v6lib"]}, "tool": {"v6lib": {"extras": ["sqll"]}}}

    with pytest.raises(ConfigurationError, match="v6lib has no extra 'sqll'"):
        image_requirements(pyproject)


def _image_says(monkeypatch: pytest.MonkeyPatch, python: str, digest: str) -> None:
    """The image's answer to the Python-and-v6lib probe (no Docker in this unit test)."""
    monkeypatch.setattr(build, "_run_python", lambda image, code: f"{python} {digest}\n")


def _here() -> tuple[str, str]:
    python, digest = subprocess.run([sys.executable, "-c", build._PYTHON_AND_V6LIB],
                                    capture_output=True, text=True, check=True,
                                    timeout=60).stdout.split()
    return python, digest


def test_a_base_image_of_another_python_is_refused_with_both_versions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    python, digest = _here()
    _image_says(monkeypatch, "3.99", digest)

    with pytest.raises(ConfigurationError,
                       match=rf"base image runs Python 3\.99, this environment Python {python}"):
        build._other_v6lib_code("base", {"v6lib": "v6lib==0.1.0"}, [])


def test_v6lib_of_this_version_with_other_code_is_installed_anew(
        monkeypatch: pytest.MonkeyPatch) -> None:
    python, digest = _here()
    lock = {"v6lib": "v6lib[sql]==0.1.0", "pandas": "pandas==3.1.1"}

    _image_says(monkeypatch, python, "0" * 64)
    assert build._other_v6lib_code("base", lock, []) == ["v6lib[sql]==0.1.0"]
    _image_says(monkeypatch, python, digest)
    assert build._other_v6lib_code("base", lock, []) == []
    # another version is fetched anyway: not asked twice
    _image_says(monkeypatch, python, "0" * 64)
    assert build._other_v6lib_code("base", lock, ["v6lib[sql]==0.1.0"]) == []
