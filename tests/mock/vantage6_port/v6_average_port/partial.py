"""The partial part: what each organization computes on its own data."""

from typing import Any

import pandas as pd

from v6lib.wrappers import RunMetaData, data, get_env_var, info, metadata, warn


@data(1)
def partial_average(df: pd.DataFrame, column_name: str) -> Any:
    """Sum and count of one column of this organization's data."""
    info("Computing the local sum and count")
    if df[column_name].isna().any():
        warn("the column has missing values; they are left out")
    local_sum = df[column_name].sum()
    local_count = df[column_name].count()

    return {"sum": local_sum, "count": local_count}


@metadata
def partial_run_details(meta: RunMetaData) -> Any:
    """Where this run is, as the node tells it."""
    return {
        "node_id": meta.node_id,
        "organization_id": meta.organization_id,
        "temporary_directory": str(meta.temporary_directory),
        "has_input_file": meta.input_file.is_file(),
        "token_file_name": meta.token_file.name,
        "level": get_env_var("AVERAGE_LOG_LEVEL", "info"),
    }
