"""Demo data: deterministic, realistic ranges, visibly different sites, correct check value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from v6lib.demo.data import SITES, central_mean, generate_site, write_sites


def test_same_seed_same_files(tmp_path: Path) -> None:
    first = write_sites(tmp_path / "a", seed=3)
    second = write_sites(tmp_path / "b", seed=3)
    other = write_sites(tmp_path / "c", seed=4)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert first[0].read_bytes() != other[0].read_bytes()


def test_columns_and_ranges(tmp_path: Path) -> None:
    paths = write_sites(tmp_path)
    assert [p.name for p in paths] == ["site_1.csv", "site_2.csv", "site_3.csv"]
    for path, site in zip(paths, SITES, strict=True):
        frame = pd.read_csv(path)
        assert list(frame.columns) == ["id", "age", "sex", "bmi", "systolic_bp", "smoker"]
        assert len(frame) == site.patients and 200 <= site.patients <= 2000
        assert frame["id"].is_unique
        assert frame["age"].between(18, 99).all()
        assert set(frame["sex"]) == {"F", "M"}
        assert frame["bmi"].between(15, 55).all()
        assert frame["systolic_bp"].between(85, 220).all()
        assert set(frame["smoker"]) <= {0, 1}


def test_sites_differ_as_profiled() -> None:
    rng = np.random.default_rng(1)
    means = [generate_site(site, rng)["age"].mean() for site in SITES]
    # Each site's mean age lands near its profile, so the pooled mean is not any one site's.
    for mean, site in zip(means, SITES, strict=True):
        assert abs(mean - site.mean_age) < 2.5
    assert max(means) - min(means) > 10


def test_central_mean_pools_all_rows(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame({"age": [10, 20]}).to_csv(a, index=False)
    pd.DataFrame({"age": [60, None]}).to_csv(b, index=False)
    assert central_mean([a, b], "age") == (30.0, 3)
