"""SQL databases through SQLAlchemy (a URL, or a plain path to a SQLite file) and a query."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from v6lib.errors import DataError

from ..contract import DatabaseSpec
from .base import select_columns

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["SOURCE", "SqlSource", "connect", "engine_url"]


def engine_url(spec: DatabaseSpec) -> str:
    """The SQLAlchemy URL for ``spec.uri``; a bare path means a SQLite file that must exist.

    Raises:
        DataError: the path does not exist.
    """
    if "://" in spec.uri:
        return spec.uri
    path = Path(spec.uri)
    if not path.is_file():
        raise DataError(
            f"database {spec.label!r} (sql) points to {path}, which does not exist; give a "
            "SQLAlchemy URL (e.g. postgresql+psycopg://...) or the path of a SQLite file"
        )
    return f"sqlite:///{path.resolve()}"


@contextmanager
def connect(spec: DatabaseSpec) -> Iterator[Connection]:
    """A SQLAlchemy connection to the database of ``spec``, closed (and its engine
    disposed) when the block ends; what ``@database_connection`` hands an algorithm.

    Raises:
        DataError: SQLAlchemy is missing, the URL is unusable or a statement failed.
    """
    try:
        import sqlalchemy
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:
        raise DataError(
            f"database {spec.label!r} is a SQL database, but SQLAlchemy is not installed "
            "in this image; install v6lib[sql]"
        ) from None
    url = engine_url(spec)
    try:
        engine = sqlalchemy.create_engine(url)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise DataError(f"database {spec.label!r}: cannot use {_safe(url)}: {exc}") from None
    try:
        with engine.connect() as connection:
            yield connection
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise DataError(f"database {spec.label!r}: the query failed: {reason}") from None
    finally:
        engine.dispose()


class SqlSource:
    """Runs ``spec.query`` on the database and returns the rows."""

    def load(self, spec: DatabaseSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        if not spec.query or not spec.query.strip():
            raise DataError(
                f"database {spec.label!r} of type sql needs a query: pass it with the task's "
                "databases or in the node config"
            )
        with connect(spec) as connection:
            import sqlalchemy  # present: connect() refuses to open without it

            result = connection.execute(sqlalchemy.text(spec.query))
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        return select_columns(frame, columns, spec)


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


SOURCE = SqlSource()
