"""Tools that run inside an algorithm container: decorators, run context and entrypoint.

Light on purpose: importing this package pulls in neither server frameworks nor data
drivers (SQL, SPARQL and Excel drivers load only when such a database is read).
"""

from __future__ import annotations

from v6lib.client.algorithm_client import AlgorithmClient as AlgorithmClient

from .context import AlgorithmContext as AlgorithmContext
from .context import RunMetadata as RunMetadata
from .context import current_context as current_context
from .context import use_context as use_context
from .contract import ContainerEnv as ContainerEnv
from .contract import DatabaseSpec as DatabaseSpec
from .decorators import algorithm_client as algorithm_client
from .decorators import data as data
from .decorators import metadata as metadata
from .decorators import registry as registry
from .runner import dispatch as dispatch
from .runner import docker_wrapper as docker_wrapper
from .runner import main as main
from .runner import wrap_algorithm as wrap_algorithm

__all__ = [
    "AlgorithmClient",
    "AlgorithmContext",
    "ContainerEnv",
    "DatabaseSpec",
    "RunMetadata",
    "algorithm_client",
    "current_context",
    "data",
    "dispatch",
    "docker_wrapper",
    "main",
    "metadata",
    "registry",
    "use_context",
    "wrap_algorithm",
]
