"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document.

Schemathesis generates valid and invalid requests for every operation in ``/apidocs``
and sends them in-process (WSGI) as root, on SQLite and on PostgreSQL; no answer may be
a 5xx. Long polls are cut to a few milliseconds so the run stays bounded.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.postgres import drop_database, fresh_postgres_url
from v6lib.config import ServerConfig
from v6lib.server.app import create_app
from v6lib.server.auth.passwords import TEST_COST

ROOT_PASSWORD = "Fuzz-root-1!"
MAX_EXAMPLES = 20
_LONG_POLL_CAP = 0.01


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzz_app(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    folder = tmp_path_factory.mktemp("fuzz")
    uri = f"sqlite:///{folder / 'server.sqlite'}" if request.param == "sqlite" \
        else fresh_postgres_url()
    config = ServerConfig(uri=uri, root_password=ROOT_PASSWORD,
                          jwt_secret_file=folder / "jwt.key")
    app = create_app(config, kdf_cost=TEST_COST, announce=lambda *_: None)
    yield app
    app.v6_state.hub.stop()
    app.v6_state.engine.dispose()
    if request.param == "postgres":
        drop_database(uri)


@pytest.fixture(scope="module")
def root_headers(fuzz_app: Any) -> dict[str, str]:
    client = falcon.testing.TestClient(fuzz_app)
    answer = client.simulate_post(
        "/api/token/user", json={"username": "root", "password": ROOT_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json['access_token']}"}
    _seed(client, headers)
    return headers


def _seed(client: falcon.testing.TestClient, headers: dict[str, str]) -> None:
    """A few real rows, so small generated ids also reach the code behind a 404."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = client.simulate_post(f"/api{path}", json=body, headers=headers)
        assert answer.status_code in (200, 201), f"{path}: {answer.text}"
        return answer.json

    orgs = [post("/organization", {"name": f"fuzz-{n}"})["id"] for n in range(2)]
    root_org = client.simulate_get("/api/organization", params={"name": "root"},
                                   headers=headers).json["data"][0]["id"]
    # root's organization must be a member to start the seed task
    collaboration = post("/collaboration", {"name": "fuzz",
                                            "organization_ids": [*orgs, root_org]})["id"]
    for org in orgs:
        post("/node", {"collaboration_id": collaboration, "organization_id": org})
    post("/study", {"name": "fuzz", "collaboration_id": collaboration, "organization_ids": orgs})
    task_input = base64.b64encode(b'{"method": "x"}').decode()
    post(
        "/task",
        {
            "collaboration_id": collaboration,
            "image": "fuzz:latest",
            "organizations": [{"id": org, "input": task_input} for org in orgs],
        },
    )


def _bound_long_polls(case: Any) -> None:
    query = case.query if isinstance(case.query, dict) else None
    if query is not None and isinstance(query.get("timeout"), int | float):
        query["timeout"] = min(query["timeout"], _LONG_POLL_CAP)


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> str | None:
    """Run one operation's examples; the first failure as text, or None."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        _bound_long_polls(case)
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    try:
        run()
    except Unsatisfiable:  # no parameters to break: negative mode has nothing to send
        return None
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises failure groups
        return f"{operation.label} ({mode.value}): {str(exc)[:600]}"
    return None


@pytest.mark.slow
def test_no_server_errors(fuzz_app: Any, root_headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_wsgi("/apidocs", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    # deletions last: removing a role or collaboration early would starve the rest
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    assert len(operations) > 40  # the whole API, not an empty document
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := _fuzz(operation, mode, root_headers)) is not None
    ]
    assert not failures, "\n\n".join(failures)
