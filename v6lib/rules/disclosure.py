"""Disclosure control: may this result leave the node? One rule for the node and the mock.

Why here: the node applies it to every output before sealing and sending, the
MockNetwork to every result before the researcher sees it, so a developer meets the
refusal a data owner's node would give, with the same words. Pure: it gets the output's
bytes (as the algorithm wrote them) and the row counts of the run's databases.

The algorithm is assumed hostile: it decides everything in its output. So the rule
reads what was written (decoded by the one codec, :mod:`v6lib.serialization`), never
what the algorithm says it wrote, and a typed aggregate
(:mod:`v6lib.serialization.aggregates`) is checked for what it claims to be: a count
that is not a non-negative integer is refused, not trusted.

Rules, each off unless configured:

* ``max_result_bytes``: the most bytes a result may have.
* ``min_cell_count``: every count (a :class:`Count`, each cell of a :class:`CountTable`,
  the ``n`` of a :class:`Sum`) is 0 or at least this much.
* ``refuse_row_level``: no frame, series, array or list with as many entries as
  ``row_level_fraction`` of a database's rows (at least 2), and no frame, series or
  index with an identifier-like name (``identifier_columns``).
* ``untyped``: what a value that is not a typed aggregate gets. ``check`` (the default)
  reads integer pandas values with labelled rows (crosstabs, ``value_counts``,
  ``groupby().size()``) and integers under count-like keys (``count``, ``n``,
  ``n_cases``, ``size``, ...) as counts; ``refuse`` lets only typed aggregates, labels
  (short strings, also as keys and as table labels), booleans and None leave; ``allow``
  checks typed aggregates only.
"""

from __future__ import annotations

import math
import numbers
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from v6lib.errors import ConfigurationError, SerializationError
from v6lib.rules.node_policy import PolicyDecision, image_allowed
from v6lib.serialization import loads
from v6lib.serialization.aggregates import Count, CountTable, Sum

__all__ = ["DEFAULT_IDENTIFIER_COLUMNS", "ROW_COUNTED_TYPES", "DisclosurePolicy",
           "DisclosureRules", "UntypedMode", "check_output", "check_size"]

UntypedMode = Literal["check", "allow", "refuse"]
#: Column, index and series names that mark a value as one per person (regular
#: expressions searched in the lower-cased name, non-alphanumerics read as ``_``).
DEFAULT_IDENTIFIER_COLUMNS: tuple[str, ...] = (
    r"(^|_)(id|ids|identifier|uuid|guid|ssn|bsn|mrn|nhs_?number|patient_?id)($|_)",
    r"(^|_)(name|first_?name|last_?name|surname|full_?name|initials)($|_)",
    r"(^|_)(e_?mail|phone|telephone|mobile|address|street|zip_?code|post_?code|zip)($|_)",
    r"(^|_)(birth_?date|date_?of_?birth|dob)($|_)",
)
#: The database types whose rows the row-level rule counts (files a node can count
#: cheaply); for the others it checks names only.
ROW_COUNTED_TYPES = frozenset({"csv", "parquet"})
#: Keys whose plain integer is read as a count when ``untyped`` is ``check``.
_COUNT_KEY = re.compile(r"^(n|count|counts|size|freq|frequency|total|"
                        r"n_.+|.+_n|count_.+|.+_count|num_.+|number_of_.+)$")
#: The longest string ``untyped: refuse`` lets through (a label, not a data dump).
LABEL_CHARS = 200


@dataclass(frozen=True)
class DisclosurePolicy:
    """A node's disclosure rules (see the module); the defaults check nothing."""

    min_cell_count: int | None = None
    refuse_row_level: bool = False
    max_result_bytes: int | None = None
    untyped: UntypedMode = "check"
    identifier_columns: tuple[str, ...] = DEFAULT_IDENTIFIER_COLUMNS
    row_level_fraction: float = 0.5

    def __post_init__(self) -> None:
        if self.untyped not in ("check", "allow", "refuse"):
            raise ConfigurationError(f"disclosure untyped must be check, allow or refuse, "
                                     f"got {self.untyped!r}")
        for pattern in self.identifier_columns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigurationError(f"disclosure identifier_columns pattern "
                                         f"{pattern!r} is not valid: {exc}") from None

    @property
    def reads_values(self) -> bool:
        """Whether the rules look inside the result (else only its size counts)."""
        return (self.min_cell_count is not None or self.refuse_row_level
                or self.untyped == "refuse")

    @property
    def active(self) -> bool:
        """Whether any rule is configured."""
        return self.max_result_bytes is not None or self.reads_values


