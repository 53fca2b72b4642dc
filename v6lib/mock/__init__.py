"""Run a whole federation in one process: the MockNetwork and its in-process AlgorithmApi."""

from __future__ import annotations

from v6lib.mock.algorithm_client import MockAlgorithmClient as MockAlgorithmClient
from v6lib.mock.api import MockAlgorithmApi as MockAlgorithmApi
from v6lib.mock.network import MockNetwork as MockNetwork

__all__ = ["MockAlgorithmApi", "MockAlgorithmClient", "MockNetwork"]
