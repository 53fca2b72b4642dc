"""``/ui``: the web UI's files, served by the app itself with headers that confine them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from falcon import testing

from v6lib.server.ui.assets import SECURITY_HEADERS, STATIC_DIR, load_assets


@pytest.fixture
def client(app: Any) -> testing.TestClient:
    return testing.TestClient(app)


def test_index_knows_the_api_path_and_carries_the_security_headers(
        client: testing.TestClient) -> None:
    page = client.simulate_get("/ui")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert '<meta name="v6-api-path" content="/api">' in page.text
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]


def test_every_file_is_served_with_its_type(client: testing.TestClient) -> None:
    for path in STATIC_DIR.iterdir():
        answer = client.simulate_get(f"/ui/{path.name}")
        assert answer.status_code == 200, path.name
        assert answer.content == (path.read_bytes() if path.name != "index.html"
                                  else answer.content)
    assert client.simulate_get("/ui/app.js").headers["Content-Type"].startswith(
        "text/javascript")
    assert client.simulate_get("/ui/qrcode.mjs").headers["Content-Type"].startswith(
        "text/javascript")
    assert client.simulate_get("/ui/style.css").headers["Content-Type"].startswith("text/css")


def test_the_arrow_reader_is_a_module_under_a_policy_without_eval(
        client: testing.TestClient) -> None:
    answer = client.simulate_get("/ui/arrow.mjs")
    assert answer.headers["Content-Type"].startswith("text/javascript")
    assert answer.text.rstrip().endswith("export default scope.Arrow;")
    # NOTE: reading IPC streams needs no eval (the bundle's new Function is for building
    # vectors from JavaScript values, which the page never does)
    policy = answer.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in policy and "wasm" not in policy


def test_unchanged_files_answer_304(client: testing.TestClient) -> None:
    first = client.simulate_get("/ui/app.js")
    again = client.simulate_get("/ui/app.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.content
    assert first.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/ui/nothing.js", "/ui/..%2Fapp.py", "/ui/../app.py",
                                  "/ui/%2e%2e/assets.py", "/ui/static/app.js"])
def test_nothing_else_is_served(client: testing.TestClient, path: str) -> None:
    answer = client.simulate_get(path)
    assert answer.status_code == 404
    assert answer.json["code"] == "not_found"


def test_the_bare_address_leads_to_the_ui(client: testing.TestClient) -> None:
    answer = client.simulate_get("/")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/ui")


def test_the_ui_needs_no_token_but_the_api_still_does(client: testing.TestClient) -> None:
    assert client.simulate_get("/ui/api.js").status_code == 200
    assert client.simulate_get("/api/permissions").status_code == 401


def test_assets_follow_a_configured_api_path(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<meta content="{{API_PATH}}">', encoding="utf-8")
    (tmp_path / ".hidden").write_text("x", encoding="utf-8")
    assets = load_assets("/v6/api", tmp_path)
    assert set(assets) == {"index.html"}
    assert assets["index.html"].body == b'<meta content="/v6/api">'


def test_a_missing_index_is_an_error_at_start(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"index\.html"):
        load_assets("/api", tmp_path)


def test_the_vendored_and_own_files_are_in_the_package() -> None:
    # that they reach the wheel: tests/cli/test_algorithm_wheel.py builds and opens it
    assert {"index.html", "app.js", "api.js", "qrcode.mjs", "arrow.mjs"} <= {
        p.name for p in STATIC_DIR.iterdir()}
