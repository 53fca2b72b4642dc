"""Tools that run inside an algorithm container: decorators, run context and entrypoint.

Light on purpose, because every algorithm run starts a fresh interpreter that imports it:
it pulls in neither pydantic, pandas nor numpy (pandas loads when ``@data`` reads a
database), no server framework, no data driver (SQL, SPARQL and Excel drivers load only
when such a database is read), nor the client package: ``AlgorithmClient`` is imported on
first access, and the runner builds one only for a central function.
tests/wrappers/test_import_cost.py holds it to that.
"""

from __future__ import annotations

import typing

from .context import AlgorithmContext as AlgorithmContext
from .context import current_context as current_context
from .context import use_context as use_context
from .contract import ContainerEnv as ContainerEnv
from .contract import DatabaseSpec as DatabaseSpec
from .contract import get_env_var as get_env_var
from .decorators import algorithm_client as algorithm_client
from .decorators import data as data
from .decorators import database_connection as database_connection
from .decorators import from_argument as from_argument
from .decorators import metadata as metadata
from .decorators import registry as registry
from .dispatch import dispatch as dispatch
from .messages import error as error
from .messages import info as info
from .messages import warn as warn
from .metadata import RunMetaData as RunMetaData
from .metadata import RunMetadata as RunMetadata
from .progress import progress as progress
from .runner import docker_wrapper as docker_wrapper
from .runner import main as main
from .runner import wrap_algorithm as wrap_algorithm

__all__ = [
    "AlgorithmClient",
    "AlgorithmContext",
    "ContainerEnv",
    "DatabaseSpec",
    "RunMetaData",
    "RunMetadata",
    "algorithm_client",
    "current_context",
    "data",
    "database_connection",
    "dispatch",
    "docker_wrapper",
    "error",
    "from_argument",
    "get_env_var",
    "info",
    "main",
    "metadata",
    "progress",
    "registry",
    "use_context",
    "warn",
    "wrap_algorithm",
]


if typing.TYPE_CHECKING:
    from v6lib.client.algorithm_client import AlgorithmClient as AlgorithmClient


def __getattr__(name: str) -> typing.Any:
    # NOTE: lazy, because importing anything under v6lib.client runs v6lib/client/__init__,
    # which loads the researcher's client; a partial function never needs any of it.
    if name == "AlgorithmClient":
        from v6lib.client.algorithm_client import AlgorithmClient

        globals()[name] = AlgorithmClient
        return AlgorithmClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "AlgorithmClient"})
