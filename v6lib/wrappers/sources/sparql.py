"""SPARQL SELECT queries on a local RDF file (rdflib) or a remote endpoint (HTTP POST).

The bindings become a DataFrame: numeric and boolean literals become numbers and bools,
everything else (IRIs, strings, dates) becomes text, unbound values become None.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from v6lib.errors import DataError

from ..contract import DatabaseSpec
from .base import local_path, select_columns

__all__ = ["SOURCE", "SparqlSource", "rdf_format"]

_FORMATS = {
    ".ttl": "turtle", ".turtle": "turtle", ".nt": "nt", ".n3": "n3", ".rdf": "xml",
    ".xml": "xml", ".owl": "xml", ".jsonld": "json-ld", ".json": "json-ld",
    ".trig": "trig", ".nq": "nquads",
}
_XSD = "http://www.w3.org/2001/XMLSchema#"
_INTEGER_TYPES = {f"{_XSD}{t}" for t in (
    "integer", "int", "long", "short", "byte", "nonNegativeInteger", "nonPositiveInteger",
    "positiveInteger", "negativeInteger", "unsignedInt", "unsignedLong", "unsignedShort",
    "unsignedByte")}
_FLOAT_TYPES = {f"{_XSD}{t}" for t in ("decimal", "double", "float")}
REMOTE_TIMEOUT = 120.0

# NOTE: rdflib's SPARQL parser (pyparsing grammar objects shared at module level) and its
# evaluation are not thread-safe: concurrent queries in one process fail at random with
# errors such as "postParse2() missing 1 required positional argument". Every local
# parse and query in this process goes through this lock (threads of the MockNetwork, or
# an algorithm reading several databases at once); remote endpoints do not need it.
_RDFLIB_LOCK = threading.Lock()


def rdf_format(path: Path) -> str:
    """The rdflib parser name for ``path``'s extension.

    Raises:
        DataError: the extension is not a known RDF serialization.
    """
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"cannot tell the RDF format of {path}: use one of the extensions "
            f"{', '.join(sorted(_FORMATS))}"
        )
    return fmt


def _python_value(term: Any) -> Any:
    """An rdflib term as a plain number, bool or string."""
    if term is None:
        return None
    from rdflib import Literal

    if isinstance(term, Literal):
        value = term.toPython()
        if isinstance(value, bool | int | float):
            return value
        if isinstance(value, Decimal):
            return float(value)
    return str(term)


def _json_value(binding: dict[str, Any] | None) -> Any:
    """A SPARQL JSON results binding as a plain number, bool or string."""
    if binding is None:
        return None
    value = binding.get("value")
    datatype = binding.get("datatype")
    try:
        if datatype in _INTEGER_TYPES:
            return int(value)  # type: ignore[arg-type]
        if datatype in _FLOAT_TYPES:
            return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value
    if datatype == f"{_XSD}boolean":
        return value in ("true", "1")
    return value


def _select(rdflib: Any, spec: DatabaseSpec, path: Path, fmt: str) -> pd.DataFrame:
    """Parse ``path`` and run the SELECT query; the caller holds :data:`_RDFLIB_LOCK`."""
    graph = rdflib.Dataset() if fmt in ("trig", "nquads") else rdflib.Graph()
    try:
        graph.parse(str(path), format=fmt)
    except Exception as exc:  # the parsers raise many unrelated exception types
        raise DataError(f"database {spec.label!r}: cannot parse {path} as {fmt}: "
                        f"{type(exc).__name__}: {exc}") from None
    try:
        result = graph.query(spec.query)
        if result.type != "SELECT" or result.vars is None:
            raise DataError(f"database {spec.label!r}: only SELECT queries give a table; "
                            f"this is a {result.type} query")
        names = [str(v) for v in result.vars]
        # NOTE: the rows are evaluated lazily, while iterating: still under the lock.
        rows = [[_python_value(term) for term in row] for row in result]
    except DataError:
        raise
    except Exception as exc:  # pyparsing and rdflib evaluation errors
        raise DataError(f"database {spec.label!r}: the SPARQL query failed: "
                        f"{type(exc).__name__}: {exc}") from None
    return pd.DataFrame(rows, columns=names)


class SparqlSource:
    """Runs the SELECT query ``spec.query`` on ``spec.uri`` (RDF file or http(s) endpoint)."""

    def load(self, spec: DatabaseSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if not spec.query or not spec.query.strip():
            raise DataError(
                f"database {spec.label!r} of type sparql needs a query: pass it with the "
                "task's databases or in the node config"
            )
        if spec.uri.startswith(("http://", "https://")):
            frame = self._remote(spec)
        else:
            frame = self._local(spec)
        return select_columns(frame, columns, spec)

    def _local(self, spec: DatabaseSpec) -> pd.DataFrame:
        path = local_path(spec)
        fmt = rdf_format(path)
        try:
            import rdflib
        except ImportError:
            raise DataError(
                f"database {spec.label!r} is an RDF file, but rdflib is not installed in "
                "this image; install v6lib[sparql]"
            ) from None
        with _RDFLIB_LOCK:
            return _select(rdflib, spec, path, fmt)

    def _remote(self, spec: DatabaseSpec) -> pd.DataFrame:
        import requests

        try:
            response = requests.post(
                spec.uri, data={"query": spec.query},
                headers={"Accept": "application/sparql-results+json"}, timeout=REMOTE_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise DataError(f"database {spec.label!r}: cannot reach the SPARQL endpoint "
                            f"{spec.uri}: {exc}") from None
        if not response.ok:
            raise DataError(f"database {spec.label!r}: the SPARQL endpoint {spec.uri} answered "
                            f"{response.status_code}: {response.text[:300]}")
        try:
            body = response.json()
            names = list(body["head"]["vars"])
            bindings = body["results"]["bindings"]
        except (ValueError, KeyError, TypeError):
            raise DataError(f"database {spec.label!r}: the SPARQL endpoint {spec.uri} did not "
                            "answer with SELECT results in application/sparql-results+json") \
                from None
        rows = [[_json_value(b.get(name)) for name in names] for b in bindings]
        return pd.DataFrame(rows, columns=names)


SOURCE = SparqlSource()
