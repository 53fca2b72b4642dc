"""Real network data sources for the node's relay tests: a PostgreSQL database (the test
cluster), OMOP CDM tables in it, and the algorithm images that read them.

``people_database`` makes a uniquely named database on the ``V6_TEST_POSTGRES_URL``
server with a ``people`` table and a few OMOP CDM tables (``person``, ``concept``,
``condition_occurrence``), and drops it afterwards. ``omop_image`` builds
``examples/omop_count`` on the base image under test, with SQLAlchemy and psycopg wheels
downloaded once for the image's platform into ``.ci/wheels/sql``; ``netdb_image`` adds
the ``v6_netdb`` test algorithm.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
OMOP_DIR = ROOT / "examples" / "omop_count"
NETDB_DIR = ROOT / "tests" / "node" / "algorithms"
WHEELS = ROOT / ".ci" / "wheels" / "sql"
OMOP_IMAGE = "v6-omop:test"
NETDB_IMAGE = "v6-netdb:test"
PEOPLE = 1000  # rows of the people table; ages 20..69, each 20 times
#: (person_id, condition) rows of the OMOP tables: 3 persons with diabetes (one twice),
#: 2 with asthma, 1 with gout.
CONDITIONS = [(1, "diabetes"), (1, "diabetes"), (2, "diabetes"), (3, "diabetes"),
              (2, "asthma"), (4, "asthma"), (5, "gout")]
EXPECTED_PERSONS = {"diabetes": 3, "asthma": 2, "gout": 1}

__all__ = [
    "CONDITIONS",
    "EXPECTED_PERSONS",
    "NETDB_IMAGE",
    "OMOP_DIR",
    "OMOP_IMAGE",
    "PATIENTS",
    "PEOPLE",
    "build_images",
    "free_port",
    "netdb_images",
    "people_database",
    "sparql_endpoint",
    "wait_listening",
]

#: Subjects of type ex:Patient in the SPARQL endpoint's graph.
PATIENTS = 12
_ENDPOINT = """
import sys, rdflib, uvicorn
from rdflib_endpoint import SparqlEndpoint
ex = rdflib.Namespace("http://example.org/")
graph = rdflib.Graph()
for i in range(int(sys.argv[2])):
    graph.add((ex[f"p{i}"], rdflib.RDF.type, ex.Patient))
    graph.add((ex[f"p{i}"], ex.age, rdflib.Literal(30 + i)))
graph.add((ex.site, rdflib.RDF.type, ex.Hospital))
app = SparqlEndpoint(graph=graph, path="/sparql")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def people_age_sum() -> int:
    return sum(20 + i % 50 for i in range(PEOPLE))


@contextmanager
def people_database(rows: int = PEOPLE) -> Iterator[str]:
    """A fresh PostgreSQL database with ``people`` and the OMOP tables; its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    from tests.postgres import _admin_conninfo, drop_database, fresh_postgres_url

    url = fresh_postgres_url()
    with psycopg.connect(_admin_conninfo(make_url(url)), autocommit=True) as conn:
        conn.execute("CREATE TABLE people (id integer PRIMARY KEY, age integer NOT NULL)")
        conn.execute("INSERT INTO people SELECT i, 20 + i %% 50 FROM generate_series(0, %s) i",
                     (rows - 1,))
        conn.execute("CREATE TABLE person (person_id integer PRIMARY KEY, "
                     "year_of_birth integer)")
        conn.execute("CREATE TABLE concept (concept_id integer PRIMARY KEY, "
                     "concept_name text NOT NULL)")
        conn.execute("CREATE TABLE condition_occurrence (condition_occurrence_id serial "
                     "PRIMARY KEY, person_id integer REFERENCES person, "
                     "condition_concept_id integer REFERENCES concept)")
        names = sorted({c for _, c in CONDITIONS})
        for concept_id, name in enumerate(names, start=1):
            conn.execute("INSERT INTO concept VALUES (%s, %s)", (concept_id, name))
        for person in sorted({p for p, _ in CONDITIONS}):
            conn.execute("INSERT INTO person VALUES (%s, %s)", (person, 1950 + person))
        for person, name in CONDITIONS:
            conn.execute("INSERT INTO condition_occurrence (person_id, condition_concept_id) "
                         "VALUES (%s, %s)", (person, names.index(name) + 1))
    try:
        yield url
    finally:
        drop_database(url)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for a server started next)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, server: subprocess.Popen[bytes], what: str,
                   timeout: float) -> None:
    """Return once ``server`` accepts on ``127.0.0.1:port``; RuntimeError if it exits or
    does not listen within ``timeout`` seconds (with its stderr, when piped)."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                error = server.stderr.read() if server.stderr else b""
                raise RuntimeError(f"{what} did not start: {error!r}") from None
            time.sleep(0.1)


@contextmanager
def sparql_endpoint() -> Iterator[str]:
    """A real SPARQL 1.1 endpoint (rdflib-endpoint on uvicorn) on the host's loopback,
    serving ``PATIENTS`` patients with an age; its query URL."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", _ENDPOINT, str(port), str(PATIENTS)])
    try:
        wait_listening(port, server, "the SPARQL endpoint", 60)
        yield f"http://127.0.0.1:{port}/sparql"
    finally:
        server.terminate()
        server.wait(10)


def _sql_wheels() -> Path:
    """SQLAlchemy and psycopg wheels for the image platform (downloaded once)."""
    import psycopg
    import sqlalchemy

    wanted = [f"sqlalchemy=={sqlalchemy.__version__}", f"psycopg[binary]=={psycopg.__version__}"]
    stamp = WHEELS / ".requirements"
    if not stamp.exists() or stamp.read_text() != "\n".join(wanted):
        WHEELS.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "v6lib.image", "download", str(WHEELS), *wanted],
                       check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                       capture_output=True)
        stamp.write_text("\n".join(wanted))
    return WHEELS


def build_images(client: Any, context: Path, base_image: str) -> tuple[str, str]:
    """``v6-omop:test`` (the example) and ``v6-netdb:test`` (plus ``v6_netdb``)."""
    client.images.get(base_image)
    omop = context / "omop"
    shutil.copytree(OMOP_DIR, omop, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(_sql_wheels(), omop / "wheels")
    client.images.build(path=str(omop), tag=OMOP_IMAGE, rm=True,
                        buildargs={"BASE_IMAGE": base_image})
    netdb = context / "netdb"
    shutil.copytree(NETDB_DIR / "v6_netdb", netdb / "v6_netdb",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (netdb / "Dockerfile").write_text(
        f"FROM {OMOP_IMAGE}\nCOPY v6_netdb /netdb/v6_netdb\n"
        "ENV PYTHONPATH=/netdb PKG_NAME=v6_netdb\n")
    client.images.build(path=str(netdb), tag=NETDB_IMAGE, rm=True)
    return OMOP_IMAGE, NETDB_IMAGE


@pytest.fixture(scope="session")
def netdb_images(docker_client: Any, tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[str, str]:
    """``(v6-omop:test, v6-netdb:test)``, built once per session on the base image."""
    from tests.docker_support import BASE_IMAGE

    return build_images(docker_client, tmp_path_factory.mktemp("netdb-images"), BASE_IMAGE)


@pytest.fixture
def local_web() -> Iterator[tuple[str, int]]:
    """An HTTP server on 127.0.0.1 answering 'hello from the host'."""
    from tests.docker_support import http_server

    with http_server("127.0.0.1") as address:
        yield address


def ask(port: int, request: bytes) -> bytes:
    """Send ``request`` to ``127.0.0.1:port``; everything answered until it closes."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer
