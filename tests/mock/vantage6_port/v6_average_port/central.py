"""The central part: sends the partial task to every organization and combines."""

from typing import Any

from v6lib.wrappers import AlgorithmClient, algorithm_client, info


@algorithm_client
def central_average(client: AlgorithmClient, column_name: str) -> Any:
    """Send the partial task to all organizations and combine their sums and counts."""
    # get all organizations (ids) within the collaboration
    organizations = client.organization.list()
    org_ids = [organization.get("id") for organization in organizations]

    info("Defining input parameters")
    input_ = {
        "method": "partial_average",
        "kwargs": {
            "column_name": column_name,
        },
    }

    info("Creating subtask for all organizations in the collaboration")
    task = client.task.create(
        input_=input_,
        organizations=org_ids,
        name="Subtask mean",
        description="Compute the partial sums and counts",
    )

    info("Waiting for results")
    results = client.wait_for_results(task_id=task.get("id"))
    info("Results obtained!")

    global_sum = 0
    global_count = 0
    for output in results:
        global_sum += output["sum"]
        global_count += output["count"]

    return {"average": global_sum / global_count}
