"""Run and result answers: ``result`` inline up to the limit, ``result_size`` always."""

from __future__ import annotations

import base64

import pytest

from v6lib.schemas.run import INLINE_RESULT_BYTES, ResultOut, RunOut

BASE = {"id": 1, "task_id": 2, "organization_id": 3, "status": "completed"}


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 1000, INLINE_RESULT_BYTES])
def test_small_results_are_inline_with_their_size(size: int) -> None:
    value = base64.b64encode(b"a" * size).decode()
    out = ResultOut(**BASE, run_id=1, result=value)
    assert out.result == value and out.result_size == size


def test_big_results_are_left_out_with_their_size() -> None:
    value = base64.b64encode(b"a" * (INLINE_RESULT_BYTES + 1)).decode()
    out = RunOut(**BASE, input="", result=value)
    assert out.result is None and out.result_size == INLINE_RESULT_BYTES + 1


def test_a_chunked_result_keeps_the_size_the_server_gave() -> None:
    out = RunOut(**BASE, input="", result=None, result_size=300_000_000)
    assert out.result is None and out.result_size == 300_000_000
    assert RunOut(**BASE, input="").result_size is None
