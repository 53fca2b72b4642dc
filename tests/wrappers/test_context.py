"""The run context: outside-a-run errors, nesting, per-thread isolation, lazy client."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from v6lib.errors import AlgorithmError
from v6lib.wrappers.context import AlgorithmContext, current_context, use_context
from v6lib.wrappers.metadata import RunMetadata


def test_outside_a_run_is_a_clear_error() -> None:
    with pytest.raises(AlgorithmError, match="through the wrapper or the MockNetwork"):
        current_context()


def test_use_context_nests_and_restores() -> None:
    outer = AlgorithmContext(metadata=RunMetadata(task_id=1))
    inner = AlgorithmContext(metadata=RunMetadata(task_id=2))
    with use_context(outer):
        assert current_context() is outer
        with use_context(inner):
            assert current_context() is inner
        assert current_context() is outer
    with pytest.raises(AlgorithmError):
        current_context()


def test_context_is_restored_after_an_exception() -> None:
    ctx = AlgorithmContext()
    with pytest.raises(ZeroDivisionError), use_context(ctx):
        _ = 1 / 0
    with pytest.raises(AlgorithmError):
        current_context()


def test_each_thread_sees_its_own_context() -> None:
    barrier = threading.Barrier(4)

    def run(org: int) -> int | None:
        with use_context(AlgorithmContext(metadata=RunMetadata(organization_id=org))):
            barrier.wait(timeout=5)  # all four contexts are active at the same time
            return current_context().metadata.organization_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(run, [10, 20, 30, 40])) == [10, 20, 30, 40]


def test_a_new_thread_does_not_inherit_the_context() -> None:
    seen: list[BaseException] = []

    def probe() -> None:
        try:
            current_context()
        except AlgorithmError as exc:
            seen.append(exc)

    with use_context(AlgorithmContext()):
        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
    assert len(seen) == 1


def test_client_is_built_lazily_and_once() -> None:
    calls: list[int] = []
    sentinel = object()

    def factory() -> object:
        calls.append(1)
        return sentinel

    ctx = AlgorithmContext(client_factory=factory)  # type: ignore[arg-type]
    assert calls == []
    assert ctx.client() is sentinel
    assert ctx.client() is sentinel
    assert calls == [1]


def test_client_without_factory_is_an_error() -> None:
    with pytest.raises(AlgorithmError, match="no algorithm client"):
        AlgorithmContext().client()


def test_custom_data_loader_gets_columns_or_the_hint(csv_db, frame) -> None:
    spec = csv_db("a", frame)
    seen: list[object] = []
    ctx = AlgorithmContext(databases=[spec], columns=["age"],
                           data_loader=lambda s, cols: seen.append((s, cols)) or frame)
    ctx.load(spec)
    ctx.load(spec, ["city"])
    assert seen == [(spec, ["age"]), (spec, ["city"])]


def test_default_loader_reads_through_the_sources(csv_db, frame) -> None:
    spec = csv_db("a", frame)
    loaded = AlgorithmContext(databases=[spec]).load(spec, ["city", "age"])
    assert list(loaded.columns) == ["city", "age"]
    assert loaded["age"].tolist() == [30, 41, 52]
