"""Chunk storage: orphans of dead uploads are swept, switches are atomic, reads are checked."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from tests.server.conftest import World
from v6lib.errors import ConflictError
from v6lib.server.db.base import utcnow
from v6lib.server.db.models import ResultChunk, ResultUpload
from v6lib.server.services.result_store import (
    ORPHAN_AGE,
    ChunkWriter,
    chunk_count,
    iter_chunks,
    sweep_orphans,
    switch_result,
)


def _runs(world: World) -> list[int]:
    task = world.task()
    return [r["id"] for r in world.api.ok("GET", "/run", params={"task_id": task["id"]})["data"]]


def _orphan(engine: Any, run_id: int, age: timedelta, state: str = "uploading") -> int:
    with engine.begin() as conn:
        upload_id = int(conn.execute(insert(ResultUpload).values(
            run_id=run_id, state=state, size=0, started_at=utcnow() - age,
            finished_at=utcnow() - age if state != "uploading" else None)
            .returning(ResultUpload.id)).scalar_one())
        conn.execute(insert(ResultChunk).values(upload_id=upload_id, seq=0, data=b"x" * 10))
    return upload_id


def _ids(engine: Any) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(select(ResultUpload.id).order_by(ResultUpload.id)))


def test_sweep_deletes_only_old_orphans_and_stale_replacements(db_world: World) -> None:
    # Prepare
    engine = db_world.api.app.v6_state.engine
    first, second = _runs(db_world)
    dead = _orphan(engine, first, ORPHAN_AGE + timedelta(minutes=1))
    running = _orphan(engine, second, timedelta(minutes=5))
    replaced = _orphan(engine, second, timedelta(hours=2), state="superseded")
    # Execute
    removed = sweep_orphans(engine, utcnow())
    # Assert
    assert removed == 2
    assert _ids(engine) == [running]
    with engine.connect() as conn:
        assert chunk_count(conn, dead) == chunk_count(conn, replaced) == 0
        assert chunk_count(conn, running) == 1


def test_a_new_upload_removes_the_unfinished_one_of_its_run(db_world: World) -> None:
    engine = db_world.api.app.v6_state.engine
    run_id = _runs(db_world)[0]
    crashed = _orphan(engine, run_id, timedelta(seconds=5))
    writer = ChunkWriter(engine, run_id)
    writer.start(utcnow())
    writer.write(b"abc")
    assert _ids(engine) == [writer.upload_id] and crashed not in _ids(engine)
    writer.close()


def test_a_replaced_upload_cannot_complete_or_write(db_world: World) -> None:
    engine = db_world.api.app.v6_state.engine
    run_id = _runs(db_world)[0]
    older = ChunkWriter(engine, run_id)
    older.start(utcnow())
    older.write(b"one")
    newer = ChunkWriter(engine, run_id)
    newer.start(utcnow())  # a resend after a node crash: the older upload is an orphan now
    with pytest.raises(ConflictError, match="newer upload"):
        older.write(b"two")
    with pytest.raises(ConflictError, match="newer upload"):
        switch_result(engine, run_id, upload_id=older.upload_id, inline_b64=None, size=3,
                      sha256="0" * 64, now=utcnow(), accept=lambda conn, current: True)
    older.close()
    newer.write(b"fine")
    newer.close()
    sha = hashlib.sha256(b"fine").hexdigest()
    assert switch_result(engine, run_id, upload_id=newer.upload_id, inline_b64=None, size=4,
                         sha256=sha, now=utcnow(), accept=lambda conn, current: True)
    assert b"".join(iter_chunks(engine, newer.upload_id or 0, 4)) == b"fine"


def test_reading_a_vanished_upload_is_an_error(db_world: World) -> None:
    engine = db_world.api.app.v6_state.engine
    upload_id = _orphan(engine, _runs(db_world)[0], timedelta(0))
    with pytest.raises(ConflictError, match="10 of 30 bytes"):
        list(iter_chunks(engine, upload_id, 30))
