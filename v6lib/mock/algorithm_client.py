"""``MockAlgorithmClient``: vantage6's mock client, as a thin adapter over a MockNetwork.

A test written for vantage6 (``MockAlgorithmClient(datasets=[[{"database": ...,
"db_type": ...}]], module=...)``, then ``client.task.create`` and
``client.result.from_task``) runs here with only its import changed. Behind it is the
MockNetwork, run sequentially so that a task has finished when ``task.create`` returns,
as vantage6's mock promises; algorithms get what a MockNetwork gives them (the real
wrapper, sandbox and AlgorithmClient), not vantage6's shortcuts.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from v6lib.client.algorithm_client import AlgorithmClient
from v6lib.errors import ConfigurationError, UnsupportedError
from v6lib.mock.network import MockNetwork

__all__ = ["MockAlgorithmClient", "network_datasets"]

_KEYS = frozenset({"database", "db_type", "query", "sheet_name", "preprocessing"})


def _database(dataset: Mapping[str, Any], organization: int) -> Any:
    """One vantage6 dataset (``database``, ``db_type``, ...) as a MockNetwork entry."""
    unknown = set(dataset) - _KEYS
    if unknown or "database" not in dataset:
        raise ConfigurationError(
            f"dataset of organization #{organization} must have 'database' and optionally "
            f"'db_type', 'query', 'sheet_name'; got keys {sorted(dataset)}")
    if dataset.get("preprocessing"):
        raise UnsupportedError(
            "MockAlgorithmClient: dataset 'preprocessing' is not supported: v6lib has no "
            "preprocessing step; prepare the DataFrame in the test instead")
    database = dataset["database"]
    if not isinstance(database, str):  # a DataFrame (or a path object)
        return database
    query = dataset.get("query") or dataset.get("sheet_name")
    return {"uri": database, "type": dataset.get("db_type") or None, "query": query}


def network_datasets(datasets: Sequence[Sequence[Mapping[str, Any]]]) -> list[list[Any]]:
    """vantage6's ``datasets`` (one list of datasets per organization) in the form
    :class:`MockNetwork` takes; an organization's datasets keep their order."""
    return [[_database(d, i) for d in org_datasets] for i, org_datasets in enumerate(datasets)]


class MockAlgorithmClient(AlgorithmClient):
    """The researcher's AlgorithmClient on a MockNetwork built from vantage6's arguments.

    Args:
        datasets: per organization, a list of ``{"database": path or DataFrame,
            "db_type": "csv" | "parquet" | "excel" | "sql" | "sparql", "query": ...,
            "sheet_name": ...}``.
        module: the algorithm package (name or module).
        collaboration_id: the collaboration's id (default 1).
        organization_ids: the organizations' ids, in dataset order (default 1..n, the
            MockNetwork's; vantage6's mock starts at 0).
        node_ids: not supported: a MockNetwork's node carries its organization's id.

    ``network`` is the MockNetwork behind it, for anything vantage6's mock lacks.
    """

    def __init__(self, datasets: Sequence[Sequence[Mapping[str, Any]]],
                 module: str | ModuleType, collaboration_id: int | None = None,
                 organization_ids: Sequence[int] | None = None,
                 node_ids: Sequence[int] | None = None) -> None:
        if node_ids is not None:
            raise UnsupportedError(
                "MockAlgorithmClient(node_ids=...): not supported: each mock node carries "
                "its organization's id")
        self.network = MockNetwork(module, network_datasets(datasets),
                                   collaboration_id=collaboration_id or 1,
                                   organization_ids=organization_ids, sequential=True)
        weakref.finalize(self, self.network.close)
        researcher = self.network.algorithm_client()
        metadata = dataclasses.replace(researcher.metadata,
                                       node_id=researcher.metadata.organization_id)
        super().__init__(researcher.api, metadata)
