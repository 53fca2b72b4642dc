"""``progress()`` inside a run: checked at once, sent to the node proxy, never fatal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from v6lib.errors import AlgorithmError, ValidationError
from v6lib.wrappers import AlgorithmContext, progress, use_context
from v6lib.wrappers.progress import proxy_sender

from .fake_proxy import FakeProxy


@pytest.fixture
def proxy() -> Iterator[FakeProxy]:
    fake = FakeProxy().start()
    yield fake
    fake.stop()


def test_progress_goes_to_the_runs_sink() -> None:
    reports: list[tuple[float, str]] = []
    with use_context(AlgorithmContext(progress_sink=lambda f, m: reports.append((f, m)))):
        progress(0.25, "iteration 1/4")
        progress(1)
    assert reports == [(0.25, "iteration 1/4"), (1.0, "")]


def test_progress_outside_a_run_or_not_a_number_is_the_algorithms_mistake() -> None:
    with pytest.raises(AlgorithmError):
        progress(0.5)
    with use_context(AlgorithmContext()), pytest.raises(ValidationError):
        progress("half")  # type: ignore[arg-type]


def test_the_sender_posts_each_new_report_with_the_container_token(proxy: FakeProxy) -> None:
    proxy.on("POST", "/api/progress", lambda req: (202, {"progress": 0.5}))
    send = proxy_sender(proxy.url, "container-token")
    send(0.5, "half way")
    send(0.501, "half way")  # the same whole percent and message: not sent again
    send(0.6, "")
    sent = [(r.body, r.headers["Authorization"]) for r in proxy.requests]
    assert sent == [({"progress": 0.5, "message": "half way"}, "Bearer container-token"),
                    ({"progress": 0.6, "message": ""}, "Bearer container-token")]


def test_a_node_that_refuses_or_is_gone_does_not_fail_the_run(
        proxy: FakeProxy, capsys: pytest.CaptureFixture[str]) -> None:
    proxy.on("POST", "/api/progress", lambda req: (403, {"code": "permission_denied"}))
    send = proxy_sender(proxy.url, "container-token")
    send(0.1, "")
    send(0.2, "")
    proxy_sender("http://127.0.0.1:9/api", "t", timeout=1)(0.3, "")
    assert capsys.readouterr().err.count("progress could not be reported") == 2
