"""Network databases, whitelist and docker_services on the Docker runtime: real engine,
real PostgreSQL, real HTTP servers and a real service container.

What must hold: a run reads the database its task requested with ordinary drivers
(SQLAlchemy + psycopg) through its relay, without the password in its environment; a run
reaches nothing else: not the database's own address, not a database it did not request,
not a destination the whitelist does not name; the node's isolation check proves the
relays and refuses to run algorithms when a relay's destination is unreachable.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker_support import (
    PYTHON_IMAGE,
    cleanup_node,
    docker_client,
    fake_proxy_socket,
    http_server,
    outside_host_ip,
    unique_node_name,
)
from tests.network_services import (
    EXPECTED_PERSONS,
    OMOP_DIR,
    PATIENTS,
    PEOPLE,
    netdb_images,
    people_age_sum,
    people_database,
    sparql_endpoint,
)
from v6lib.errors import RuntimeUnavailableError
from v6lib.node.run_files import prepare_run_files, run_paths
from v6lib.node.runtime.base import JobDatabase, JobSpec
from v6lib.node.runtime.docker import DockerRuntime
from v6lib.rules.network_access import Allowlist
from v6lib.serialization.codec import loads

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.integration]
__all__ = ["docker_client", "netdb_images"]

PEOPLE_QUERY = "SELECT id, age FROM people"


@pytest.fixture(scope="module")
def images(netdb_images: tuple[str, str]) -> tuple[str, str]:
    return netdb_images


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with people_database() as url:
        yield url


@pytest.fixture(scope="module")
def web() -> Iterator[tuple[str, int]]:
    """An HTTP server on the host's outside address: the whitelisted destination."""
    with http_server(outside_host_ip()) as address:
        yield address


