"""Encode and decode time of big frames through ``v6lib.serialization``, and their size.

Frames (1,000,000 rows by default, 5 columns):

* ``numeric``: int64, int32, float64, float32, bool;
* ``mixed``: int64, float64 with NaN, strings (the pandas default string dtype), a
  categorical and a datetime64[us].

Each case is encoded (``dumps``) and decoded (``loads``) ``--repeat`` times; the table
gives the minimum and median wall seconds and the encoded size. ``--baseline FILE`` loads
another codec module (e.g. an earlier ``v6lib/serialization.py`` taken with ``git show``)
and measures it the same way, for comparison; a baseline that cannot carry a case
exactly is still timed (its value is not checked).

Usage::

    python benchmarks/frame_codec.py [--rows 1000000] [--repeat 3] [--baseline old.py]

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from v6lib import serialization  # noqa: E402


def frames(rows: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    floats = rng.normal(120, 15, rows)
    floats[rng.random(rows) < 0.05] = np.nan
    return {
        "numeric": pd.DataFrame({
            "id": np.arange(rows, dtype=np.int64),
            "age": rng.integers(18, 90, rows, dtype=np.int32),
            "bp": rng.normal(120, 15, rows),
            "bmi": rng.normal(26, 4, rows).astype(np.float32),
            "smoker": rng.random(rows) < 0.2,
        }),
        "mixed": pd.DataFrame({
            "id": np.arange(rows, dtype=np.int64),
            "bp": floats,
            "site": pd.Series(rng.choice(["hospital-a", "hospital-b", "clinic-c"], rows)),
            "sex": pd.Categorical(rng.choice(["F", "M"], rows)),
            "seen": pd.Series(rng.integers(1.6e15, 1.7e15, rows).view("datetime64[us]")),
        }),
    }


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_codec", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(codec: Any, frame: pd.DataFrame, repeat: int) -> tuple[list[float], list[float], int]:
    encode, decode, size = [], [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        data = codec.dumps(frame)
        encode.append(time.perf_counter() - start)
        size = len(data)
        start = time.perf_counter()
        codec.loads(data)
        decode.append(time.perf_counter() - start)
        del data
    return encode, decode, size


def _seconds(values: list[float]) -> str:
    return f"{min(values):.3f} / {statistics.median(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="another codec module to compare with")
    args = parser.parse_args()
    codecs: dict[str, Any] = {"v6lib.serialization": serialization}
    if args.baseline:
        codecs[f"baseline ({args.baseline.name})"] = _load(args.baseline)
    rows = []
    for case, frame in frames(args.rows).items():
        for name, codec in codecs.items():
            encode, decode, size = measure(codec, frame, args.repeat)
            rows.append([case, name, _seconds(encode), _seconds(decode), f"{size / 1e6:.1f}"])
    print(f"{args.rows:,} rows x 5 columns; wall seconds as min / median of {args.repeat}")
    print(tabulate(rows, headers=["frame", "codec", "encode s", "decode s", "size MB"]))


if __name__ == "__main__":
    main()
