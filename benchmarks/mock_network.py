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
of ``10x1M-parquet`` within 1.25x of ``pandas-column``; ``200x10k-csv`` under 1 s.

A second table gives the mock's **overhead per run**: the example's ``partial_average``
at 50 organizations holding 3 rows each in memory, repeated ``--overhead-tasks`` times
after a warm-up task, so what is timed is the mock's own work for a run (task and run
records, input and result serialization, the run's folder, files and environment, the
sandbox, dispatch), not reading data. Sequentially (``sequential=True``, in the calling
thread) and concurrently (the default thread pool), with the sandbox and, where the
MockNetwork has the option, without it (``sandbox=False``); wall and CPU microseconds
per run.

Usage::

    python benchmarks/mock_network.py [--data-dir DIR] [--cases 10x1M-parquet,200x10k-csv]
    python benchmarks/mock_network.py --cases ""     # the overhead table only

Prints tables; asserts nothing.
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
# NOTE: the v6lib of this checkout, not whichever one the interpreter has installed, so
# a branch measures its own mock (the children inherit this by running this file).
sys.path.insert(0, str(ROOT))
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


OVERHEAD_ORGANIZATIONS = 50
OVERHEAD_MODES = ("sequential", "concurrent", "sequential-nosandbox", "concurrent-nosandbox")


def _overhead_child(mode: str, tasks: int) -> dict[str, float]:
    """Wall and CPU microseconds per run of ``partial_average`` on tiny in-memory frames;
    empty when this MockNetwork cannot run ``mode`` (no ``sandbox`` option)."""
    import inspect

    import pandas as pd

    sys.path.insert(0, str(ROOT / "examples" / "average"))
    import v6_average

    from v6lib.mock import MockNetwork

    options: dict[str, object] = {"sequential": mode.startswith("sequential")}
    if mode.endswith("nosandbox"):
        if "sandbox" not in inspect.signature(MockNetwork).parameters:
            return {}
        options["sandbox"] = False
    frames = [pd.DataFrame({COLUMN: [float(n), 1.0, 2.0]}) for n in range(OVERHEAD_ORGANIZATIONS)]
    with MockNetwork(v6_average, frames, **options) as network:
        network.run("partial_average", kwargs={"column": COLUMN})  # warm-up
        cpu = time.process_time()
        started = time.perf_counter()
        for _ in range(tasks):
            network.run("partial_average", kwargs={"column": COLUMN})
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    runs = tasks * OVERHEAD_ORGANIZATIONS
    return {"wall_us": wall / runs * 1e6, "cpu_us": cpu / runs * 1e6}


def _overhead_table(repeat: int, tasks: int) -> tuple[list[list[str]], list[str]]:
    """Rows (mode, wall µs min / median, CPU µs min) of ``repeat`` processes per mode."""
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in OVERHEAD_MODES}
    for _ in range(repeat):
        for mode in OVERHEAD_MODES:
            output = subprocess.run(
                [sys.executable, __file__, "--overhead-child", mode,
                 "--overhead-tasks", str(tasks)],
                check=True, capture_output=True, text=True,
            ).stdout
            runs[mode].append(json.loads(output.strip().splitlines()[-1]))
    rows = []
    for mode, figures in runs.items():
        if not all(figures):
            rows.append([mode, "n/a (no sandbox option)", "n/a"])
            continue
        wall = [f["wall_us"] for f in figures]
        rows.append([mode, f"{min(wall):.0f} / {statistics.median(wall):.0f}",
                     f"{min(f['cpu_us'] for f in figures):.0f}"])
    return rows, ["mode", "wall µs per run\nmin / med", "CPU µs\nper run"]


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
    parser.add_argument("--overhead-tasks", type=int, default=20,
                        help="tasks of 50 runs timed per process for the overhead table")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--overhead-child", metavar="MODE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], args.data_dir)))
        return
    if args.overhead_child:
        print(json.dumps(_overhead_child(args.overhead_child, args.overhead_tasks)))
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
    if rows:
        print(
            f"wall seconds as min / median of {args.repeat} processes each; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        _print_cases(rows)
    overhead, headers = _overhead_table(args.repeat, args.overhead_tasks)
    print(f"\nmock overhead per run: {OVERHEAD_ORGANIZATIONS} organizations x "
          f"{args.overhead_tasks} tasks of partial_average on 3-row frames, "
          f"{args.repeat} processes per mode; load average {os.getloadavg()[0]:.1f}")
    print(tabulate(overhead, headers=headers))


def _print_cases(rows: list[list[str]]) -> None:
    from tabulate import tabulate

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
