"""``@data``, ``@algorithm_client``, ``@metadata`` and ``@database_connection``: hand a
function what its run provides.

The decorators register what a function needs in :data:`registry` (not in function
attributes) so the runner and the mock can ask. Stacked decorators collapse into one
wrapper around the original function that passes its values in the order the decorators
are written, top to bottom, before the caller's arguments::

    @algorithm_client
    @data(2)
    def central(client, df_a, df_b, column): ...   # called as central(column="age")

Values come from the current :class:`~v6lib.wrappers.context.AlgorithmContext`, which the
runner or the MockNetwork sets; calling a decorated function outside a run is an error.

``@data(columns=...)`` lets a function read only the columns it uses, fixed or chosen by
the call's own arguments (:func:`from_argument`), so Parquet and CSV sources skip the rest.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar, overload

from v6lib.errors import DataError, ValidationError

from .context import AlgorithmContext, current_context
from .metadata import RunMetadata

if TYPE_CHECKING:
    from v6lib.client.algorithm_client import AlgorithmClient

__all__ = [
    "ColumnSelector",
    "DecoratorRegistry",
    "FromArguments",
    "Injection",
    "Registration",
    "algorithm_client",
    "data",
    "database_connection",
    "from_argument",
    "metadata",
    "registry",
]

P = ParamSpec("P")
R = TypeVar("R")

InjectionKind = Literal["client", "data", "metadata", "connection"]
#: The database types ``@database_connection`` opens connections to.
CONNECTION_TYPES = frozenset({"sql"})

#: Picks the columns to read from the call's arguments (parameter name -> value, defaults
#: applied, the injected leading arguments left out); None reads every column.
ColumnSelector = Callable[[Mapping[str, Any]], "Sequence[str] | str | None"]


@dataclass(frozen=True)
class FromArguments:
    """The column selector :func:`from_argument` makes: the columns the named arguments hold."""

    names: tuple[str, ...]

    def __call__(self, arguments: Mapping[str, Any]) -> list[str] | None:
        columns: list[str] = []
        for name in self.names:
            value = arguments.get(name)
            if value is None:
                continue
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list | tuple) or not all(
                isinstance(v, str) for v in values
            ):
                raise ValidationError(
                    f"argument {name!r} names the column(s) to read, so it must be a column "
                    f"name or a list of column names; got {value!r}"
                )
            columns.extend(values)
        return columns or None


def from_argument(*names: str) -> FromArguments:
    """A column selector for ``@data(columns=...)``: read only the column(s) that the call's
    arguments ``names`` hold (each a column name or a list of them; None adds nothing).

    When every named argument is None, every column is read.
    """
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"from_argument() takes one or more parameter names, got {names!r}")
    return FromArguments(tuple(names))


@dataclass(frozen=True)
class Injection:
    """One decorator's contribution: what it passes and (for data) how many and which columns."""

    kind: InjectionKind
    count: int = 1
    columns: tuple[str, ...] | ColumnSelector | None = None
    types: tuple[str, ...] = ()  # connection: the database type of each one
    include_metadata: bool = True  # connection: each one followed by its DatabaseSpec

    @property
    def width(self) -> int:
        """How many leading positional arguments this injection fills in."""
        if self.kind == "connection":
            return self.count * (2 if self.include_metadata else 1)
        return self.count if self.kind == "data" else 1


@dataclass(frozen=True)
class Registration:
    """What a decorated function needs, in argument order, and the function it wraps."""

    function: Callable[..., Any]
    injections: tuple[Injection, ...]

    @property
    def needs_client(self) -> bool:
        return any(i.kind == "client" for i in self.injections)

    @property
    def data_count(self) -> int:
        return sum(i.count for i in self.injections if i.kind == "data")

    @property
    def injected_count(self) -> int:
        """How many leading positional arguments the decorators fill in."""
        return sum(i.width for i in self.injections)


class DecoratorRegistry:
    """Maps each decorated wrapper to its :class:`Registration` (weakly: no leaks)."""

    def __init__(self) -> None:
        self._entries: weakref.WeakKeyDictionary[Callable[..., Any], Registration] = (
            weakref.WeakKeyDictionary()
        )

    def register(self, wrapper: Callable[..., Any], registration: Registration) -> None:
        self._entries[wrapper] = registration

    def get(self, function: Callable[..., Any]) -> Registration | None:
        """The registration of ``function``, or None when it is not decorated."""
        try:
            return self._entries.get(function)
        except TypeError:  # not weak-referenceable, so never registered
            return None

    def __contains__(self, function: object) -> bool:
        return callable(function) and self.get(function) is not None

    def needs_client(self, function: Callable[..., Any]) -> bool:
        """Whether calling ``function`` builds an AlgorithmClient (a central function)."""
        registration = self.get(function)
        return registration is not None and registration.needs_client


registry = DecoratorRegistry()


