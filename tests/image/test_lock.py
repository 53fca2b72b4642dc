"""The image lock and the warning when the image and this environment differ."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from v6lib.image.lock import (
    ImageMismatchWarning,
    Mismatch,
    check_environment,
    labels,
    local_versions,
    mismatches,
    read_lock,
    write_lock,
)


def test_lock_round_trip_keeps_pins_and_skips_the_rest(tmp_path: Path) -> None:
    lock = write_lock(tmp_path / "v6-image.lock",
                      ["v6lib[sql]==0.1.0", "Pandas==3.0.0", "scipy>=1"], source="test")

    assert read_lock(lock) == {"v6lib": "0.1.0", "pandas": "3.0.0"}
    assert lock.read_text().startswith("# Written by `v6 algorithm build`")


def test_labels_name_each_package() -> None:
    assert labels({"pandas": "3.0.0", "numpy": "2.0"}) == {
        "org.v6lib.version.numpy": "2.0", "org.v6lib.version.pandas": "3.0.0"}


def test_mismatches_name_package_and_both_versions() -> None:
    found = mismatches({"v6lib": "0.1.0", "pandas": "2.3.2", "numpy": "2.4.6"},
                       {"v6lib": "0.1.0", "pandas": "3.1.1", "numpy": "2.4.6",
                        "pyarrow": "26.0.1"})

    assert found == [Mismatch("pandas", "2.3.2", "3.1.1"), Mismatch("pyarrow", None, "26.0.1")]
    assert str(found[0]) == "pandas: image 2.3.2, local 3.1.1"
    assert str(found[1]) == "pyarrow: image not installed, local 26.0.1"


def test_a_lock_of_another_environment_warns(tmp_path: Path) -> None:
    here = local_versions()
    lock = write_lock(tmp_path / "v6-image.lock",
                      [f"{name}=={version}" for name, version in here.items()
                       if name != "pandas"] + ["pandas==1.0.0"], source="test")

    with pytest.warns(ImageMismatchWarning,
                      match=rf"pandas: image 1\.0\.0, local {here['pandas']}"):
        found = check_environment(lock=lock)
    assert [m.package for m in found] == ["pandas"]


def test_a_lock_of_this_environment_or_none_is_silent(tmp_path: Path) -> None:
    lock = write_lock(tmp_path / "v6-image.lock",
                      [f"{name}=={version}" for name, version in local_versions().items()],
                      source="test")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_environment(lock=lock) == []
        assert check_environment(lock=tmp_path / "missing.lock") == []
        assert check_environment() == []


def test_an_image_that_is_not_there_is_nothing_to_compare(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_environment(image="v6-no-such-image:never") == []