@dataclass(frozen=True)
class DisclosureRules:
    """A node's default rules and the rules of the images that differ.

    Why per image: a data owner may trust one reviewed image with finer tables than the
    rest. ``per_image`` is ``((pattern, policy), ...)``; the first pattern that allows
    the image (``allowed_images`` patterns, :func:`~v6lib.rules.node_policy.image_allowed`)
    gives its policy, whole, instead of the default.
    """

    default: DisclosurePolicy = DisclosurePolicy()
    per_image: tuple[tuple[str, DisclosurePolicy], ...] = ()

    def for_image(self, image: str) -> DisclosurePolicy:
        """The policy that applies to a run of ``image``."""
        for pattern, policy in self.per_image:
            if image_allowed(image, [pattern]):
                return policy
        return self.default

    @property
    def reads_values(self) -> bool:
        """Whether any policy looks inside results (the node then counts input rows)."""
        return self.default.reads_values or any(p.reads_values for _, p in self.per_image)


class _Refused(Exception):
    """Unwinds the walk with the reason of the first refusal."""


def check_output(policy: DisclosurePolicy, data: bytes, *,
                 input_rows: Sequence[int] = ()) -> PolicyDecision:
    """Whether the output ``data`` (the codec's JSON) may leave the node.

    Args:
        policy: the node's disclosure rules.
        data: the output as the algorithm wrote it.
        input_rows: the row counts of the run's databases (empty when unknown: the
            row-count rule then only looks at names).

    Returns:
        A refusal whose reason names the rule, where in the result and the value, e.g.
        ``refused by min_cell_count=5 at result['table'] (cell ('islands', 'M') = 2)``.
    """
    size = check_size(policy, len(data))
    if not size.allowed or not policy.reads_values:
        return size
    try:
        value = loads(data)
    except SerializationError as exc:
        return PolicyDecision.refuse(f"refused: the result cannot be read to check it ({exc})")
    try:
        _Walk(policy, tuple(input_rows)).value(value, "result", typed=False)
    except _Refused as refusal:
        return PolicyDecision.refuse(str(refusal))
    except RecursionError:
        return PolicyDecision.refuse("refused: the result is nested too deeply to check")
    return PolicyDecision.allow()


def check_size(policy: DisclosurePolicy, size: int) -> PolicyDecision:
    """Whether a result of ``size`` bytes may leave (``max_result_bytes``)."""
    if policy.max_result_bytes is not None and size > policy.max_result_bytes:
        return PolicyDecision.refuse(f"refused by max_result_bytes={policy.max_result_bytes} "
                                     f"(the result has {size} bytes)")
    return PolicyDecision.allow()


