"""The databases a server benchmark runs on: a fresh SQLite file, a fresh PostgreSQL
database (when ``V6_TEST_POSTGRES_URL`` is set), each with the cleanup that removes it.

Shared by ``server.py`` and ``scale.py`` so both choose and clean up their databases
the same way.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["Backend", "backends"]

ROOT = Path(__file__).resolve().parents[1]

#: name ("sqlite" or "postgres"), SQLAlchemy URL, cleanup
Backend = tuple[str, str, Callable[[], None]]


def backends(wanted: list[str], prefix: str = "v6bench-db-") -> list[Backend]:
    """Fresh databases for the backends named in ``wanted``, in that order of preference
    (SQLite first); PostgreSQL is skipped, with a note on stderr, without a cluster."""
    chosen: list[Backend] = []
    if "sqlite" in wanted:
        tmp = Path(tempfile.mkdtemp(prefix=prefix))
        chosen.append(("sqlite", f"sqlite:///{tmp / 'server.sqlite'}",
                       lambda: shutil.rmtree(tmp, True)))
    if "postgres" in wanted:
        if not os.environ.get("V6_TEST_POSTGRES_URL"):
            print("postgres: skipped (V6_TEST_POSTGRES_URL unset; run .ci/postgres.sh)",
                  file=sys.stderr)
        else:
            sys.path.insert(0, str(ROOT))
            from tests.postgres import drop_database, fresh_postgres_url

            url = fresh_postgres_url()
            chosen.append(("postgres", url, lambda url=url: drop_database(url)))
    return chosen
