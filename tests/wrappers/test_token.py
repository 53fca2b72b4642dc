"""Reading run metadata from the container token's claims, without verification."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from v6lib.wrappers.contract import ContainerEnv
from v6lib.wrappers.metadata import RunMetaData, RunMetadata
from v6lib.wrappers.token import metadata_for_run, metadata_from_token, read_claims


def make_jwt(claims: dict[str, object]) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_flat_claims() -> None:
    token = make_jwt({"task_id": 9, "run_id": 12, "job_id": 3, "organization_id": 2,
                      "collaboration_id": 1, "node_id": 4, "image": "avg:1", "exp": 1})
    assert metadata_from_token(token, temporary_folder=Path("/tmp/x")) == RunMetadata(
        task_id=9, run_id=12, job_id=3, organization_id=2, collaboration_id=1, node_id=4,
        image="avg:1", temporary_folder=Path("/tmp/x"))


def test_nested_identity_and_string_ids() -> None:
    token = make_jwt({"sub": {"task_id": "9", "organization_id": 2, "collaboration_id": 1},
                      "node_id": 4})
    meta = metadata_from_token(token)
    assert (meta.task_id, meta.organization_id, meta.collaboration_id, meta.node_id) == (
        9, 2, 1, 4)
    assert meta.run_id is None and meta.image is None


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "a.!!!.c",
                                   make_jwt(["a", "list"])])  # type: ignore[arg-type]
def test_unreadable_tokens_give_empty_metadata(token: str) -> None:
    assert read_claims(token) == {}
    assert metadata_from_token(token) == RunMetadata()


def test_claims_with_padding_needed() -> None:
    token = make_jwt({"task_id": 1, "x": "ab"})
    assert read_claims(token)["task_id"] == 1


def test_run_metadata_carries_the_files_under_vantage6s_names_too() -> None:
    env = ContainerEnv(input_file=Path("/run/input"), output_file=Path("/run/output"),
                       token_file=Path("/run/token"), temporary_folder=Path("/run/tmp"))

    meta = metadata_for_run(make_jwt({"task_id": 9, "node_id": 4}), env)

    assert RunMetaData is RunMetadata
    assert (meta.task_id, meta.node_id) == (9, 4)
    assert (meta.input_file, meta.output_file, meta.token_file) == (
        Path("/run/input"), Path("/run/output"), Path("/run/token"))
    assert meta.temporary_directory == meta.temporary_folder == Path("/run/tmp")
