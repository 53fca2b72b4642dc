"""A federated average written for vantage6 4.15's algorithm tools, as its users write one.

Runs unchanged (vantage6's own wrapper and algorithm client, from the
``vantage6-algorithm-tools`` package) on v6lib's Docker nodes: see
``tests/compat/test_upstream_image.py``. Nothing here imports v6lib.
"""

import socket

import pandas as pd
from vantage6.algorithm.client import AlgorithmClient
from vantage6.algorithm.tools.decorators import algorithm_client, data, metadata
from vantage6.algorithm.tools.util import info


@algorithm_client
def central_average(client: AlgorithmClient, column: str, outside_host: str,
                    outside_port: int) -> dict:
    """Ask every organization for its sum and count, and combine them."""
    organizations = client.organization.list()
    org_ids = [organization["id"] for organization in organizations]
    info(f"creating the partial tasks for organizations {org_ids}")
    task = client.task.create(
        input_={"method": "partial_average", "kwargs": {"column": column}},
        organizations=org_ids,
        name="partial averages",
        description="sum and count of one organization",
    )
    results = client.wait_for_results(task_id=task["id"])
    total = sum(result["sum"] for result in results)
    count = sum(result["count"] for result in results)
    return {
        "average": total / count,
        "count": count,
        "organizations": sorted(org_ids),
        "subtask": client.task.get(task["id"]),
        "partial_identities": [result["identity"] for result in results],
        "outside": _try_to_connect(outside_host, outside_port),
    }


@data(1)
@metadata
def partial_average(meta, df: pd.DataFrame, column: str) -> dict:
    """The sum and count of ``column`` in this organization's data."""
    return {
        "sum": float(df[column].sum()),
        "count": int(df[column].count()),
        "identity": {"task_id": meta.task_id, "organization_id": meta.organization_id,
                     "node_id": meta.node_id, "collaboration_id": meta.collaboration_id},
    }


def _try_to_connect(host: str, port: int) -> str:
    """What happens when the algorithm tries to reach anything but the node proxy."""
    connection = socket.socket()
    connection.settimeout(3)
    try:
        connection.connect((host, int(port)))
        return "connected"
    except OSError as exc:
        return f"failed: {exc.strerror or type(exc).__name__}"
    finally:
        connection.close()
