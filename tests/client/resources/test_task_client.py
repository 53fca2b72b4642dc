"""TaskClient: the POST /task body (plain and sealed), input checks, and long-poll waiting."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from v6lib import errors, serialization
from v6lib.client import Client
from v6lib.client.resources.task import normalize_databases
from v6lib.crypto import (
    TaskBinding,
    fingerprint,
    generate_private_key,
    open_sealed,
    public_key_b64,
)

INPUT = {"method": "central_average", "kwargs": {"column": "age"}}


def _created(req: Any) -> Any:
    return {"id": 9, "uid": req.body["uid"], **{k: req.body[k] for k in ("name", "image")}}


def test_create_plain_task_body(client: Client, server: Any) -> None:
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": False})
    server.on("POST", "/task", _created)

    task = client.task.create(collaboration=1, organizations=[2, 3], name="avg",
                              image="v6-average:latest", description="d", input_=INPUT)

    body = server.requests_to("/task", "POST")[0].body
    assert task["id"] == 9
    assert uuid.UUID(body["uid"]).version == 4
    assert body["collaboration_id"] == 1 and body["study_id"] is None
    assert body["databases"] == [{"label": "default"}]
    assert [o["id"] for o in body["organizations"]] == [2, 3]
    for org in body["organizations"]:
        decoded = serialization.loads(base64.b64decode(org["input"]))
        assert decoded == {"method": "central_average", "args": [], "kwargs": {"column": "age"}}


def test_create_sends_a_time_limit_only_when_given(client: Client, server: Any) -> None:
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": False})
    server.on("POST", "/task", _created)
    client.task.create(collaboration=1, organizations=[2], image="i", input_=INPUT,
                       max_run_seconds=90)
    client.task.create(collaboration=1, organizations=[2], image="i", input_=INPUT)
    with_limit, without = (r.body for r in server.requests_to("/task", "POST"))
    assert with_limit["max_run_seconds"] == 90
    assert "max_run_seconds" not in without  # as servers without the field expect


def test_create_encrypted_task_seals_per_organization(client: Client, server: Any) -> None:
    keys = {2: generate_private_key(2048), 3: generate_private_key(2048)}
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": True})
    for org_id, key in keys.items():
        server.on("GET", f"/organization/{org_id}",
                  {"id": org_id, "name": f"o{org_id}", "public_key": public_key_b64(key)})
    server.on("POST", "/task", _created)

    client.task.create(collaboration=1, organizations=[2, 3], name="avg",
                       image="v6-average:latest", input_=INPUT)

    body = server.requests_to("/task", "POST")[0].body
    for org in body["organizations"]:
        blob = base64.b64decode(org["input"])
        task = TaskBinding(body["uid"], "v6-average:latest", 2)  # the researcher's organization
        plain = open_sealed(blob, keys[org["id"]], task.input(org["id"]))
        assert serialization.loads(plain)["kwargs"] == {"column": "age"}
    # An input sealed for organization 2 does not open as organization 3's.
    blob2 = base64.b64decode(body["organizations"][0]["input"])
    with pytest.raises(errors.DecryptionError):
        open_sealed(blob2, keys[3], task.input(2))
    with pytest.raises(errors.BindingMismatchError):
        open_sealed(blob2, keys[2], task.input(3))
    with pytest.raises(errors.BindingMismatchError):  # replayed with another image
        open_sealed(blob2, keys[2], TaskBinding(body["uid"], "other:1", 2).input(2))


def _encrypted_collaboration(server: Any, key: Any) -> None:
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": True})
    server.on("GET", "/organization/3", {"id": 3, "name": "Three",
                                         "public_key": public_key_b64(key)})
    server.on("POST", "/task", _created)


def test_a_swapped_organization_key_is_refused_across_sessions(server: Any) -> None:
    """Trust on first use: the key seen first is pinned; a later swap is never sealed for."""
    honest, attacker = generate_private_key(2048), generate_private_key(2048)
    _encrypted_collaboration(server, honest)
    first = Client("http://server.test", 7601, "/api", session=server.session())
    first.authenticate("researcher", "secret")
    first.task.create(collaboration=1, organizations=[3], image="i", input_=INPUT)
    assert len(server.requests_to("/task", "POST")) == 1

    _encrypted_collaboration(server, attacker)  # the server now hands out another key
    later = Client("http://server.test", 7601, "/api", session=server.session())
    later.authenticate("researcher", "secret")
    with pytest.raises(errors.KeyChangedError) as caught:
        later.task.create(collaboration=1, organizations=[3], image="i", input_=INPUT)
    assert fingerprint(honest)[:16] in caught.value.message
    assert fingerprint(attacker)[:16] in caught.value.message
    assert len(server.requests_to("/task", "POST")) == 1  # nothing sealed for the attacker

    later.trust.accept(3, fingerprint(attacker))  # a person compared and accepted it
    later.task.create(collaboration=1, organizations=[3], image="i", input_=INPUT)
    assert len(server.requests_to("/task", "POST")) == 2


def test_a_collaboration_seen_encrypted_never_gets_plaintext(server: Any) -> None:
    _encrypted_collaboration(server, generate_private_key(2048))
    first = Client("http://server.test", 7601, "/api", session=server.session())
    first.authenticate("researcher", "secret")
    first.task.create(collaboration=1, organizations=[3], image="i", input_=INPUT)
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": False})  # downgraded
    later = Client("http://server.test", 7601, "/api", session=server.session())
    later.authenticate("researcher", "secret")
    with pytest.raises(errors.EncryptionDowngradeError, match="collaboration 1"):
        later.task.create(collaboration=1, organizations=[3], image="i", input_=INPUT)
    assert len(server.requests_to("/task", "POST")) == 1


def test_encrypted_task_needs_public_keys(client: Client, server: Any) -> None:
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": True})
    server.on("GET", "/organization/3", {"id": 3, "name": "Three", "public_key": None})
    with pytest.raises(errors.EncryptionError, match=r"organization 3 \(Three\) has no public key"):
        client.task.create(collaboration=1, organizations=[3], image="i", input_=INPUT)
    assert server.requests_to("/task", "POST") == []


@pytest.mark.parametrize(("bad", "message"), [
    ({"kwargs": {}}, "method"),
    ({"method": "m", "extra": 1}, "extra"),
    ("central_average", "must be a dict"),
])
def test_invalid_input_is_refused(client: Client, server: Any, bad: Any, message: str) -> None:
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": False})
    with pytest.raises(errors.ValidationError, match=message):
        client.task.create(collaboration=1, organizations=[2], image="i", input_=bad)
    assert server.requests_to("/task", "POST") == []


def test_required_arguments_are_named(client: Client) -> None:
    with pytest.raises(errors.ValidationError, match="image is required"):
        client.task.create(collaboration=1, organizations=[2], input_=INPUT)
    with pytest.raises(errors.ValidationError, match="at least one organization"):
        client.task.create(collaboration=1, organizations=[], image="i", input_=INPUT)


def test_unserializable_input_names_the_path(client: Client, server: Any) -> None:
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": False})
    with pytest.raises(errors.SerializationError, match="kwargs"):
        client.task.create(collaboration=1, organizations=[2], image="i",
                           input_={"method": "m", "kwargs": {"x": object()}})


@pytest.mark.parametrize(("databases", "database", "expected"), [
    (None, None, [{"label": "default"}]),
    (["a", "b"], None, [{"label": "a"}, {"label": "b"}]),
    ([{"label": "sql", "query": "SELECT 1"}], None, [{"label": "sql", "query": "SELECT 1"}]),
    (None, "other", [{"label": "other"}]),
    ("one", None, [{"label": "one"}]),
])
def test_normalize_databases(databases: Any, database: Any, expected: Any) -> None:
    assert normalize_databases(databases, database) == expected


def test_normalize_databases_rejects_nonsense() -> None:
    with pytest.raises(errors.ValidationError, match="label"):
        normalize_databases([42])
    with pytest.raises(errors.ValidationError, match="not both"):
        normalize_databases(["a"], "b")


def test_create_with_study_and_databases(client: Client, server: Any) -> None:
    server.on("GET", "/collaboration/1", {"id": 1, "encrypted": False})
    server.on("POST", "/task", _created)
    client.task.create(collaboration=1, organizations=[2], image="i", input_=INPUT, study=4,
                       databases=["cohort"])
    body = server.requests_to("/task", "POST")[0].body
    assert body["study_id"] == 4 and body["databases"] == [{"label": "cohort"}]


def _runs(statuses: list[str]) -> dict[str, Any]:
    data = [{"id": i, "task_id": 9, "organization_id": i, "status": s}
            for i, s in enumerate(statuses)]
    return {"data": data, "links": {}, "total": len(data), "page": 1, "per_page": 100}


def test_wait_long_polls_until_finished(client: Client, server: Any) -> None:
    answers = iter(["active", "active", "completed"])
    server.on("GET", "/task/9/wait", lambda req: {"id": 9, "status": next(answers)})
    server.on("GET", "/run", _runs(["completed", "completed"]))

    task = client.task.wait(9, interval=0.01)

    waits = server.requests_to("/task/9/wait")
    assert task["status"] == "completed"
    assert len(waits) == 3
    assert {w.params["timeout"] for w in waits} == {"0.01"}
    # The HTTP read timeout covers the server's hold time.
    assert all((w.timeout[1] if isinstance(w.timeout, tuple) else w.timeout) >= 15
               for w in waits)


def test_wait_window_is_capped_at_sixty_seconds(client: Client, server: Any) -> None:
    server.on("GET", "/task/9/wait", {"id": 9, "status": "completed"})
    server.on("GET", "/run", _runs(["completed"]))
    client.task.wait(9, interval=600)
    assert server.requests_to("/task/9/wait")[0].params["timeout"] == "60.0"


def test_wait_checks_every_run_is_terminal(client: Client, server: Any) -> None:
    runs = iter([_runs(["completed", "active"]), _runs(["completed", "failed"])])
    server.on("GET", "/task/9/wait", {"id": 9, "status": "failed"})
    server.on("GET", "/run", lambda req: next(runs))
    client.task.wait(9, interval=0.01)
    assert len(server.requests_to("/task/9/wait")) == 2


def test_wait_timeout_raises_and_says_task_continues(client: Client, server: Any) -> None:
    server.on("GET", "/task/9/wait", {"id": 9, "status": "active"})
    with pytest.raises(errors.WaitTimeoutError, match="keeps running") as info:
        client.task.wait(9, timeout=0.2, interval=0.05)
    assert info.value.exit_code == 75
    # Backoff keeps an early-answering server from turning this into a busy loop.
    assert len(server.requests_to("/task/9/wait")) < 20


def test_wait_comes_back_when_the_server_says(client: Client, server: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([
        (429, {"code": "rate_limited", "message": "too many concurrent long-polls",
               "details": {"retry_after_seconds": 4}}),
        (503, {"code": "server_busy", "message": "retry later",
               "details": {"retry_after_seconds": 2}}),
        {"id": 9, "status": "completed"},
    ])
    server.on("GET", "/task/9/wait", lambda req: next(answers))
    server.on("GET", "/run", _runs(["completed"]))
    slept: list[float] = []
    monkeypatch.setattr("v6lib.client.resources.task.time.sleep", slept.append)

    task = client.task.wait(9, interval=1)

    assert task["status"] == "completed"
    assert len(server.requests_to("/task/9/wait")) == 3
    assert len(slept) == 2 and 4 <= slept[0] <= 6 and 2 <= slept[1] <= 3


def test_wait_refused_past_its_deadline_still_times_out(client: Client, server: Any) -> None:
    server.on("GET", "/task/9/wait", (429, {"code": "rate_limited", "message": "busy",
                                            "details": {"retry_after_seconds": 30}}))
    with pytest.raises(errors.WaitTimeoutError):
        client.task.wait(9, timeout=0.3, interval=0.1)
    # refused while waiting: the last round asks without holding, and is refused too
    assert len(server.requests_to("/task/9/wait")) <= 3


def test_wait_calls_on_progress_with_each_change_in_order(client: Client,
                                                           server: Any) -> None:
    answers = iter(["active", "active", "active", "completed"])
    reports = iter([("active", [None, None]), ("active", [0.1, None]),
                    ("active", [0.1, 0.5]), ("completed", [0.8, 0.5])])

    def runs(req: Any) -> dict[str, Any]:
        status, fractions = next(reports)
        page = _runs([status, status])
        for run, fraction in zip(page["data"], fractions, strict=True):
            run["progress"], run["progress_message"] = fraction, None
        return page

    server.on("GET", "/task/9/wait", lambda req: {"id": 9, "status": next(answers)})
    server.on("GET", "/run", runs)
    seen: list[tuple[int, float]] = []
    task = client.task.wait(9, interval=30, on_progress=lambda run: seen.append(
        (run["id"], run["progress"])))
    assert task["status"] == "completed"
    assert seen == [(0, 0.1), (1, 0.5), (0, 0.8)]
    assert {w.params["timeout"] for w in server.requests_to("/task/9/wait")} == {"1.0"}
