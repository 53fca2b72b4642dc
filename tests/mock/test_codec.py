"""The encrypted path: inputs and results are sealed per organization, results match."""

from __future__ import annotations

from types import ModuleType

import pandas as pd
import pytest

from v6lib import serialization
from v6lib.crypto import TaskBinding, is_envelope
from v6lib.errors import WrongKeyError
from v6lib.mock import MockNetwork
from v6lib.mock.codec import MockKeyring


def test_encrypted_network_gives_the_same_results(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as plain:
        expected = plain.run(
            "fan_out", kwargs={"method": "column_sum", "kwargs": {"column": "value"}}
        )
    with MockNetwork(algorithms, sites, encrypted=True) as sealed:
        results = sealed.run(
            "fan_out", kwargs={"method": "column_sum", "kwargs": {"column": "value"}}
        )
        subtask_runs = sealed.store.runs(2)
        organizations = sealed.algorithm_client().organization.list()
        collaboration = sealed.algorithm_client().collaboration.get()

    assert results == expected
    assert all(is_envelope(run.input) and is_envelope(run.result or b"") for run in subtask_runs)
    assert all(org["public_key"] for org in organizations)
    assert collaboration["encrypted"] is True


def test_plain_network_stores_serialized_json(
    algorithms: ModuleType, sites: list[pd.DataFrame]
) -> None:
    with MockNetwork(algorithms, sites) as network:
        network.run("column_sum", kwargs={"column": "value"}, organizations=[1])
        [run] = network.store.runs(1)

    assert serialization.loads(run.input) == {
        "method": "column_sum",
        "args": [],
        "kwargs": {"column": "value"},
    }
    assert run.result == serialization.dumps(33.0)


def test_results_open_only_for_the_initiating_organization() -> None:
    codec = MockKeyring([1, 2], encrypted=True)
    task = TaskBinding("t-1", "mock", 1)
    blob = codec.encode_result(serialization.dumps({"sum": 3}), task=task, organization_id=2)

    assert codec.decode_result(blob, task=task, organization_id=2, reader_id=1) == {"sum": 3}
    with pytest.raises(WrongKeyError):
        codec.decode_result(blob, task=task, organization_id=2, reader_id=2)


def test_inputs_are_bound_to_their_organization() -> None:
    from v6lib.errors import BindingMismatchError

    codec = MockKeyring([1, 2], encrypted=True)
    task = TaskBinding("t-1", "mock", 2)
    blob = codec.encode_input(b'{"method":"m"}', task=task, organization_id=1)

    assert codec.decode_input(blob, task=task, organization_id=1) == {"method": "m"}
    for other in (TaskBinding("t-2", "mock", 2), TaskBinding("t-1", "other", 2),
                  TaskBinding("t-1", "mock", 1)):
        with pytest.raises(BindingMismatchError):
            codec.decode_input(blob, task=other, organization_id=1)
