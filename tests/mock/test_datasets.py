"""Every database form and source type reaches the algorithm through the mock."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from v6lib.errors import AlgorithmError, ConfigurationError, DataError
from v6lib.mock import MockNetwork
from v6lib.mock.datasets import normalize_datasets
from v6lib.wrappers.contract import DatabaseSpec


def _write_sqlite(path: Path, df: pd.DataFrame) -> None:
    with sqlite3.connect(path) as connection:
        df.to_sql("patients", connection, index=False)


def _write_turtle(path: Path, df: pd.DataFrame) -> None:
    lines = ["@prefix ex: <http://example.org/> ."]
    lines += [
        f"ex:p{row.id} ex:id {row.id} ; ex:value {row.value:.1f} ." for row in df.itertuples()
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


_SPARQL = (
    "PREFIX ex: <http://example.org/> SELECT ?id ?value WHERE { ?s ex:id ?id ; ex:value ?value }"
)


@pytest.mark.parametrize("kind", ["csv", "parquet", "excel", "sql", "sparql"])
def test_each_source_type_feeds_the_partial(
    algorithms: ModuleType, sites: list[pd.DataFrame], tmp_path: Path, kind: str
) -> None:
    datasets: list[object] = []
    for n, df in enumerate(sites, start=1):
        if kind == "csv":
            path = tmp_path / f"org{n}.csv"
            df.to_csv(path, index=False)
            datasets.append(path)
        elif kind == "parquet":
            path = tmp_path / f"org{n}.parquet"
            df.to_parquet(path)
            datasets.append(str(path))
        elif kind == "excel":
            path = tmp_path / f"org{n}.xlsx"
            df.to_excel(path, index=False)
            datasets.append(path)
        elif kind == "sql":
            path = tmp_path / f"org{n}.sqlite"
            _write_sqlite(path, df)
            datasets.append(
                {
                    "uri": f"sqlite:///{path}",
                    "type": "sql",
                    "query": "SELECT id, value FROM patients",
                }
            )
        else:
            path = tmp_path / f"org{n}.ttl"
            _write_turtle(path, df)
            datasets.append({"uri": str(path), "type": "sparql", "query": _SPARQL})

    with MockNetwork(algorithms, datasets) as network:
        described = network.run("describe")
        sums = network.run("column_sum", kwargs={"column": "value"})

    assert [d["ids"] for d in described] == [sorted(df["id"].tolist()) for df in sites]
    assert sums == pytest.approx([float(df["value"].sum()) for df in sites])


def test_task_query_overrides_the_configured_one(
    algorithms: ModuleType, sites: list[pd.DataFrame], tmp_path: Path
) -> None:
    datasets = []
    for n, df in enumerate(sites, start=1):
        path = tmp_path / f"org{n}.sqlite"
        _write_sqlite(path, df)
        datasets.append(
            {"uri": str(path), "type": "sql", "query": "SELECT id, value FROM patients"}
        )

    with MockNetwork(algorithms, datasets) as network:
        [everything] = network.run("describe", organizations=[3])
        [filtered] = network.run(
            "describe",
            organizations=[3],
            databases=[
                {"label": "default", "query": "SELECT id, value FROM patients WHERE id >= 303"}
            ],
        )

    assert everything["ids"] == [300, 301, 302, 303, 304]
    assert filtered["ids"] == [303, 304]


def test_missing_file_is_a_data_error_naming_the_database(
    algorithms: ModuleType, tmp_path: Path
) -> None:
    with (
        MockNetwork(algorithms, [tmp_path / "absent.csv"]) as network,
        pytest.raises(AlgorithmError, match="DataError") as caught,
    ):
        network.run("describe")

    assert "absent.csv" in str(caught.value)


def test_column_projection_is_served_from_the_cached_frame(sites: list[pd.DataFrame]) -> None:
    [org] = normalize_datasets([sites[0]], None).values()
    spec = org.spec("default")
    assert spec is not None

    full = org.load(spec, None)
    projected = org.load(spec, ["value"])

    assert full is sites[0]
    assert list(projected.columns) == ["value"]
    assert org.load(spec, ["value"]) is projected
    with pytest.raises(DataError, match=r"no column.*'weight'"):
        org.load(spec, ["weight"])


def test_loader_refuses_a_spec_it_was_not_given(sites: list[pd.DataFrame]) -> None:
    [org] = normalize_datasets([sites[0]], None).values()

    with pytest.raises(DataError, match="is not configured at organization 1"):
        org.load(DatabaseSpec("default", "/elsewhere/other.csv", "csv"), None)


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ([], "at least one organization"),
        (pd.DataFrame({"a": [1]}), "one entry per organization"),
        (["data.unknown"], "cannot tell the database type"),
        ([{"uri": "x.csv", "typ": "csv"}], "got keys"),
        ([42], "got int"),
        ([{"a": pd.DataFrame(), "b": {"uri": "x.csv", "label": "a"}}], "duplicate database"),
    ],
)
def test_unusable_datasets_are_refused(datasets: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        normalize_datasets(datasets, None)  # type: ignore[arg-type]


def test_types_are_inferred_from_suffixes() -> None:
    orgs = normalize_datasets(["a.csv", Path("b.PARQUET"), {"uri": "c.xlsx"}], [4, 5, 6])

    assert [orgs[i].spec("default").type for i in (4, 5, 6)] == ["csv", "parquet", "excel"]


@pytest.mark.parametrize(("cache_data", "reads"), [(True, 3), (False, 6)])
def test_files_are_read_once_per_organization_unless_the_cache_is_off(
    algorithms: ModuleType,
    sites: list[pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cache_data: bool,
    reads: int,
) -> None:
    import v6lib.wrappers.sources as sources

    paths = []
    for n, df in enumerate(sites, start=1):
        paths.append(tmp_path / f"org{n}.csv")
        df.to_csv(paths[-1], index=False)
    calls: list[str] = []
    real = sources.load_data

    def counting(spec: DatabaseSpec, columns: object = None) -> pd.DataFrame:
        calls.append(spec.uri)
        return real(spec, columns=columns)  # type: ignore[arg-type]

    monkeypatch.setattr(sources, "load_data", counting)
    with MockNetwork(algorithms, paths, cache_data=cache_data) as network:
        first = network.run("column_sum", kwargs={"column": "value"})
        second = network.run("column_sum", kwargs={"column": "value"})

    assert first == second == [float(df["value"].sum()) for df in sites]
    assert len(calls) == reads
    assert sorted(set(calls)) == sorted(str(p) for p in paths)


def test_sparql_organizations_load_concurrently(
    algorithms: ModuleType, sites: list[pd.DataFrame], tmp_path: Path
) -> None:
    # The mock has no special case for SPARQL: the source itself serializes rdflib, so
    # runs at many organizations reading RDF at the same moment all succeed.
    datasets = []
    frames = [site.assign(value=site["value"] + k) for k in range(3) for site in sites]
    for n, df in enumerate(frames):
        path = tmp_path / f"org{n}.ttl"
        _write_turtle(path, df)
        datasets.append({"uri": str(path), "type": "sparql", "query": _SPARQL})

    with MockNetwork(algorithms, datasets, cache_data=False, max_workers=len(frames)) as network:
        for _ in range(3):
            sums = network.run("column_sum", kwargs={"column": "value"})
            assert sums == pytest.approx([float(df["value"].sum()) for df in frames])