def _check_database_count(ctx: AlgorithmContext, name: str, wanted: int) -> None:
    if wanted > len(ctx.databases):
        labels = ", ".join(repr(db.label) for db in ctx.databases) or "none"
        raise DataError(
            f"{name} asks for {wanted} database(s) but the run was given "
            f"{len(ctx.databases)} ({labels}); request {wanted} database(s) when creating "
            "the task"
        )


def _connections(ctx: AlgorithmContext, name: str, injection: Injection,
                 stack: contextlib.ExitStack) -> list[Any]:
    """One open connection per requested type (each followed by its database's spec),
    from the first databases of the run, as vantage6 hands them; closed by ``stack``."""
    _check_database_count(ctx, name, injection.count)
    values: list[Any] = []
    for wanted, spec in zip(injection.types, ctx.databases, strict=False):
        if spec.type != wanted:
            raise DataError(
                f"{name} asks for a {wanted} connection to database {spec.label!r}, which "
                f"is of type {spec.type}; request a {wanted} database when creating the task"
            )
        values.append(stack.enter_context(ctx.connect(spec)))
        if injection.include_metadata:
            values.append(spec)
    return values


def _values(ctx: AlgorithmContext, registration: Registration, args: tuple[Any, ...],
            kwargs: dict[str, Any], stack: contextlib.ExitStack) -> list[Any]:
    """The values the injections ask for, in order, from the current run."""
    name = registration.function.__qualname__
    _check_database_count(ctx, name, registration.data_count)
    values: list[Any] = []
    next_db = 0
    for injection in registration.injections:
        if injection.kind == "client":
            values.append(ctx.client())
        elif injection.kind == "metadata":
            values.append(ctx.metadata)
        elif injection.kind == "connection":
            values.extend(_connections(ctx, name, injection, stack))
        else:
            columns = _columns(registration, injection, args, kwargs)
            for spec in ctx.databases[next_db: next_db + injection.count]:
                values.append(ctx.load(spec, columns))
            next_db += injection.count
    return values


