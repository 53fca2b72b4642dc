"""Attempts per (account, address) are taken atomically, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from v6lib.errors import RateLimitedError
from v6lib.server.auth.throttle import ThrottlePolicy
from v6lib.server.auth.tokens import TokenService
from v6lib.server.db.engine import make_engine, make_session_factory
from v6lib.server.db.migrate import upgrade_database
from v6lib.server.db.models import LoginThrottle
from v6lib.server.services import login_throttle
from v6lib.server.services.context import ServiceContext, ServiceSettings

T0 = datetime(2030, 1, 1, tzinfo=UTC)
POLICY = ThrottlePolicy(free_attempts=3, first_delay=timedelta(seconds=10),
                        max_delay=timedelta(minutes=5))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def context(engine: Engine) -> Iterator[Callable[[datetime], ServiceContext]]:
    factory = make_session_factory(engine)
    sessions = []

    def make(now: datetime = T0) -> ServiceContext:
        session = factory()
        sessions.append(session)
        return ServiceContext(session=session, tokens=TokenService("s" * 40), events=None,  # type: ignore[arg-type]
                              settings=ServiceSettings(login_throttle=POLICY),
                              clock=lambda: now)

    yield make
    for session in sessions:
        session.close()


def _try(ctx: ServiceContext, subject: str = "user:root", client: str = "192.0.2.1") -> bool:
    try:
        login_throttle.admit(ctx, subject, client)
    except RateLimitedError:
        return False
    return True


def test_concurrent_attempts_get_exactly_the_free_slots(
        context: Callable[[datetime], ServiceContext]) -> None:
    # Prepare: one session per thread, as one request per thread on the server
    contexts = [context(T0) for _ in range(12)]
    start = threading.Barrier(len(contexts))
    results: list[bool] = []

    def attempt(ctx: ServiceContext) -> None:
        start.wait()
        results.append(_try(ctx))

    # Execute
    threads = [threading.Thread(target=attempt, args=(c,)) for c in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Assert
    assert sorted(results) == [False] * 9 + [True] * 3


def test_pairs_are_counted_apart(context: Callable[[datetime], ServiceContext]) -> None:
    ctx = context(T0)
    assert [_try(ctx) for _ in range(4)] == [True, True, True, False]
    assert _try(ctx, client="192.0.2.2")
    assert _try(ctx, subject="user:other")
    # IPv6 addresses of one /64 are one source
    assert [_try(ctx, client=f"2001:db8::{i}") for i in range(1, 5)] == [True] * 3 + [False]


def test_forget_clears_one_pair_and_prunes_idle_rows(
        context: Callable[[datetime], ServiceContext], engine: Engine) -> None:
    ctx = context(T0)
    for _ in range(3):
        _try(ctx)
        _try(ctx, client="192.0.2.2")
    assert not _try(ctx)
    login_throttle.forget(ctx, "user:root", "192.0.2.1")
    ctx.session.commit()
    assert _try(ctx) and not _try(ctx, client="192.0.2.2")
    # a day later, any success drops every idle row
    later = context(T0 + timedelta(days=2))
    login_throttle.forget(later, "user:someone", "198.51.100.1")
    later.session.commit()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(LoginThrottle)) == 0


def test_retry_after_counts_from_the_last_attempt(
        context: Callable[[datetime], ServiceContext]) -> None:
    for _ in range(3):
        _try(context(T0))
    with pytest.raises(RateLimitedError) as caught:
        login_throttle.admit(context(T0 + timedelta(seconds=4)), "user:root", "192.0.2.1")
    assert caught.value.details == {"retry_after_seconds": 6}
    assert _try(context(T0 + timedelta(seconds=10)))


def test_subjects() -> None:
    assert login_throttle.user_subject("root") == "user:root"
    assert login_throttle.node_subject("abc") == "node:abc"
    assert login_throttle.node_subject(None) == "node:?"
