"""Synthetic patient tables for the demo federation: one realistic CSV per site.

Each site has its own population (age mix, share of women, smoking rate), so the
federated average is visibly not the average of one site. A seeded generator makes
every run of the demo produce the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["SITES", "Site", "central_mean", "generate_site", "write_sites"]


@dataclass(frozen=True)
class Site:
    """The population profile of one demo organization."""

    name: str
    city: str
    country: str
    patients: int
    mean_age: float
    sd_age: float
    share_female: float
    share_smokers: float


SITES: tuple[Site, ...] = (
    Site("Amsterdam University Hospital", "Amsterdam", "Netherlands", 1200, 58.0, 14.0,
         0.52, 0.18),
    Site("Leuven Regional Clinic", "Leuven", "Belgium", 450, 47.0, 16.0, 0.55, 0.24),
    Site("Heidelberg Cancer Registry", "Heidelberg", "Germany", 1900, 64.0, 11.0, 0.47, 0.21),
)


def generate_site(site: Site, rng: np.random.Generator, prefix: str = "P") -> pd.DataFrame:
    """One site's patients: id, age, sex, bmi, systolic_bp, smoker."""
    n = site.patients
    age = np.clip(np.rint(rng.normal(site.mean_age, site.sd_age, n)), 18, 99).astype(int)
    female = rng.random(n) < site.share_female
    smoker = (rng.random(n) < site.share_smokers).astype(int)
    bmi = np.round(np.clip(rng.normal(26.5 + 0.03 * (age - 50), 4.2, n), 15.0, 55.0), 1)
    systolic = np.rint(np.clip(
        rng.normal(112 + 0.45 * age + 0.6 * (bmi - 25) + 4 * smoker - 3 * female, 12, n),
        85, 220)).astype(int)
    return pd.DataFrame({
        "id": [f"{prefix}{i:05d}" for i in range(1, n + 1)],
        "age": age,
        "sex": np.where(female, "F", "M"),
        "bmi": bmi,
        "systolic_bp": systolic,
        "smoker": smoker,
    })


def write_sites(directory: Path, seed: int = 6, sites: tuple[Site, ...] = SITES) -> list[Path]:
    """Write ``site_1.csv``... into ``directory``; returns the paths in site order."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, site in enumerate(sites, start=1):
        frame = generate_site(site, rng, prefix=f"S{number}-")
        path = directory / f"site_{number}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def central_mean(paths: list[Path], column: str) -> tuple[float, int]:
    """The check value: pandas' mean of ``column`` over all files pooled, and the count."""
    pooled = pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)
    values = pooled[column].dropna()
    return float(values.mean()), int(values.count())
