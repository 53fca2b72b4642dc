"""Which mock run the current thread works for, so per-run state can live in one process.

A container has its own environment, files and cage. MockNetwork runs are threads of the
developer's process instead, so what a container has for itself is held per run in a
:class:`RunScope`, kept in a ``ContextVar``: the environment overlay
(:mod:`v6lib.mock.run_environ`) and the sandbox (:mod:`v6lib.mock.sandbox`) consult it.
Code outside any run sees ``None`` and is never affected.

A ``ContextVar`` does not follow a new thread by itself. Once the first run starts,
:func:`install_thread_inheritance` patches two places so that it does:

* ``threading.Thread.start`` called inside a run makes the new thread part of that run
  (so do ``threading.Timer`` and the workers of a ``ThreadPoolExecutor`` made in a run);
* ``ThreadPoolExecutor.submit`` runs the submitted function in the scope of whoever
  submitted it, so a pool made during one run and reused by another run, or by code
  outside runs, does not mix them up.

Not followed: threads started through ``_thread`` directly or by C code, and
subprocesses (see the sandbox's documented limits).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

if TYPE_CHECKING:
    from v6lib.mock.sandbox import Cage

__all__ = [
    "RunScope",
    "current_scope",
    "entered",
    "host_side",
    "install_thread_inheritance",
    "outside_run",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class RunScope:
    """What one run has for itself.

    Args:
        organization_id: where the run executes.
        run_id: the run.
        environ: the run's ``os.environ`` (read and written in place by the run).
        home: the run's private scratch folder (``HOME``, and ``tempfile``'s directory).
        cage: what the sandbox lets the run do; None when the sandbox is off.
    """

    organization_id: int
    run_id: int
    environ: MutableMapping[str, str]
    home: Path
    cage: Cage | None = None


_CURRENT: ContextVar[RunScope | None] = ContextVar("v6lib_mock_run_scope", default=None)
_THREAD_SCOPE = "_v6lib_run_scope"  # attribute marking a thread started inside a run


def current_scope() -> RunScope | None:
    """The scope of the run this thread works for, or None outside runs."""
    return _CURRENT.get()


@contextmanager
def entered(scope: RunScope | None) -> Iterator[None]:
    """Work for ``scope``'s run (or, with None, for no run) until the block ends."""
    token = _CURRENT.set(scope)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def outside_run() -> AbstractContextManager[None]:
    """Leave the current run for the block: the mock's own work (its in-process server,
    the data it serves) is not the algorithm's, and a container would not do it."""
    return entered(None)


class _HostSide:
    """Calls every method of the wrapped object outside any run."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        return host_side(value) if callable(value) else value


def host_side(target: T) -> T:
    """``target`` (a function, or an object whose methods are called) working outside any
    run, e.g. the in-process server api a run's algorithm client talks to."""
    if not callable(target) or isinstance(target, type):
        return cast(T, _HostSide(target))
    function = cast(Callable[..., Any], target)

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        with entered(None):
            return function(*args, **kwargs)

    return cast(T, call)


# ----------------------------------------------------------------------------- threads

_install_lock = threading.Lock()
_original_start: Callable[[threading.Thread], None] | None = None
_original_submit: Callable[..., Future[Any]] | None = None


def _start(self: threading.Thread) -> None:
    scope = _CURRENT.get()
    if scope is not None:
        run = self.run

        def run_in_scope() -> None:
            with entered(scope):
                run()

        # NOTE: an instance attribute shadows the class's run(), also in subclasses.
        self.run = run_in_scope  # type: ignore[method-assign]
        setattr(self, _THREAD_SCOPE, scope)
    assert _original_start is not None
    _original_start(self)


def _call_in(scope: RunScope | None, function: Callable[P, R], /, *args: P.args,
             **kwargs: P.kwargs) -> R:
    with entered(scope):
        return function(*args, **kwargs)


def _submit(self: ThreadPoolExecutor, function: Callable[..., Any], /, *args: Any,
            **kwargs: Any) -> Future[Any]:
    assert _original_submit is not None
    scope = _CURRENT.get()
    workers = tuple(getattr(self, "_threads", ()))  # tuple(): one step under the GIL
    if scope is None and not any(getattr(t, _THREAD_SCOPE, None) for t in workers):
        return _original_submit(self, function, *args, **kwargs)
    return _original_submit(self, _call_in, scope, function, *args, **kwargs)


def install_thread_inheritance() -> None:
    """Patch ``Thread.start`` and ``ThreadPoolExecutor.submit`` (once per process).

    Outside runs both behave as before: the patched versions only look up the current
    scope, find none, and call the originals.
    """
    global _original_start, _original_submit
    with _install_lock:
        if _original_start is not None:
            return
        _original_start = threading.Thread.start
        _original_submit = ThreadPoolExecutor.submit
        # NOTE: patching the standard library: no annotation can describe replacing a
        # method, and submit's ParamSpec signature is narrower than the wrapper's.
        threading.Thread.start = _start  # type: ignore[method-assign]
        ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign,assignment]
