"""Excel workbooks (xlsx) through pandas and openpyxl; the query names the sheet."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from v6lib.errors import DataError

from ..contract import DatabaseSpec
from .base import local_path, select_columns

__all__ = ["SOURCE", "ExcelSource"]


class ExcelSource:
    """Reads one sheet of ``spec.uri``: ``spec.query`` when given, else the first sheet."""

    def load(self, spec: DatabaseSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
        path = local_path(spec)
        try:
            import openpyxl  # noqa: F401  (fail early with a clear message)
        except ImportError:
            raise DataError(
                f"database {spec.label!r} is an Excel file, but openpyxl is not installed "
                "in this image; install v6lib[excel]"
            ) from None
        sheet: str | int = spec.query.strip() if spec.query and spec.query.strip() else 0
        try:
            frame = pd.read_excel(path, sheet_name=sheet, engine="openpyxl")
        except ValueError as exc:
            raise DataError(f"database {spec.label!r}: cannot read sheet {sheet!r} of {path}: "
                            f"{exc}") from None
        except Exception as exc:  # openpyxl raises a variety of errors for broken files
            raise DataError(f"database {spec.label!r}: cannot read Excel file {path}: "
                            f"{type(exc).__name__}: {exc}") from None
        return select_columns(frame, columns, spec)


SOURCE = ExcelSource()
