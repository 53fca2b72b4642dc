"""SPARQL source: a Turtle graph queried locally, and a remote endpoint over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
import pytest

from v6lib.errors import DataError
from v6lib.wrappers.contract import DatabaseSpec
from v6lib.wrappers.sources.sparql import SOURCE, rdf_format

from .conftest import EX, turtle

GRAPH = f"""@prefix ex: <{EX}> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:alice ex:name "Alice" ; ex:age 34 ; ex:score "2.5"^^xsd:decimal ; ex:knows ex:bob .
ex:bob ex:name "Bob" ; ex:age 51 ; ex:active true .
"""


@pytest.fixture
def graph_file(tmp_path: Path) -> Path:
    path = tmp_path / "people.ttl"
    path.write_text(GRAPH, encoding="utf-8")
    return path


def spec(path: Path | str, query: str, label: str = "kg") -> DatabaseSpec:
    return DatabaseSpec(label, str(path), "sparql", query)


def test_select_on_a_turtle_file_converts_values(graph_file: Path) -> None:
    query = (f"PREFIX ex: <{EX}> SELECT ?name ?age ?score ?friend ?active WHERE {{ "
             "?p ex:name ?name ; ex:age ?age . OPTIONAL { ?p ex:score ?score } "
             "OPTIONAL { ?p ex:knows ?friend } OPTIONAL { ?p ex:active ?active } } "
             "ORDER BY ?name")
    loaded = SOURCE.load(spec(graph_file, query))
    assert list(loaded.columns) == ["name", "age", "score", "friend", "active"]
    rows = loaded.astype(object).where(loaded.notna(), None).to_dict("records")
    assert rows == [
        {"name": "Alice", "age": 34, "score": 2.5, "friend": f"{EX}bob", "active": None},
        {"name": "Bob", "age": 51, "score": None, "friend": None, "active": True},
    ]


def test_aggregate_query(graph_file: Path) -> None:
    query = f"PREFIX ex: <{EX}> SELECT (SUM(?age) AS ?total) WHERE {{ ?p ex:age ?age }}"
    assert SOURCE.load(spec(graph_file, query))["total"].tolist() == [85]


@pytest.mark.parametrize(("suffix", "fmt"), [("nt", "nt"), ("rdf", "xml"), ("jsonld", "json-ld")])
def test_other_serializations(tmp_path: Path, suffix: str, fmt: str) -> None:
    import rdflib

    graph = rdflib.Graph().parse(data=turtle(pd.DataFrame({"v": [1, 2, 3]})), format="turtle")
    path = tmp_path / f"g.{suffix}"
    graph.serialize(destination=str(path), format=fmt, encoding="utf-8")
    assert rdf_format(path) == fmt
    query = f"PREFIX ex: <{EX}> SELECT ?v WHERE {{ ?r ex:v ?v }} ORDER BY ?v"
    assert SOURCE.load(spec(path, query))["v"].tolist() == [1, 2, 3]


def test_query_is_required(graph_file: Path) -> None:
    with pytest.raises(DataError, match="'kg' of type sparql needs a query"):
        SOURCE.load(DatabaseSpec("kg", str(graph_file), "sparql"))


def test_bad_query_syntax(graph_file: Path) -> None:
    with pytest.raises(DataError, match="'kg': the SPARQL query failed"):
        SOURCE.load(spec(graph_file, "SELEKT ?x WHERE { ?x ?y ?z }"))


def test_only_select_queries_make_a_table(graph_file: Path) -> None:
    with pytest.raises(DataError, match=r"only SELECT.*ASK"):
        SOURCE.load(spec(graph_file, "ASK { ?s ?p ?o }"))


def test_unparsable_graph(tmp_path: Path) -> None:
    path = tmp_path / "broken.ttl"
    path.write_text("this is @@ not turtle .", encoding="utf-8")
    with pytest.raises(DataError, match=r"cannot parse .*broken\.ttl as turtle"):
        SOURCE.load(spec(path, "SELECT * WHERE { ?s ?p ?o }"))


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "graph.bin"
    path.write_text("x")
    with pytest.raises(DataError, match="cannot tell the RDF format"):
        SOURCE.load(spec(path, "SELECT * WHERE { ?s ?p ?o }"))


# ------------------------------------------------------------------ remote endpoint

RESULTS = {
    "head": {"vars": ["name", "age", "ratio", "flag", "missing"]},
    "results": {"bindings": [
        {"name": {"type": "literal", "value": "Alice"},
         "age": {"type": "literal", "value": "34",
                 "datatype": "http://www.w3.org/2001/XMLSchema#integer"},
         "ratio": {"type": "literal", "value": "0.25",
                   "datatype": "http://www.w3.org/2001/XMLSchema#double"},
         "flag": {"type": "literal", "value": "true",
                  "datatype": "http://www.w3.org/2001/XMLSchema#boolean"}},
        {"name": {"type": "uri", "value": "http://example.org/bob"},
         "age": {"type": "literal", "value": "n/a",
                 "datatype": "http://www.w3.org/2001/XMLSchema#integer"}},
    ]},
}


class Endpoint(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = parse_qs(self.rfile.read(length).decode())
        Endpoint.received.append({"path": self.path, "form": form,
                                  "accept": self.headers["Accept"],
                                  "content_type": self.headers["Content-Type"]})
        body = json.dumps(RESULTS if Endpoint.status == 200 else {"error": "bad"}).encode()
        self.send_response(Endpoint.status)
        self.send_header("Content-Type", "application/sparql-results+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    Endpoint.received = []
    Endpoint.status = 200
    server = HTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    server.shutdown()
    server.server_close()
    thread.join()


def test_remote_endpoint_gets_a_form_post_and_answers_a_table(endpoint: str) -> None:
    query = "SELECT ?name ?age ?ratio ?flag ?missing WHERE { ?s ?p ?o }"
    loaded = SOURCE.load(spec(endpoint, query), columns=["name", "age", "ratio", "flag"])
    assert Endpoint.received == [{
        "path": "/sparql", "form": {"query": [query]},
        "accept": "application/sparql-results+json",
        "content_type": "application/x-www-form-urlencoded"}]
    rows = loaded.astype(object).where(loaded.notna(), None).to_dict("records")
    assert rows == [
        {"name": "Alice", "age": 34, "ratio": 0.25, "flag": True},
        {"name": "http://example.org/bob", "age": "n/a", "ratio": None, "flag": None},
    ]


def test_remote_endpoint_error_status(endpoint: str) -> None:
    Endpoint.status = 400
    with pytest.raises(DataError, match="answered 400"):
        SOURCE.load(spec(endpoint, "SELECT * WHERE { ?s ?p ?o }"))


def test_unreachable_endpoint() -> None:
    with pytest.raises(DataError, match="cannot reach the SPARQL endpoint"):
        SOURCE.load(spec("http://127.0.0.1:9/sparql", "SELECT * WHERE { ?s ?p ?o }"))


def test_concurrent_local_queries_all_succeed(tmp_path: Path) -> None:
    # rdflib's SPARQL engine is not thread-safe; unguarded, threads that query at the
    # same moment fail with pyparsing errors. The source serializes them itself.
    path = tmp_path / "many.ttl"
    table = pd.DataFrame({"id": range(120), "age": [20 + i % 50 for i in range(120)]})
    path.write_text(turtle(table), encoding="utf-8")
    queries = [f"PREFIX ex: <{EX}> SELECT ?id WHERE {{ ?s ex:id ?id ; ex:age ?age . "
               f"FILTER(?age > {20 + 5 * k}) }}" for k in range(8)]
    expected = [sum(1 for i in range(120) if 20 + i % 50 > 20 + 5 * k) for k in range(8)]

    def load(k: int, start: threading.Barrier) -> int:
        start.wait()
        return len(SOURCE.load(spec(path, queries[k])))

    for _ in range(3):
        start = threading.Barrier(len(queries))
        with ThreadPoolExecutor(len(queries)) as pool:
            counts = list(pool.map(load, range(len(queries)), [start] * len(queries)))
        assert counts == expected
