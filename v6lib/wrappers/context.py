"""The per-run context (databases, metadata, client) that decorators read, held in a ContextVar.

The runner (in a container) or the MockNetwork (in-process, one thread per run) sets it
with :func:`use_context` around the call of an algorithm function; decorators never read
``os.environ``. A ``ContextVar`` is per thread, so concurrent runs in threads each see
their own context as long as each thread enters :func:`use_context` itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from v6lib.errors import AlgorithmError

from .contract import DatabaseSpec
from .metadata import RunMetadata

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection

    from v6lib.client.algorithm_client import AlgorithmClient

__all__ = ["AlgorithmContext", "DataLoader", "RunMetadata", "current_context", "use_context"]

# (spec, columns) -> DataFrame; the default reads through v6lib.wrappers.sources.
DataLoader = Callable[[DatabaseSpec, "Sequence[str] | None"], "pd.DataFrame"]


@dataclass
class AlgorithmContext:
    """Everything a decorated function may be handed during one run.

    Args:
        databases: the run's databases in the order the task requested them.
        metadata: ids of the task, run, organization and collaboration.
        client_factory: builds the AlgorithmClient; called at most once, and only when a
            function decorated with ``@algorithm_client`` runs (partials never need one).
        columns: optional default column selection used by ``@data`` without ``columns``.
        data_loader: how a DatabaseSpec becomes a DataFrame; None means
            ``v6lib.wrappers.sources.load_data``.
        progress_sink: where ``progress(fraction, message)`` reports go (the node proxy,
            or the mock's store); None: the run has nowhere to report, reports are dropped.
    """

    databases: Sequence[DatabaseSpec] = ()
    metadata: RunMetadata = field(default_factory=RunMetadata)
    client_factory: Callable[[], AlgorithmClient] | None = None
    columns: Sequence[str] | None = None
    data_loader: DataLoader | None = None
    progress_sink: Callable[[float, str], None] | None = None
    _client: AlgorithmClient | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def client(self) -> AlgorithmClient:
        """The run's AlgorithmClient, built on first use.

        Raises:
            AlgorithmError: this run has no way to reach the server.
        """
        with self._lock:
            if self._client is None:
                if self.client_factory is None:
                    raise AlgorithmError(
                        "this run has no algorithm client: the container was started "
                        "without HOST/PORT/TOKEN_FILE (or the mock without a server)"
                    )
                self._client = self.client_factory()
            return self._client

    def report_progress(self, fraction: float, message: str) -> None:
        """Hand one progress report to the run's sink (checked by the caller)."""
        if self.progress_sink is not None:
            self.progress_sink(fraction, message)

    def connect(self, spec: DatabaseSpec) -> AbstractContextManager[Connection]:
        """An open connection to one SQL database of the run (``@database_connection``)."""
        from .sources.sql import connect

        return connect(spec)

    def load(self, spec: DatabaseSpec, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Load one database as a DataFrame, with ``columns`` (or the context hint)."""
        selected = columns if columns is not None else self.columns
        if self.data_loader is not None:
            return self.data_loader(spec, selected)
        from .sources import load_data

        return load_data(spec, columns=selected)


_CURRENT: ContextVar[AlgorithmContext | None] = ContextVar("v6lib_algorithm_context",
                                                          default=None)


def current_context() -> AlgorithmContext:
    """The context of the run in progress.

    Raises:
        AlgorithmError: no run is in progress in this thread.
    """
    ctx = _CURRENT.get()
    if ctx is None:
        raise AlgorithmError(
            "no algorithm run is in progress: a function decorated with @data, "
            "@algorithm_client or @metadata gets its arguments from the run; "
            "call this function through the wrapper or the MockNetwork"
        )
    return ctx


@contextmanager
def use_context(ctx: AlgorithmContext) -> Iterator[AlgorithmContext]:
    """Make ``ctx`` the current context for the duration of the block (this thread)."""
    token = _CURRENT.set(ctx)
    try:
        yield ctx
    finally:
        _CURRENT.reset(token)