def _columns(registration: Registration, injection: Injection, args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> tuple[str, ...] | None:
    """The columns ``injection`` reads for this call (None: the context's hint, or all)."""
    selector = injection.columns
    if selector is None or isinstance(selector, tuple):
        return selector
    chosen = selector(_call_arguments(registration, args, kwargs))
    if chosen is None:
        return None
    columns = (chosen,) if isinstance(chosen, str) else tuple(chosen)
    if not all(isinstance(c, str) for c in columns):
        raise ValidationError(
            f"the column selector of {registration.function.__qualname__} must give column "
            f"names, got {chosen!r}"
        )
    return tuple(dict.fromkeys(columns))  # once each, in the order given


def _call_arguments(registration: Registration, args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> dict[str, Any]:
    """The caller's arguments by parameter name (defaults applied; ``**kwargs`` merged)."""
    signature = inspect.signature(registration.function)
    injected = registration.injected_count
    bound = signature.bind(*([None] * injected), *args, **kwargs)
    bound.apply_defaults()
    skipped = list(signature.parameters)[:injected]
    arguments: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if name in skipped:
            continue
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        else:
            arguments[name] = value
    return arguments


def _decorate(function: Callable[..., Any], injection: Injection) -> Callable[..., Any]:
    inner = registry.get(function)
    if inner is not None:
        base = inner.function
        if any(i.kind == injection.kind for i in inner.injections):
            raise ValueError(
                f"{base.__qualname__} is decorated with @{_decorator_name(injection)} twice; "
                "use one decorator (for several databases: @data(n))"
            )
        injections = (injection, *inner.injections)
    else:
        base = function
        injections = (injection,)
    registration = Registration(function=base, injections=injections)

    _check_selectors(registration)

    @functools.wraps(base)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with contextlib.ExitStack() as stack:  # closes database connections after the call
            values = _values(current_context(), registration, args, kwargs, stack)
            return base(*values, *args, **kwargs)

    registry.register(wrapper, registration)
    return wrapper


def _check_selectors(registration: Registration) -> None:
    """Refuse, at import time, a :func:`from_argument` naming no parameter of the function."""
    function = registration.function
    selectors = [i.columns for i in registration.injections if isinstance(i.columns,
                                                                          FromArguments)]
    if not selectors:
        return
    parameters = inspect.signature(function).parameters
    accepted = list(parameters)[registration.injected_count:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    for selector in selectors:
        unknown = [n for n in selector.names if n not in accepted]
        if unknown:
            raise ValueError(
                f"@data(columns=from_argument({', '.join(map(repr, selector.names))})) on "
                f"{function.__qualname__}: it has no argument {', '.join(map(repr, unknown))}"
                f" (its arguments after the injected ones: {', '.join(accepted) or 'none'})"
            )


def _decorator_name(injection: Injection) -> str:
    return {"client": "algorithm_client", "data": "data", "metadata": "metadata",
            "connection": "database_connection"}[injection.kind]


Columns = Sequence[str] | ColumnSelector | None


@overload
def data(n: Callable[..., R], /) -> Callable[..., R]: ...


@overload
def data(
    n: int = 1, *, columns: Columns = None, number_of_databases: int | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]: ...


def data(n: Any = 1, *, columns: Columns = None,
         number_of_databases: int | None = None) -> Any:
    """Pass the first ``n`` databases of the run as DataFrames, in the order the task
    requested them, as the first positional arguments.

    Args:
        n: how many databases the function takes (``@data`` alone means 1).
        columns: read only these columns of each of the ``n`` databases; Parquet and CSV
            sources then read nothing else from disk (others drop the rest after reading).
            One of:

            * a list of names, the same for every call: ``columns=["age", "bmi"]``;
            * :func:`from_argument`, when a call's arguments name the columns::

                  @data(1, columns=from_argument("column"))
                  def partial_average(df, column): ...   # df has only that column

              (several names, lists of names and None are accepted:
              ``from_argument("target", "features")``);
            * any callable taking the call's arguments (a mapping of parameter name to
              value, defaults applied) and returning names or None (every column):
              ``columns=lambda a: [a["x"], a["y"]]``.

            None (the default) reads every column (or the run context's hint).
        number_of_databases: vantage6's name of ``n``
            (``@data(number_of_databases=2)``).

    Raises:
        ValueError: at decoration time, for a bad ``n`` or ``columns``, or a
            :func:`from_argument` naming no argument of the function.
        DataError: at call time, when the run has fewer than ``n`` databases or a
            database lacks a selected column (the message lists the available ones).
        ValidationError: at call time, when an argument meant to name columns does not.
    """
    if callable(n):
        return data(1)(n)
    if number_of_databases is not None:
        if n not in (1, number_of_databases):
            raise ValueError(f"@data({n!r}, number_of_databases={number_of_databases!r}): "
                             "give the number of databases once")
        n = number_of_databases
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"@data(n) needs a positive number of databases, got {n!r}")
    injection = Injection("data", n, _column_spec(columns))

    def decorator(function: Callable[..., R]) -> Callable[..., R]:
        return _decorate(function, injection)

    return decorator


def _column_spec(columns: Columns) -> tuple[str, ...] | ColumnSelector | None:
    if columns is None or callable(columns):
        return columns
    if isinstance(columns, str):
        raise ValueError("@data(columns=...) takes a list of column names, not one string "
                         "(for a column named by an argument: from_argument(name))")
    names = tuple(columns)
    if not all(isinstance(c, str) for c in names):
        raise ValueError(f"@data(columns=...) takes column names, got {list(names)!r}")
    return names


def algorithm_client(function: Callable[Concatenate[AlgorithmClient, P], R]) -> Callable[P, R]:
    """Pass the run's :class:`~v6lib.client.algorithm_client.AlgorithmClient` first.

    Functions with this decorator are central functions: they create subtasks and
    combine their results.
    """
    return _decorate(function, Injection("client"))


def metadata(function: Callable[Concatenate[RunMetadata, P], R]) -> Callable[P, R]:
    """Pass the run's :class:`~v6lib.wrappers.metadata.RunMetadata` (task, organization, ...)."""
    return _decorate(function, Injection("metadata"))


def database_connection(types: Sequence[str], include_metadata: bool = True
                        ) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Pass an open connection to each of the run's first ``len(types)`` databases, for
    algorithms that query the database themselves instead of receiving a DataFrame
    (vantage6's decorator of the same name and arguments).

    Each connection is a SQLAlchemy ``Connection``, closed when the function returns;
    with ``include_metadata`` each is followed by its database's
    :class:`~v6lib.wrappers.contract.DatabaseSpec` (label, uri, type, query)::

        @database_connection(types=["sql"])
        def partial_count(connection, database, table): ...

    Args:
        types: the type of each database, in the order the task requests them; v6lib
            connects to ``"sql"`` databases (vantage6's ``"OMOP"`` needs OHDSI's
            DatabaseConnector, which v6lib does not ship).
        include_metadata: pass each database's spec after its connection.

    Raises:
        ValueError: at decoration time, for no types or a type v6lib cannot connect to.
        DataError: at call time, when the run has fewer databases than ``types`` or one
            is of another type.
    """
    wanted = tuple(str(t).strip().lower() for t in types) if not isinstance(types, str) else ()
    unknown = sorted(set(wanted) - CONNECTION_TYPES)
    if not wanted or unknown:
        raise ValueError(
            f"@database_connection(types={types!r}): give a list of database types, each "
            f"one of {sorted(CONNECTION_TYPES)} (OMOP/OHDSI connections are not available)"
        )
    injection = Injection("connection", len(wanted), types=wanted,
                          include_metadata=include_metadata)

    def decorator(function: Callable[..., R]) -> Callable[..., R]:
        return _decorate(function, injection)

    return decorator