class _Walk:
    def __init__(self, policy: DisclosurePolicy, input_rows: tuple[int, ...]) -> None:
        self.policy = policy
        self.input_rows = input_rows
        self.identifiers = [re.compile(p) for p in policy.identifier_columns]
        self.pandas = sys.modules.get("pandas")
        self.numpy = sys.modules.get("numpy")

    # -- the walk -----------------------------------------------------------------------
    def value(self, value: Any, path: str, *, typed: bool) -> None:
        if isinstance(value, Count | CountTable | Sum):
            self.aggregate(value, path)
        elif isinstance(value, dict | list | tuple | set | frozenset):
            self.container(value, path, typed=typed)
        elif self._is_pandas(value):
            self.frame(value, path, typed=typed)
        elif self.numpy is not None and isinstance(value, self.numpy.ndarray):
            self.entries(value.shape[0] if value.ndim else 1, path, "array")
            self.untyped(path, "array", typed)
        elif isinstance(value, str):
            if len(value) > LABEL_CHARS:
                self.untyped(path, f"string of {len(value)} characters", typed)
        elif value is not None and not isinstance(value, bool):
            self.untyped(path, type(value).__name__, typed)

    def aggregate(self, value: Count | CountTable | Sum, path: str) -> None:
        if isinstance(value, Count):
            self.count(value.n, path, "count")
        elif isinstance(value, CountTable):
            self.table(value.table, path)
        else:
            self.count(value.n, f"{path}.n", "n")
            if not self._numeric(value.value):
                raise _Refused(f"refused: {path} is a sum but holds a "
                               f"{type(value.value).__name__}, not numbers")
            self.value(value.value, f"{path}.value", typed=True)

    def _numeric(self, value: Any) -> bool:
        """Whether a sum's value is numbers only (a number, array or pandas values)."""
        if _as_number(value) is not None or (
                isinstance(value, float) and not math.isfinite(value)):
            return True
        np, pd = self.numpy, self.pandas
        if np is not None and isinstance(value, np.ndarray):
            return value.dtype.kind in "iuf"
        if pd is not None and isinstance(value, pd.Series | pd.DataFrame):
            return all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
                       for t in _dtypes(value))
        return False

    def container(self, value: Any, path: str, *, typed: bool) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                where = f"{path}[{key!r}]"
                self.label(key, where)  # a key can carry data as well as a value
                if self._count_like(key, item, typed):
                    self.count(item, where, "count", guessed=True)
                else:
                    self.value(item, where, typed=typed)
            return
        self.entries(len(value), path, "list")
        for position, item in enumerate(value):
            self.value(item, f"{path}[{position}]", typed=typed)

    def _count_like(self, key: Any, item: Any, typed: bool) -> bool:
        return (not typed and self.policy.untyped == "check"
                and isinstance(key, str) and _COUNT_KEY.match(key.lower()) is not None
                and isinstance(item, int) and not isinstance(item, bool))

    def untyped(self, path: str, what: str, typed: bool) -> None:
        if not typed and self.policy.untyped == "refuse":
            raise _Refused(f"refused by untyped=refuse at {path} (a {what}; only typed "
                           "aggregates (Count, CountTable, Sum) and labels may leave)")

    # -- the rules ----------------------------------------------------------------------
    def count(self, n: Any, path: str, what: str, *, guessed: bool = False) -> None:
        number = _as_number(n)
        if number is None or number < 0 or number != math.floor(number):
            raise _Refused(f"refused: {path} is a {what} but holds {n!r}, not a "
                           "non-negative integer")
        k = self.policy.min_cell_count
        if k is not None and 0 < number < k:
            note = ", read as a count from its key" if guessed else ""
            raise _Refused(f"refused by min_cell_count={k} at {path} "
                           f"({what} = {int(number)}{note})")

    def entries(self, length: int, path: str, what: str, unit: str = "entries") -> None:
        if not self.policy.refuse_row_level:
            return
        for rows in self.input_rows:
            if length >= max(2.0, self.policy.row_level_fraction * rows):
                raise _Refused(f"refused by refuse_row_level at {path} (a {what} of "
                               f"{length} {unit}; a database of this run has {rows} rows)")

    def names(self, names: Sequence[Any], path: str) -> None:
        if not self.policy.refuse_row_level:
            return
        for name in names:
            if name is None:
                continue
            parts = name if isinstance(name, tuple) else (name,)
            for part in parts:
                text = re.sub(r"[^a-z0-9]+", "_", str(part).lower())
                if any(pattern.search(text) for pattern in self.identifiers):
                    raise _Refused(f"refused by refuse_row_level at {path} (identifier-like "
                                   f"column {part!r})")

    def frame(self, value: Any, path: str, *, typed: bool) -> None:
        pd = self.pandas
        assert pd is not None
        kind = type(value).__name__
        if isinstance(value, pd.Index):
            self.entries(len(value), path, "index")
            self.names(list(value.names), path)
            self.untyped(path, "pandas Index", typed)
            return
        self.entries(len(value), path, kind, "rows")
        if self.policy.untyped == "refuse":
            self.labels(value, path)
        names = list(value.index.names)
        names += list(value.columns) + list(value.columns.names) \
            if isinstance(value, pd.DataFrame) else [value.name]
        self.names(names, path)
        if typed or self.policy.untyped == "allow":
            return
        if self.policy.untyped == "refuse":
            self.untyped(path, kind, typed)
        elif _integer_counts(pd, value) and not isinstance(value.index, pd.RangeIndex):
            self.cells(value, path, guessed=True)

    def labels(self, value: Any, path: str) -> None:
        """Strict mode: row and column labels are labels, not a channel for data."""
        pd = self.pandas
        assert pd is not None
        axes = [value.index] + ([value.columns] if isinstance(value, pd.DataFrame) else [])
        for axis in axes:
            if isinstance(axis, pd.RangeIndex):
                continue
            for label in axis:
                self.label(label, path)

    def label(self, label: Any, path: str) -> None:
        """Strict mode: a label (key, row or column label) is a short one."""
        if self.policy.untyped != "refuse":
            return
        for part in label if isinstance(label, tuple) else (label,):
            if isinstance(part, str | bytes) and len(part) > LABEL_CHARS:
                raise _Refused(f"refused by untyped=refuse at {path} (a label of "
                               f"{len(part)} characters)")

    def table(self, table: Any, path: str) -> None:
        pd = self.pandas
        if pd is None or not isinstance(table, pd.DataFrame | pd.Series):
            raise _Refused(f"refused: {path} is a count table but holds a "
                           f"{type(table).__name__}, not a pandas DataFrame or Series")
        self.frame(table, path, typed=True)
        if not all(pd.api.types.is_integer_dtype(t) or pd.api.types.is_float_dtype(t)
                   for t in _dtypes(table)):
            raise _Refused(f"refused: {path} is a count table but holds values that are "
                           "not numbers")
        self.cells(table, path, guessed=False)

    def cells(self, table: Any, path: str, *, guessed: bool) -> None:
        np = self.numpy
        assert np is not None
        values = table.to_numpy(dtype="float64", na_value=np.nan)
        values = values.reshape(len(table), -1)
        present = ~np.isnan(values)
        bad = present & ((values < 0) | (values != np.floor(values)))
        k = self.policy.min_cell_count
        small = present & (values > 0) & (values < k) if k is not None else None
        for mask, rule in ((bad, None), (small, k)):
            if mask is None or not mask.any():
                continue
            row, column = (int(i) for i in np.argwhere(mask)[0])
            cell = _cell_label(table, row, column)
            shown = values[row, column]
            shown = int(shown) if shown == math.floor(shown) else shown
            if rule is None:
                raise _Refused(f"refused: {path} is a count table with a cell that is not "
                               f"a count (cell {cell!r} = {shown})")
            note = ", an untyped integer table read as counts" if guessed else ""
            raise _Refused(f"refused by min_cell_count={rule} at {path} "
                           f"(cell {cell!r} = {shown}{note})")

    def _is_pandas(self, value: Any) -> bool:
        pd = self.pandas
        return pd is not None and isinstance(value, pd.DataFrame | pd.Series | pd.Index)


def _as_number(n: Any) -> float | None:
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        return None
    try:
        number = float(n)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _dtypes(table: Any) -> list[Any]:
    return list(table.dtypes) if hasattr(table, "columns") else [table.dtype]


def _integer_counts(pd: Any, value: Any) -> bool:
    dtypes = _dtypes(value)
    return bool(dtypes) and all(pd.api.types.is_integer_dtype(t)
                                and not pd.api.types.is_bool_dtype(t) for t in dtypes)


def _cell_label(table: Any, row: int, column: int) -> Any:
    """The cell as the researcher would name it: (row labels..., column labels...)."""
    row_label = table.index[row]
    labels = list(row_label) if isinstance(row_label, tuple) else [row_label]
    if hasattr(table, "columns"):
        column_label = table.columns[column]
        labels += list(column_label) if isinstance(column_label, tuple) else [column_label]
    plain = tuple(item.item() if hasattr(item, "item") else item for item in labels)
    return plain[0] if len(plain) == 1 else plain
