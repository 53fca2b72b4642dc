"""Federated average on the MockNetwork next to plain pandas on the same files.

Cases (data generated once into ``--data-dir``, default a fresh temporary folder):

* ``10x1M-parquet``: 10 organizations with 1,000,000 rows each, Parquet;
* ``10x1M-csv``: the same rows as CSV;
* ``200x10k-csv``: 200 organizations with 10,000 rows each, CSV.

Each (case, mode) runs in its own subprocess, so peak memory (``ru_maxrss``) belongs to
that case alone. Modes:

* ``pandas``: read every file whole, sum and count the column file by file, drop the
  frame;
* ``pandas-column``: the same reading only the averaged column (``columns=`` /
  ``usecols=``): the fastest honest single-process way, and the fair baseline, since the
  example's ``partial_average`` asks for that one column (``from_argument("column")``);
* ``pandas-keep``: like ``pandas-column``, but keeping every frame in memory, as any
  cache must;
* ``mock``: a MockNetwork running the example's ``central_average`` (fan-out subtask,
  real wrapper, serialization and client) with its default per-organization frame cache;
  "warm" is a second run on the same network (every frame already cached);
* ``mock-nocache``: the same with ``cache_data=False`` (frames dropped after each run).

Every mode reads the same files and must find the same mean. Each mode runs ``--repeat``
times, modes alternating (the machine may be shared); the table gives min and median
wall seconds, and the mock's ratio to both pandas baselines. Targets: the cold mock run
of ``10x1M-parquet`` within 1.25x of ``pandas-column``; ``200x10k-csv`` under 5 s.

Usage::

    python benchmarks/mock_network.py [--data-dir DIR] [--cases 10x1M-parquet,200x10k-csv]

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMN = "systolic_bp"
CASES = {
    "10x1M-parquet": (10, 1_000_000, "parquet"),
    "10x1M-csv": (10, 1_000_000, "csv"),
    "200x10k-csv": (200, 10_000, "csv"),
}


def _generate(directory: Path, organizations: int, rows: int, kind: str) -> list[Path]:
    import numpy as np
    import pandas as pd

    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"org{n:03d}.{kind}" for n in range(organizations)]
    missing = [p for p in paths if not p.exists()]
    for n, path in enumerate(paths):
        if path not in missing:
            continue
        rng = np.random.default_rng(n)
        age = rng.integers(18, 95, rows)
        frame = pd.DataFrame(
            {
                "id": np.arange(n * rows, (n + 1) * rows, dtype=np.int64),
                "age": age,
                "sex": rng.choice(np.array(["F", "M"]), rows),
                "bmi": rng.normal(27.0, 4.5, rows).round(1),
                COLUMN: (100 + 0.5 * age + rng.normal(0, 10, rows)).round(),
            }
        )
        tmp = path.with_suffix(path.suffix + ".tmp")
        if kind == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
        tmp.replace(path)
    return paths


MODES = ("pandas", "pandas-column", "pandas-keep", "mock", "mock-nocache")


def _pandas(paths: list[Path], kind: str, keep: list[object] | None, projected: bool) -> float:
    import pandas as pd

    columns = [COLUMN] if projected else None
    total = 0.0
    count = 0
    for path in paths:
        if kind == "parquet":
            frame = pd.read_parquet(path, columns=columns)
        else:
            frame = pd.read_csv(path, usecols=columns)
        total += float(frame[COLUMN].sum())
        count += int(frame[COLUMN].count())
        if keep is not None:
            keep.append(frame)
    return total / count


def _child(case: str, mode: str, data_dir: Path) -> dict[str, float]:
    organizations, _rows, kind = CASES[case]
    paths = sorted((data_dir / case).glob(f"org*.{kind}"))
    assert len(paths) == organizations, f"data of {case} is incomplete"
    import pandas  # noqa: F401  (imported before the clock starts, as the mock is)

    sys.path.insert(0, str(ROOT / "examples" / "average"))
    import v6_average

    from v6lib.mock import MockNetwork

    figures: dict[str, float] = {}
    kept: list[object] = []
    cpu = time.process_time()
    started = time.perf_counter()
    if mode.startswith("pandas"):
        average = _pandas(paths, kind, kept if mode == "pandas-keep" else None,
                          projected=mode != "pandas")
    else:
        network = MockNetwork(v6_average, paths, cache_data=mode == "mock")
        [result] = network.run("central_average", kwargs={"column": COLUMN})
        average = result["average"]
        figures["seconds"] = time.perf_counter() - started
        figures["cpu_seconds"] = time.process_time() - cpu
        figures["warm_seconds"] = _timed(network)
        network.close()
    figures.setdefault("seconds", time.perf_counter() - started)
    figures.setdefault("cpu_seconds", time.process_time() - cpu)
    figures["average"] = average
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def _timed(network: object) -> float:
    """Wall seconds of a second run on the same network (frames cached, if caching)."""
    started = time.perf_counter()
    network.run("central_average", kwargs={"column": COLUMN})  # type: ignore[attr-defined]
    return time.perf_counter() - started


def _run_case(case: str, mode: str, data_dir: Path) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", case, mode, "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _measure(case: str, data_dir: Path, repeat: int) -> list[str]:
    """Alternate the modes' processes ``repeat`` times (the machine may be shared, so
    alternating spreads the noise evenly); the row of the table for ``case``."""
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(repeat):
        for mode in MODES:
            runs[mode].append(_run_case(case, mode, data_dir))
    reference = runs["pandas"][0]["average"]
    for figures in (f for values in runs.values() for f in values):
        assert abs(figures["average"] - reference) <= 1e-9 * abs(reference), case

    def best(mode: str, key: str = "seconds") -> float:
        return min(v[key] for v in runs[mode])

    def median(mode: str) -> float:
        return statistics.median(v["seconds"] for v in runs[mode])

    def ratio(mode: str, base: str) -> str:
        return f"{best(mode) / best(base):.2f}x / {median(mode) / median(base):.2f}x"

    return [
        case,
        f"{best('pandas'):.2f} / {median('pandas'):.2f}",
        f"{best('pandas-column'):.2f} / {median('pandas-column'):.2f}",
        f"{best('pandas-keep'):.2f}",
        f"{best('mock'):.2f} / {median('mock'):.2f}",
        ratio("mock", "pandas-column"),
        ratio("mock", "pandas"),
        f"{best('mock-nocache'):.2f} / {median('mock-nocache'):.2f}",
        ratio("mock-nocache", "pandas-column"),
        f"{best('mock', 'warm_seconds'):.3f}",
        f"{best('pandas-column', 'cpu_seconds'):.2f} / {best('mock', 'cpu_seconds'):.2f} / "
        f"{best('mock-nocache', 'cpu_seconds'):.2f}",
        " / ".join(
            f"{max(v['peak_rss_mb'] for v in runs[m]):.0f}"
            for m in ("pandas-column", "mock", "mock-nocache")
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where to keep the generated files (reused when present)",
    )
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeat", type=int, default=3, help="processes per case and mode")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], args.data_dir)))
        return

    from tabulate import tabulate

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="v6bench-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        rows = []
        for case in cases:
            organizations, n_rows, kind = CASES[case]
            begun = time.perf_counter()
            _generate(data_dir / case, organizations, n_rows, kind)
            print(f"{case}: data ready in {time.perf_counter() - begun:.1f} s", file=sys.stderr)
            rows.append(_measure(case, data_dir, args.repeat))
    print(
        f"wall seconds as min / median of {args.repeat} processes each; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        tabulate(
            rows,
            headers=[
                "case",
                "pandas all\ncolumns s\nmin / med",
                "pandas one\ncolumn s\nmin / med",
                "pandas keeping\nframes s",
                "mock s\nmin / med",
                "mock / pandas\none column\nmin / med",
                "mock / pandas\nall columns\nmin / med",
                "mock no cache s\nmin / med",
                "no cache / pandas\none column\nmin / med",
                "mock warm\nrun s",
                "CPU s pandas one\ncolumn / mock /\nno cache",
                "peak RSS MB pandas\none column / mock /\nno cache",
            ],
        )
    )


if __name__ == "__main__":
    main()
