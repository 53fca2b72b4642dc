"""@data, @algorithm_client and @metadata: argument order, registry, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from v6lib.errors import AlgorithmError, DataError, ValidationError
from v6lib.wrappers.context import AlgorithmContext, use_context
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.decorators import (
    Injection,
    algorithm_client,
    data,
    from_argument,
    metadata,
    registry,
)
from v6lib.wrappers.metadata import RunMetadata


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


# ----------------------------------------------------------------------------- columns


def test_from_argument_reads_the_column_the_call_names() -> None:
    @data(1, columns=from_argument("column"))
    def partial(df, column, scale=1):
        return df["columns"][0], column

    specs, loader = _frames_by_label("x")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader)):
        assert partial(column="age") == (("age",), "age")
        assert partial("bmi", 2) == (("bmi",), "bmi")


def test_from_argument_takes_lists_defaults_and_several_names_once_each() -> None:
    @data(2, columns=from_argument("target", "features", "weights"))
    def fit(a, b, target, features=("age", "bmi"), weights=None):
        return a["columns"][0], b["columns"][0]

    specs, loader = _frames_by_label("one", "two")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader)):
        assert fit("y") == (("y", "age", "bmi"), ("y", "age", "bmi"))
        assert fit("age", ["age", "sex"], weights="w")[0] == ("age", "sex", "w")


def test_from_argument_all_none_reads_every_column() -> None:
    @data(1, columns=from_argument("columns"))
    def partial(df, columns=None):
        return df["columns"][0]

    specs, loader = _frames_by_label("x")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader)):
        assert partial() is None
        assert partial(columns=["a"]) == ("a",)


def test_a_callable_selector_sees_the_arguments_by_name() -> None:
    seen = []

    def pick(arguments):
        seen.append(dict(arguments))
        return [arguments["x"], arguments["y"]]

    @algorithm_client
    @metadata
    @data(1, columns=pick)
    def central(client, meta, df, x, *, y="b", **extra):
        return df["columns"][0]

    specs, loader = _frames_by_label("x")
    context = AlgorithmContext(databases=specs, data_loader=loader, client_factory=object)
    with use_context(context):
        assert central("a", z=1) == ("a", "b")
    assert seen == [{"x": "a", "y": "b", "z": 1}]


def test_from_argument_finds_names_passed_through_kwargs() -> None:
    @data(1, columns=from_argument("column"))
    def partial(df, **options):
        return df["columns"][0]

    specs, loader = _frames_by_label("x")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader)):
        assert partial(column="age") == ("age",)


@pytest.mark.parametrize("bad", [3, ["age", 4], {"age": 1}])
def test_an_argument_that_names_no_column_is_refused(bad: object) -> None:
    @data(1, columns=from_argument("column"))
    def partial(df, column):
        raise AssertionError("not reached")

    specs, loader = _frames_by_label("x")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader)), \
            pytest.raises(ValidationError, match="argument 'column' names the column"):
        partial(column=bad)


def test_a_selector_giving_no_names_is_refused() -> None:
    @data(1, columns=lambda arguments: [1, 2])
    def partial(df):
        raise AssertionError("not reached")

    specs, loader = _frames_by_label("x")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader)), \
            pytest.raises(ValidationError, match="must give column names"):
        partial()


def test_from_argument_must_name_a_parameter_of_the_function() -> None:
    with pytest.raises(ValueError, match=r"has no argument 'colum' \(its arguments after the "
                                         r"injected ones: column\)"):
        @data(1, columns=from_argument("colum"))
        def partial(df, column):
            return df


@pytest.mark.parametrize("bad", [(), ("",), (3,)])
def test_from_argument_needs_names(bad: tuple[object, ...]) -> None:
    with pytest.raises(ValueError, match="one or more parameter names"):
        from_argument(*bad)  # type: ignore[arg-type]


def test_column_lists_hold_names_only() -> None:
    with pytest.raises(ValueError, match="takes column names"):
        data(1, columns=["age", 3])  # type: ignore[list-item]


def test_projection_reaches_a_real_parquet_file(tmp_path, make_context) -> None:
    path = tmp_path / "data.parquet"
    pd.DataFrame({"age": [30, 40], "bmi": [20.0, 25.0], "sex": ["F", "M"]}).to_parquet(path)
    spec = DatabaseSpec(label="default", uri=str(path), type="parquet")

    @data(1, columns=from_argument("column"))
    def partial(df, column):
        return list(df.columns), float(df[column].sum())

    with use_context(make_context([spec])):
        assert partial(column="bmi") == (["bmi"], 45.0)
        with pytest.raises(DataError, match=r"has no column\(s\) 'weight'; available: age"):
            partial(column="weight")


def test_number_of_databases_is_vantage6s_name_for_n() -> None:
    @data(number_of_databases=2)
    def partial(a, b):
        return [df["label"][0] for df in (a, b)]

    specs, loader = _frames_by_label("first", "second", "third")
    with use_context(AlgorithmContext(databases=specs, data_loader=loader)):
        assert partial() == ["first", "second"]
    with pytest.raises(ValueError, match="give the number of databases once"):
        data(2, number_of_databases=3)
