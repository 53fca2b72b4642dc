"""``PUT/GET /run/{id}/result``: raw results streamed in and out, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.server.conftest import Api, World, build_app, make_world, root_org
from v6lib.crypto import Binding, generate_private_key, public_key_b64, seal
from v6lib.schemas.run import INLINE_RESULT_BYTES, RunResultOut
from v6lib.server.db.models import ResultChunk, ResultUpload, Run
from v6lib.server.services.result_store import CHUNK_BYTES

RAW = {"Content-Type": "application/octet-stream"}
BIG = INLINE_RESULT_BYTES + 3 * CHUNK_BYTES + 12345


def put(world: World, run_id: int, data: bytes, token: str, **kw: Any) -> Any:
    return world.api.call("PUT", f"/run/{run_id}/result", body=data, token=token,
                          headers={**RAW, **kw.pop("headers", {})}, **kw)


def put_stream(world: World, run_id: int, stream: Any, length: int, token: str) -> Any:
    """PUT with a given WSGI input stream (to simulate slow or broken connections)."""
    return world.api.client.simulate_request(
        "PUT", f"/api/run/{run_id}/result", headers={**RAW, "Authorization": f"Bearer {token}"},
        extras={"wsgi.input": stream, "CONTENT_LENGTH": str(length)})


def active_run(world: World, which: str = "a") -> tuple[int, str]:
    """A run of a fresh task at organization A (or B), claimed and active; its node token."""
    task = world.task()
    org = world.org_a if which == "a" else world.org_b
    run = world.api.ok("GET", "/run", params={"task_id": task["id"],
                                              "organization_id": org})["data"][0]
    node = world.node_token(which)
    for status in ("initializing", "active"):
        world.api.ok("PATCH", f"/run/{run['id']}", json={"status": status}, token=node)
    return run["id"], node


def uploads(app: Any) -> list[tuple[int, str]]:
    with app.v6_state.engine.connect() as conn:
        return [(r.run_id, r.state) for r in conn.execute(
            select(ResultUpload.run_id, ResultUpload.state).order_by(ResultUpload.id))]


def chunk_rows(app: Any) -> int:
    with app.v6_state.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ResultChunk)) or 0)


def test_big_result_round_trip(db_world: World) -> None:
    # Prepare
    world = db_world
    run_id, node = active_run(world)
    data = os.urandom(BIG)
    # Execute
    stored = put(world, run_id, data, node)
    raw = world.api.get(f"/run/{run_id}/result")
    as_json = world.api.ok("GET", f"/result/{run_id}")
    as_run = world.api.ok("GET", f"/run/{run_id}")
    # Assert
    sha = hashlib.sha256(data).hexdigest()
    assert stored.status_code == 200, stored.text
    assert stored.json == {"run_id": run_id, "size": BIG, "sha256": sha, "stored": "chunks",
                           "changed": True,
                           "run": {"id": run_id, "link": f"/api/run/{run_id}",
                                   "methods": ["GET", "PATCH"]}}
    assert raw.status_code == 200 and raw.content == data
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-length"] == str(BIG)
    assert raw.headers["x-result-sha256"] == sha
    assert as_json["result"] is None and as_json["result_size"] == BIG
    assert as_run["result"] is None and as_run["result_size"] == BIG
    assert chunk_rows(world.api.app) == -(-BIG // CHUNK_BYTES)


def test_small_result_is_stored_inline_like_the_json_path(db_world: World) -> None:
    world = db_world
    run_id, node = active_run(world)
    data = b'{"mean": 4.5}'
    stored = world.api.call("PUT", f"/run/{run_id}/result", body=data, token=node,
                            headers={"Content-Type": "application/octet-stream; x=1"})
    assert stored.status_code == 200
    assert RunResultOut.from_reply(stored.json).stored == "inline"  # as the node reads it
    done = world.api.ok("PATCH", f"/run/{run_id}", json={"status": "completed"}, token=node)
    assert base64.b64decode(done["result"]) == data and done["result_size"] == len(data)
    assert world.api.get(f"/run/{run_id}/result").content == data
    assert uploads(world.api.app) == [] and chunk_rows(world.api.app) == 0


def test_json_results_are_served_raw_and_big_ones_are_not_inlined(world: World) -> None:
    run_id, node = active_run(world)
    data = os.urandom(INLINE_RESULT_BYTES + 1)
    world.api.ok("PATCH", f"/run/{run_id}", token=node, json={
        "status": "completed", "result": base64.b64encode(data).decode()})
    listed = world.api.ok("GET", "/result", params={"task_id": world.api.ok(
        "GET", f"/run/{run_id}")["task_id"], "organization_id": world.org_a})["data"][0]
    assert listed["result"] is None and listed["result_size"] == len(data)
    assert world.api.get(f"/run/{run_id}/result").content == data


def test_resend_after_the_final_status_is_a_no_op(db_world: World) -> None:
    world = db_world
    run_id, node = active_run(world)
    data = os.urandom(BIG)
    assert put(world, run_id, data, node).status_code == 200
    world.api.ok("PATCH", f"/run/{run_id}", json={"status": "completed"}, token=node)
    again = put(world, run_id, data, node)
    other = put(world, run_id, data[:-1] + b"!", node)
    assert again.status_code == 200 and again.json["changed"] is False
    assert other.status_code == 409 and other.json["code"] == "conflict"
    assert world.api.get(f"/run/{run_id}/result").content == data
    assert uploads(world.api.app) == [(run_id, "complete")]


def test_a_new_upload_replaces_the_old_one_and_its_chunks(db_world: World) -> None:
    world = db_world
    run_id, node = active_run(world)
    first, second = os.urandom(BIG), os.urandom(BIG - CHUNK_BYTES)
    assert put(world, run_id, first, node).json["changed"] is True
    assert put(world, run_id, first, node).json["changed"] is False
    assert put(world, run_id, second, node).json["changed"] is True
    assert world.api.get(f"/run/{run_id}/result").content == second
    assert uploads(world.api.app) == [(run_id, "complete")]
    assert chunk_rows(world.api.app) == -(-len(second) // CHUNK_BYTES)
    small = put(world, run_id, b"[1]", node)
    assert small.json["stored"] == "inline"
    assert uploads(world.api.app) == [] and chunk_rows(world.api.app) == 0


def test_who_may_send_and_read(world: World) -> None:
    run_id, node = active_run(world)
    user_a = world.user("alice", world.org_a, ["Researcher"])
    user_b = world.user("bob", world.org_b, ["Researcher"])
    user_c = world.user("carol", world.org_c, ["Researcher"])
    assert put(world, run_id, b"x", world.node_token("b")).status_code == 403
    assert put(world, run_id, b"x", world.api.token or "").status_code == 403
    anonymous = world.api.call("PUT", f"/run/{run_id}/result", body=b"x", token="",
                               headers=RAW)
    assert anonymous.status_code == 401 and anonymous.json["code"] == "authentication_error"
    missing = world.api.get(f"/run/{run_id}/result")
    assert missing.status_code == 404 and "has no result" in missing.json["message"]
    put(world, run_id, b"[2]", node)
    assert world.api.get(f"/run/{run_id}/result", token=user_a).content == b"[2]"
    for token in (user_b, user_c):  # exactly those who may view the JSON result
        as_json = world.api.get(f"/result/{run_id}", token=token).status_code
        hidden = world.api.get(f"/run/{run_id}/result", token=token)
        assert hidden.status_code == as_json == 404 and hidden.json["code"] == "not_found"
    assert world.api.get("/run/99999/result").status_code == 404
    assert put(world, 99999, b"x", node).status_code == 404


def test_malformed_uploads_get_json_errors(world: World) -> None:
    run_id, node = active_run(world)
    json_type = world.api.call("PUT", f"/run/{run_id}/result", body=b"x", token=node,
                               headers={"Content-Type": "application/json"})
    assert json_type.status_code == 415 and json_type.json["code"] == "unsupported_media_type"
    empty = put_stream(world, run_id, io.BytesIO(b""), 0, node)
    assert empty.status_code == 400 and empty.json["code"] == "validation_error"
    unknown_length = put(world, run_id, b"", node)
    assert unknown_length.status_code == 411 and unknown_length.json["code"] == "length_required"
    pending = world.api.ok("GET", "/run", params={"task_id": world.task()["id"],
                                                  "organization_id": world.org_a})["data"][0]
    early = put(world, pending["id"], b"x", node)
    assert early.status_code == 409 and early.json["details"] == {"current": "pending"}
    world.api.ok("PATCH", f"/run/{run_id}", json={"status": "failed"}, token=node)
    late = put(world, run_id, b"x", node)
    assert late.status_code == 409 and "without a result" in late.json["message"]


def test_own_size_limit_above_the_json_limit(tmp_path: Any) -> None:
    app = build_app(f"sqlite:///{tmp_path / 's.sqlite'}",
                    config={"max_request_bytes": 4096, "max_result_bytes": 8192})
    try:
        world = make_world(Api(app).as_(Api(app).login("root", "Root-pass-1234!")))
        run_id, node = active_run(world)
        fits = put(world, run_id, os.urandom(6000), node)
        assert fits.status_code == 200, fits.text
        too_big = put(world, run_id, os.urandom(9000), node)
        assert too_big.status_code == 413 and too_big.json["code"] == "payload_too_large"
        json_too_big = world.api.patch(f"/run/{run_id}", token=node, json={
            "status": "completed", "result": base64.b64encode(os.urandom(6000)).decode()})
        assert json_too_big.status_code == 413
        assert world.api.get(f"/run/{run_id}/result").headers["content-length"] == "6000"
    finally:
        app.v6_state.hub.stop()
        app.v6_state.engine.dispose()


@pytest.fixture
def encrypted_run(world: World) -> tuple[World, int, str, Any]:
    key = generate_private_key(2048)
    world.api.ok("PATCH", f"/organization/{world.org_a}",
                 json={"public_key": public_key_b64(key)})
    collab = world.api.ok("POST", "/collaboration", 201, json={
        "name": "sealed", "organization_ids": [world.org_a, root_org(world.api)],
        "encrypted": True})["id"]
    api_key = world.api.ok("POST", "/node", 201, json={"collaboration_id": collab,
                                                      "organization_id": world.org_a})["api_key"]
    sealed_input = seal(b"{}", [key.public_key()],
                        Binding("u" * 32, world.org_a, "input", "img:1", world.org_a))
    task = world.api.ok("POST", "/task", 201, json={
        "collaboration_id": collab, "name": "t", "image": "img:1",
        "organizations": [{"id": world.org_a,
                           "input": base64.b64encode(sealed_input).decode()}]})
    run_id = world.api.ok("GET", "/run", params={"task_id": task["id"]})["data"][0]["id"]
    node = world.api.node_login(api_key)
    for status in ("initializing", "active"):
        world.api.ok("PATCH", f"/run/{run_id}", json={"status": status}, token=node)
    return world, run_id, node, key


def test_plaintext_is_refused_in_an_encrypted_collaboration(encrypted_run: Any) -> None:
    world, run_id, node, key = encrypted_run
    plain = put(world, run_id, b'{"secret": 1}' * (BIG // 13), node)
    assert plain.status_code == 400 and plain.json["details"]["field"] == "result"
    assert uploads(world.api.app) == []
    sealed = seal(os.urandom(BIG), [key.public_key()],
                  Binding("t", world.org_a, "result", "img:1", world.org_a))
    magic_then_plain = sealed[:5] + b'{"secret": 1}' * (BIG // 13)
    refused = put(world, run_id, magic_then_plain, node)
    assert refused.status_code == 400 and "not a sealed envelope" in refused.json["message"]
    assert put(world, run_id, sealed[:-1], node).status_code == 400  # ends inside a chunk
    assert uploads(world.api.app) == []
    assert put(world, run_id, sealed, node).status_code == 200
    assert world.api.get(f"/run/{run_id}/result").content == sealed


class _Breaking(io.RawIOBase):
    """A request body that fails after ``fail_after`` bytes, like a dropped connection."""

    def __init__(self, fail_after: int) -> None:
        self.left = fail_after

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError("connection reset by peer")
        take = min(n if n > 0 else self.left, self.left)
        self.left -= take
        return b"\0" * take


def test_an_interrupted_upload_leaves_nothing_behind(world: World) -> None:
    run_id, node = active_run(world)
    size = INLINE_RESULT_BYTES + 5 * CHUNK_BYTES
    broken = put_stream(world, run_id, _Breaking(size - CHUNK_BYTES), size, node)
    assert broken.status_code == 400 and "send it again" in broken.json["message"]
    assert uploads(world.api.app) == [] and chunk_rows(world.api.app) == 0
    short = put_stream(world, run_id, io.BytesIO(b"\0" * (size - 10)), size, node)
    assert short.status_code == 400 and "ended after" in short.json["message"]
    assert uploads(world.api.app) == []
    with world.api.app.v6_state.engine.connect() as conn:
        assert conn.scalar(select(Run.result_size).where(Run.id == run_id)) is None


class _Slow(io.RawIOBase):
    """A body of ``size`` bytes: the first ``fast`` at once, then ``step`` per ``pause``."""

    def __init__(self, size: int, fast: int, step: int, pause: float) -> None:
        self.left, self.fast, self.step, self.pause = size, fast, step, pause
        self.slow = threading.Event()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        if self.fast > 0:
            take = min(self.fast, n if n > 0 else self.fast)
            self.fast -= take
        else:
            self.slow.set()
            time.sleep(self.pause)
            take = min(self.step, n if n > 0 else self.step, self.left)
        self.left -= take
        return b"\1" * take


def test_other_writes_stay_responsive_during_an_upload(db_world: World) -> None:
    world = db_world
    run_id, node = active_run(world)
    size = INLINE_RESULT_BYTES + 8 * CHUNK_BYTES
    # past the inline limit at once, so the slow part is written chunk by chunk
    body = _Slow(size, INLINE_RESULT_BYTES + CHUNK_BYTES, CHUNK_BYTES // 2, 0.05)
    answers: list[Any] = []
    uploader = threading.Thread(target=lambda: answers.append(
        put_stream(world, run_id, body, size, node)))
    uploader.start()
    assert body.slow.wait(30)
    time.sleep(0.2)
    slowest = 0.0
    for n in range(5):
        began = time.monotonic()
        world.api.ok("POST", "/organization", 201, json={"name": f"during-{n}"})
        slowest = max(slowest, time.monotonic() - began)
    still_uploading = uploader.is_alive()
    uploader.join(60)
    assert still_uploading, "the upload finished before the writes: make it slower"
    assert answers[0].status_code == 200, answers[0].text
    assert slowest < 1.0
    assert world.api.get(f"/run/{run_id}/result").content == b"\1" * size


def test_deleting_the_task_deletes_its_stored_result(db_world: World) -> None:
    world = db_world
    run_id, node = active_run(world)
    assert put(world, run_id, os.urandom(BIG), node).status_code == 200
    task_id = world.api.ok("GET", f"/run/{run_id}")["task_id"]
    world.api.ok("DELETE", f"/task/{task_id}")
    assert uploads(world.api.app) == [] and chunk_rows(world.api.app) == 0
    assert world.api.get(f"/run/{run_id}/result").status_code == 404


def test_a_declared_digest_is_checked_and_spares_storing_a_resend(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id, node = active_run(world)
    data = os.urandom(BIG)
    sha = hashlib.sha256(data).hexdigest()
    damaged = put(world, run_id, data, node, headers={"X-Result-SHA256": "0" * 64})
    assert damaged.status_code == 400 and "damaged" in damaged.json["message"]
    assert uploads(world.api.app) == [] and chunk_rows(world.api.app) == 0
    malformed = put(world, run_id, data, node, headers={"X-Result-SHA256": "xyz"})
    assert malformed.status_code == 400
    assert malformed.json["details"]["field"] == "X-Result-SHA256"
    assert put(world, run_id, data, node, headers={"X-Result-SHA256": sha}).json["changed"]

    class NoStoring:
        def __init__(self, *args: Any) -> None:
            raise AssertionError("a resend of the stored result must not be stored again")

    monkeypatch.setattr("v6lib.server.services.results.ChunkWriter", NoStoring)
    again = put(world, run_id, data, node, headers={"X-Result-SHA256": sha.upper()})
    assert again.status_code == 200 and again.json["changed"] is False
    assert world.api.get(f"/run/{run_id}/result").content == data
