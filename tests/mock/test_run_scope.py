"""Which run a thread works for: entering and leaving runs, and threads that inherit it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from v6lib.mock.run_scope import (
    RunScope,
    current_scope,
    entered,
    host_side,
    install_thread_inheritance,
    outside_run,
)


def _scope(org: int = 1) -> RunScope:
    return RunScope(organization_id=org, run_id=10 + org, environ={}, home=Path("/nowhere"))


@pytest.fixture(autouse=True)
def _inheritance() -> None:
    install_thread_inheritance()


def test_entered_sets_the_scope_for_the_block_only() -> None:
    scope = _scope()
    assert current_scope() is None
    with entered(scope):
        assert current_scope() is scope
        with outside_run():
            assert current_scope() is None
        assert current_scope() is scope
    assert current_scope() is None


def test_host_side_functions_and_objects_run_outside_the_run() -> None:
    class Api:
        name = "api"

        def who(self) -> RunScope | None:
            return current_scope()

    api = host_side(Api())
    seen = host_side(current_scope)
    with entered(_scope()):
        assert seen() is None
        assert api.who() is None
        assert api.name == "api"


def test_a_thread_started_in_a_run_works_for_that_run() -> None:
    scope = _scope()
    seen: list[RunScope | None] = []

    class Worker(threading.Thread):
        def run(self) -> None:
            seen.append(current_scope())

    with entered(scope):
        threads = [threading.Thread(target=lambda: seen.append(current_scope())), Worker(),
                   threading.Timer(0, lambda: seen.append(current_scope()))]
        for thread in threads:
            thread.start()
    for thread in threads:
        thread.join(10)

    assert seen == [scope, scope, scope]


def test_a_thread_started_outside_runs_has_no_run() -> None:
    seen: list[RunScope | None] = []
    thread = threading.Thread(target=lambda: seen.append(current_scope()))
    thread.start()
    thread.join(10)
    assert seen == [None]


def test_pool_work_runs_in_the_scope_of_whoever_submitted_it() -> None:
    first, second = _scope(1), _scope(2)
    with entered(first):  # the pool's threads start inside the first run
        pool = ThreadPoolExecutor(max_workers=1)
        in_first = pool.submit(current_scope).result(10)
    with entered(second):
        in_second = pool.submit(current_scope).result(10)
    outside = pool.submit(current_scope).result(10)
    pool.shutdown()

    assert (in_first, in_second, outside) == (first, second, None)


def test_a_pool_made_outside_runs_serves_a_run_in_its_scope() -> None:
    scope = _scope()
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(current_scope).result(10) is None
        with entered(scope):
            assert list(pool.map(lambda _: current_scope(), [0, 1])) == [scope, scope]
        assert pool.submit(current_scope).result(10) is None
