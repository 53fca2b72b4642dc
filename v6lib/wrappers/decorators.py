"""``@data``, ``@algorithm_client`` and ``@metadata``: hand a function what its run provides.

The decorators register what a function needs in :data:`registry` (not in function
attributes) so the runner and the mock can ask. Stacked decorators collapse into one
wrapper around the original function that passes its values in the order the decorators
are written, top to bottom, before the caller's arguments::

    @algorithm_client
    @data(2)
    def central(client, df_a, df_b, column): ...   # called as central(column="age")

Values come from the current :class:`~v6lib.wrappers.context.AlgorithmContext`, which the
runner or the MockNetwork sets; calling a decorated function outside a run is an error.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Literal, ParamSpec, TypeVar, overload

from v6lib.errors import DataError

from .context import AlgorithmContext, RunMetadata, current_context

if TYPE_CHECKING:
    from v6lib.client.algorithm_client import AlgorithmClient

__all__ = [
    "DecoratorRegistry",
    "Injection",
    "Registration",
    "algorithm_client",
    "data",
    "metadata",
    "registry",
]

P = ParamSpec("P")
R = TypeVar("R")

InjectionKind = Literal["client", "data", "metadata"]


@dataclass(frozen=True)
class Injection:
    """One decorator's contribution: what it passes and (for data) how many and which columns."""

    kind: InjectionKind
    count: int = 1
    columns: tuple[str, ...] | None = None


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
        return sum(i.count if i.kind == "data" else 1 for i in self.injections)


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


def _values(ctx: AlgorithmContext, registration: Registration) -> list[Any]:
    """The values the injections ask for, in order, from the current run."""
    name = registration.function.__qualname__
    wanted = registration.data_count
    if wanted > len(ctx.databases):
        labels = ", ".join(repr(db.label) for db in ctx.databases) or "none"
        raise DataError(
            f"{name} asks for {wanted} database(s) but the run was given "
            f"{len(ctx.databases)} ({labels}); request {wanted} database(s) when creating "
            "the task"
        )
    values: list[Any] = []
    next_db = 0
    for injection in registration.injections:
        if injection.kind == "client":
            values.append(ctx.client())
        elif injection.kind == "metadata":
            values.append(ctx.metadata)
        else:
            for spec in ctx.databases[next_db: next_db + injection.count]:
                values.append(ctx.load(spec, injection.columns))
            next_db += injection.count
    return values


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

    @functools.wraps(base)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return base(*_values(current_context(), registration), *args, **kwargs)

    registry.register(wrapper, registration)
    return wrapper


def _decorator_name(injection: Injection) -> str:
    return {"client": "algorithm_client", "data": "data", "metadata": "metadata"}[injection.kind]


@overload
def data(n: Callable[..., R], /) -> Callable[..., R]: ...


@overload
def data(
    n: int = 1, *, columns: Sequence[str] | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]: ...


def data(n: Any = 1, *, columns: Sequence[str] | None = None) -> Any:
    """Pass the first ``n`` databases of the run as DataFrames, in the order the task
    requested them, as the first positional arguments.

    Args:
        n: how many databases the function takes (``@data`` alone means 1).
        columns: read only these columns (sources project them where they can).

    Raises:
        DataError: at call time, when the run has fewer than ``n`` databases.
    """
    if callable(n):
        return data(1)(n)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"@data(n) needs a positive number of databases, got {n!r}")
    if isinstance(columns, str):
        raise ValueError("@data(columns=...) takes a list of column names, not one string")
    injection = Injection("data", n, tuple(columns) if columns is not None else None)

    def decorator(function: Callable[..., R]) -> Callable[..., R]:
        return _decorate(function, injection)

    return decorator


def algorithm_client(function: Callable[Concatenate[AlgorithmClient, P], R]) -> Callable[P, R]:
    """Pass the run's :class:`~v6lib.client.algorithm_client.AlgorithmClient` first.

    Functions with this decorator are central functions: they create subtasks and
    combine their results.
    """
    return _decorate(function, Injection("client"))


def metadata(function: Callable[Concatenate[RunMetadata, P], R]) -> Callable[P, R]:
    """Pass the run's :class:`~v6lib.wrappers.context.RunMetadata` (task, organization, ...)."""
    return _decorate(function, Injection("metadata"))