@pytest.fixture(scope="module")
def service(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running container serving HTTP on port 8000: a ``docker_services`` entry."""
    name = f"v6-netdb-service-{uuid.uuid4().hex[:8]}"
    container = docker_client.containers.run(
        PYTHON_IMAGE, ["python3", "-c", (
            "import http.server as h\n"
            "class H(h.BaseHTTPRequestHandler):\n"
            "    def do_GET(self):\n"
            "        self.send_response(200); self.end_headers()\n"
            "        self.wfile.write(b'hello from the service')\n"
            "h.HTTPServer(('0.0.0.0', 8000), H).serve_forever()\n")],
        name=name, detach=True, remove=False)
    try:
        yield name
    finally:
        container.remove(force=True)


@pytest.fixture(scope="module")
def runtime(docker_client: Any, tmp_path_factory: pytest.TempPathFactory, pg_url: str,
            web: tuple[str, int], service: str, images: Any) -> Iterator[DockerRuntime]:
    base = tmp_path_factory.mktemp("netdb-node")
    rt = DockerRuntime(
        unique_node_name("netdb"), check_image=PYTHON_IMAGE, proxy_socket_dir=base / "proxy",
        relay_dir=base / "relays", allowlist=Allowlist.of(ips=[web[0]], ports=[web[1]]),
        services={"webservice": service},
        network_databases=[JobDatabase("people", pg_url, "sql", PEOPLE_QUERY)])
    with fake_proxy_socket(rt.proxy_socket()):
        yield rt
    assert cleanup_node(docker_client, rt) == []


def run(runtime: DockerRuntime, tmp_path: Path, image: str, method: str,
        kwargs: dict[str, Any] | None = None, databases: tuple[JobDatabase, ...] = (),
        run_id: int = 1) -> tuple[Any, str]:
    """Run ``method`` in a container of ``image``; its decoded result and its log."""
    import json

    paths = run_paths(tmp_path, 7, run_id)
    prepare_run_files(paths, json.dumps({"method": method, "kwargs": kwargs or {}}).encode(),
                      "token")
    spec = JobSpec(node_name=runtime.node_name, run_id=run_id, task_id=70, job_id=7,
                   image=image, input_file=paths.input_file, output_file=paths.output_file,
                   token_file=paths.token_file, temporary_folder=paths.temporary_folder,
                   databases=databases, proxy_port=0)
    handle = runtime.start(spec)
    try:
        exit_info = runtime.wait(handle, timeout=90)
        assert exit_info is not None, "the run did not end"
        assert exit_info.exit_code == 0, exit_info.logs
        return loads(paths.output_file.read_bytes()), exit_info.logs
    finally:
        runtime.remove(handle)


def people(url: str) -> JobDatabase:
    return JobDatabase("people", url, "sql", PEOPLE_QUERY)


def test_requested_database_is_read_through_the_relay_without_its_password(
        runtime: DockerRuntime, pg_url: str, images: tuple[str, str], tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    password = make_url(pg_url).password
    assert password
    result, logs = run(runtime, tmp_path, images[1], "summarize", databases=(people(pg_url),))
    assert (result["rows"], result["age_sum"]) == (PEOPLE, people_age_sum())
    uri = result["env"]["PEOPLE_DATABASE_URI"]
    assert uri.startswith("postgresql+psycopg://v6test@127.0.0.1:16001/")
    secret = f":{password}@"
    assert secret not in str(result["env"]) and secret not in logs
    assert result["env"]["PGPASSFILE"] == "/mnt/relays/pgpass"


def test_a_run_reaches_neither_the_database_directly_nor_one_it_did_not_request(
        runtime: DockerRuntime, pg_url: str, images: tuple[str, str], tmp_path: Path) -> None:
    host = outside_host_ip()
    targets = [[host, 5432], ["127.0.0.1", 5432], ["172.17.0.1", 5432]]
    # no database requested: no relay but the allowlisting proxy's, no URI; the server's
    # addresses are closed, directly and through the proxy (not a whitelisted destination)
    probe, _ = run(runtime, tmp_path, images[1], "reach", {
        "tcp": targets, "http": [f"http://{host}:5432/", "http://127.0.0.1:5432/"]})
    assert probe["relay_files"] == ["/mnt/relays/0.sock"]
    assert probe["env"]["V6_RELAYS"] == "16001=/mnt/relays/0.sock"
    assert probe["env"]["HTTP_PROXY"] == "http://127.0.0.1:16001"
    assert not any("DATABASE_URI" in k for k in probe["env"])
    assert all(v != "connected" for v in probe["tcp"].values()), probe["tcp"]
    assert probe["tcp"][f"{host}:5432"].startswith("failed")
    assert probe["http"][f"http://{host}:5432/"].startswith("403"), probe["http"]
    # loopback is never proxied (NO_PROXY): the container's own, where nothing listens
    assert probe["http"]["http://127.0.0.1:5432/"].startswith("failed"), probe["http"]


def test_whitelist_and_docker_services_are_reached_through_the_proxy_only(
        runtime: DockerRuntime, web: tuple[str, int], images: tuple[str, str],
        tmp_path: Path) -> None:
    host, port = web
    probe, _ = run(runtime, tmp_path, images[1], "reach", {
        "http": [f"http://{host}:{port}/", "http://webservice:8000/",
                 f"http://{host}:{port + 1}/", "http://example.com/"],
        "tcp": [[host, port]]})
    assert probe["http"][f"http://{host}:{port}/"] == "200 hello from the host"
    assert probe["http"]["http://webservice:8000/"] == "200 hello from the service"
    assert probe["http"][f"http://{host}:{port + 1}/"].startswith("403")
    assert probe["http"]["http://example.com/"].startswith("403")
    assert probe["tcp"][f"{host}:{port}"].startswith("failed")  # only through the proxy


def test_omop_example_counts_persons_by_condition(
        runtime: DockerRuntime, pg_url: str, images: tuple[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(OMOP_DIR))
    from v6_omop import CONDITION_QUERY

    omop = JobDatabase("omop", pg_url, "omop", CONDITION_QUERY)
    result, _ = run(runtime, tmp_path, images[0], "persons_by_condition", {"min_count": 2},
                    databases=(omop,))
    assert result == {k: v for k, v in EXPECTED_PERSONS.items() if v >= 2}


def test_sparql_endpoint_is_queried_through_the_relay(
        runtime: DockerRuntime, images: tuple[str, str], tmp_path: Path) -> None:
    query = ("PREFIX ex: <http://example.org/> "
             "SELECT ?patient ?age WHERE { ?patient a ex:Patient ; ex:age ?age }")
    with sparql_endpoint() as url:
        kg = JobDatabase("kg", url, "sparql", query)
        result, _ = run(runtime, tmp_path, images[1], "table", databases=(kg,))
    assert result == {"rows": PATIENTS, "columns": ["age", "patient"]}


def test_isolation_check_proves_the_relays(runtime: DockerRuntime) -> None:
    report = runtime.check_isolation()
    assert report.results["relay people"] == "ok"
    assert report.results["allowlist proxy"] == "refuses"
    assert report.leaks == []


def test_isolation_check_refuses_an_unreachable_database(
        runtime: DockerRuntime, docker_client: Any, tmp_path: Path) -> None:
    closed = DockerRuntime(
        runtime.node_name, client=docker_client, check_image=PYTHON_IMAGE,
        proxy_socket_dir=runtime.proxy_socket_dir, relay_dir=tmp_path / "relays",
        network_databases=[JobDatabase("gone", "postgresql://u:p@127.0.0.1:9/x", "sql")])
    with pytest.raises(RuntimeUnavailableError, match="relay gone: unreachable"):
        closed.check_isolation()
