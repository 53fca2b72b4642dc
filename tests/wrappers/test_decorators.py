"""@data, @algorithm_client and @metadata: argument order, registry, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from v6lib.errors import AlgorithmError, DataError
from v6lib.wrappers.context import AlgorithmContext, RunMetadata, use_context
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.decorators import Injection, algorithm_client, data, metadata, registry


def _frames_by_label(*labels: str) -> tuple[list[DatabaseSpec], object]:
    """Specs plus a loader returning a one-column frame naming its database."""
    specs = [DatabaseSpec(label=label, uri=f"/{label}", type="csv") for label in labels]

    def loader(spec: DatabaseSpec, columns: object) -> pd.DataFrame:
        return pd.DataFrame({"label": [spec.label], "columns": [columns]})

    return specs, loader


def test_data_passes_databases_in_requested_order_before_the_arguments() -> None:
    @data(3)
    def partial(a, b, c, factor, *, offset=0):
        return [df["label"][0] for df in (a, b, c)], factor, offset

    specs, loader = _frames_by_label("zeta", "alpha", "mid", "unused")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader)):
        assert partial(2, offset=1) == (["zeta", "alpha", "mid"], 2, 1)


def test_data_reads_real_csv_files_in_order(csv_db, make_context) -> None:
    first = csv_db("first", pd.DataFrame({"x": [1, 2]}))
    second = csv_db("second", pd.DataFrame({"x": [10, 20, 30]}))

    @data(2)
    def sizes(df1: pd.DataFrame, df2: pd.DataFrame) -> list[int]:
        return [int(df1["x"].sum()), int(df2["x"].sum())]

    with use_context(make_context([second, first])):
        assert sizes() == [60, 3]


def test_too_few_databases_names_requested_and_given() -> None:
    @data(2)
    def partial(a, b):
        raise AssertionError("not reached")

    specs, loader = _frames_by_label("only")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader)), \
            pytest.raises(DataError, match=r"asks for 2 database\(s\) but the run was given 1"):
        partial()


def test_columns_reach_the_loader_and_default_to_the_context_hint() -> None:
    @data(1, columns=["a", "b"])
    def explicit(df):
        return df["columns"][0]

    @data
    def hinted(df):
        return df["columns"][0]

    specs, loader = _frames_by_label("x")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader, columns=["h"])):
        assert explicit() == ("a", "b")
        assert hinted() == ["h"]


def test_client_then_data_order() -> None:
    @algorithm_client
    @data(1)
    def central(client, df, column):
        return client, df["label"][0], column

    specs, loader = _frames_by_label("db")
    marker = object()
    ctx = AlgorithmContext(databases=specs, data_loader=loader,
                           client_factory=lambda: marker)  # type: ignore[arg-type,return-value]
    with use_context(ctx):
        assert central("age") == (marker, "db", "age")


def test_data_then_client_order() -> None:
    @data(1)
    @algorithm_client
    def central(df, client):
        return df["label"][0], client

    specs, loader = _frames_by_label("db")
    marker = object()
    ctx = AlgorithmContext(databases=specs, data_loader=loader,
                           client_factory=lambda: marker)  # type: ignore[arg-type,return-value]
    with use_context(ctx):
        assert central() == ("db", marker)


def test_metadata_with_client_and_data() -> None:
    @metadata
    @algorithm_client
    @data(1)
    def fn(meta, client, df, extra=None):
        return meta.organization_id, client, df["label"][0], extra

    specs, loader = _frames_by_label("db")
    meta = RunMetadata(organization_id=7, task_id=1)
    ctx = AlgorithmContext(databases=specs, data_loader=loader, metadata=meta,
                           client_factory=lambda: "client")  # type: ignore[arg-type,return-value]
    with use_context(ctx):
        assert fn(extra=3) == (7, "client", "db", 3)


def test_data_only_functions_never_build_a_client() -> None:
    @data(1)
    def partial(df):
        return len(df)

    def factory():
        raise AssertionError("a partial function must not build a client")

    specs, loader = _frames_by_label("db")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader,
                                      client_factory=factory)):
        assert partial() == 1


def test_registry_records_needs_in_argument_order() -> None:
    def plain(x):
        return x

    @algorithm_client
    @data(2, columns=["a"])
    def central(client, a, b):
        return None

    registration = registry.get(central)
    assert registration is not None
    assert registration.injections == (Injection("client"), Injection("data", 2, ("a",)))
    assert registration.data_count == 2
    assert registry.needs_client(central) and central in registry
    assert registry.get(plain) is None and plain not in registry
    assert not registry.needs_client(plain)
    assert not hasattr(central, "needs_client")  # registered, not marked


def test_wraps_keeps_the_user_function_identity() -> None:
    @algorithm_client
    @data(1)
    def central(client, df, column: str) -> int:
        """Average of a column."""
        return 0

    assert central.__name__ == "central"
    assert central.__doc__ == "Average of a column."
    original = registry.get(central).function  # type: ignore[union-attr]
    assert central.__wrapped__ is original  # type: ignore[attr-defined]


def test_duplicate_decorator_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="twice"):
        @data(1)
        @data(1)
        def f(a, b):
            return None

    with pytest.raises(ValueError, match="algorithm_client"):
        @algorithm_client
        @algorithm_client
        def g(a, b):
            return None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_data_count(bad: object) -> None:
    with pytest.raises(ValueError, match="positive number"):
        data(bad)  # type: ignore[call-overload]


def test_columns_must_be_a_list() -> None:
    with pytest.raises(ValueError, match="list of column names"):
        data(1, columns="age")


def test_calling_outside_a_run_is_a_clear_error() -> None:
    @data(1)
    def partial(df):
        return df

    with pytest.raises(AlgorithmError, match="through the wrapper or the MockNetwork"):
        partial()
