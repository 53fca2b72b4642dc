"""The one JSON codec for algorithm inputs and results, shared by wrapper, node, mock and client.

Why one codec: a central function must receive a partial result exactly as it was
returned, whatever path (mock network, process runtime, Docker) it travelled, and the
researcher must receive the central result exactly as well. So every value either comes
back equal and of the same type, or :func:`dumps` refuses it at the sender with
:class:`~v6lib.errors.SerializationError` naming its path, e.g.
``result['model'][2]: object of type Foo cannot be serialized to JSON; ...``.
Nothing is converted loosely.

The format is UTF-8 JSON (the node checks that an output file is JSON; any language can
read it). Plain values stay plain: ``str``, ``int``, finite ``float``, ``bool``,
``None``, ``list`` and ``dict`` with ``str`` keys are written as themselves, so a result
that is only dicts, lists and numbers is ordinary, readable JSON. Everything else is a
tagged object ``{"__v6__": <tag>, ...}``:

=====================  =====================================================================
tag                    carries
=====================  =====================================================================
``float``              NaN and the infinities: ``"value": "NaN" | "Infinity" | "-Infinity"``
``bytes``              ``bytes``: ``"base64"``
``tuple``, ``set``,    the container: ``"items"`` (sets sorted, so equal sets give equal
``frozenset``          documents)
``dict``               a dict with a key that is not ``str`` (or the key ``"__v6__"``):
                       ``"items": [[key, value], ...]``, keys of any carried type
``decimal``            ``Decimal``: its exact text
``datetime``,          ``datetime``, ``time`` (ISO 8601, IANA ``tz`` name), ``date``,
``time``, ``date``,    ``timedelta`` (days, seconds, microseconds)
``timedelta``
``numpy.scalar``       a NumPy scalar: ``"dtype"`` (``dtype.str``, e.g. ``"<i4"``) and
                       ``"value"`` (or ``"npy"`` for NaN, infinities, complex, str_, ...)
``numpy.ndarray``      a NumPy array: ``"npy"``, the base64 of the ``.npy`` format (dtype,
                       shape and order kept; dtype ``object`` is refused)
``pandas.DataFrame``,  a frame, series or index: ``"arrow"``, the base64 of an Apache Arrow
``pandas.Series``,     IPC stream with pyarrow's ``pandas`` metadata and a ``v6`` metadata
``pandas.Index``       entry that rebuilds dtypes, indexes and labels exactly (see
                       :mod:`v6lib.serialization.frames`)
``pandas.Timestamp``,  pandas scalars: ISO text, ``unit`` and ``tz``
``pandas.Timedelta``
``pandas.NA``,         the pandas missing values
``pandas.NaT``
``v6lib.count``,       the typed aggregates of :mod:`v6lib.serialization.aggregates`
``v6lib.table``,       (counts, count tables, sums with their n), which a node's disclosure
``v6lib.sum``          control checks exactly
=====================  =====================================================================

A frame keeps its RangeIndex, named and MultiIndex rows and columns (tuple column labels,
level order), axis names (a crosstab's), categoricals (categories and order), intervals
(``pandas.cut``), nullable integer, float, boolean and string dtypes, NumPy dtypes (bool,
int8..uint64, float16..float64, datetime64 and timedelta64 in s/ms/us/ns), ``object``
columns of ``str`` apart from ``StringDtype`` and pandas 3's ``str``, time zones, and
NaN, NA and NaT where they were. A Series keeps its name. An Arrow reader in another language gets
the frame's columns and index; pandas-specific details are in the ``v6`` metadata.

``loads`` also reads the ``dataframe`` and ``series`` tags that earlier versions wrote
(row-wise JSON), so results stored before still open (see
:mod:`v6lib.serialization.legacy`). A dict whose ``__v6__`` value is not a known tag, or
that lacks the tag's keys, stays a plain dict; :func:`dumps` never writes such a dict
(a user's dict with the key ``"__v6__"`` travels as a ``dict`` tag).

Speed: plain lists of numbers and strings are checked at C speed and written by the C
JSON encoder; frames and arrays are written as binary blocks (Arrow, ``.npy``), so a
million-row frame costs milliseconds per column, not a Python loop over its cells.
"""

from v6lib.serialization.codec import TAG as TAG
from v6lib.serialization.codec import dumps as dumps
from v6lib.serialization.codec import loads as loads

__all__ = ["TAG", "dumps", "loads"]
