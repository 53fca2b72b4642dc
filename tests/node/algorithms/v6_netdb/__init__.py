"""Test algorithm for the node's network databases: reads through the relays with ordinary
drivers, and tries what a hostile run would try.

``summarize`` gets the requested database as a DataFrame (SQLAlchemy + psycopg through
the relay); ``sql_direct`` connects itself with the URI it was given; ``reach`` tries TCP
destinations directly and HTTP(S) through the node's allowlisting proxy, and lists what
it can see of the node's secrets.
"""

from __future__ import annotations

import glob
import os
import socket
from typing import Any

import pandas as pd

from v6lib.wrappers import data

__all__ = ["fetch_relayed", "fetch_seconds", "reach", "sql_direct", "summarize", "table"]


@data(1)
def summarize(df: pd.DataFrame) -> dict[str, Any]:
    """The table's size and age total, and what the run sees of its relays."""
    return {"rows": len(df), "age_sum": int(df["age"].sum()), **reach()}


@data(1)
def table(df: pd.DataFrame) -> dict[str, Any]:
    return {"rows": len(df), "columns": sorted(df.columns)}


def sql_direct(label: str, sql: str) -> Any:
    import sqlalchemy

    uri = os.environ[f"{label.upper()}_DATABASE_URI"]
    engine = sqlalchemy.create_engine(uri)
    with engine.connect() as connection:
        value = connection.execute(sqlalchemy.text(sql)).scalar()
    engine.dispose()
    return value


def fetch_seconds(uri: str, sql: str, repeat: int = 3) -> list[float]:
    """Seconds to connect with psycopg, run ``sql`` and fetch every row, ``repeat`` times
    (the benchmark runs the same code on the host and in a container)."""
    import time

    import psycopg

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with psycopg.connect(uri) as conn:
            rows = conn.execute(sql).fetchall()
        times.append(time.perf_counter() - start)
        assert rows
    return times


def fetch_relayed(label: str, sql: str, repeat: int = 3) -> dict[str, Any]:
    """:func:`fetch_seconds` on the run's relayed database (its URI as libpq reads it)."""
    uri = os.environ[f"{label.upper()}_DATABASE_URI"].replace("postgresql+psycopg://",
                                                                "postgresql://")
    return {"seconds": fetch_seconds(uri, sql, repeat)}


def _tcp(host: str, port: int) -> str:
    sock = socket.socket()
    sock.settimeout(2)
    try:
        sock.connect((host, port))
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except OSError as exc:
        return "failed: " + (exc.strerror or type(exc).__name__)
    finally:
        sock.close()


def _http(url: str) -> str:
    import requests

    try:
        answer = requests.get(url, timeout=5)
    except requests.RequestException as exc:
        return "failed: " + type(exc).__name__
    return f"{answer.status_code} {answer.text.strip()[:80]}"


def reach(tcp: tuple[list[Any], ...] = (), http: tuple[str, ...] = ()) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if "DATABASE_URI" in k or "PROXY" in k
           or k in ("V6_RELAYS", "PGPASSFILE")}
    return {
        "tcp": {f"{h}:{p}": _tcp(h, int(p)) for h, p in tcp},
        "http": {url: _http(url) for url in http},
        "env": env,
        "relay_files": sorted(glob.glob("/mnt/relays/*")),
    }
