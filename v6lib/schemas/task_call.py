"""The task input's rules in plain Python: the one check TaskInput and the container share.

Why not only the pydantic :class:`~v6lib.schemas.task_input.TaskInput`: the algorithm
container reads its INPUT_FILE on every run, and importing pydantic costs more than the
rest of the entrypoint together. So :func:`check_task_input` (stdlib only) is the single
implementation of the rules; ``TaskInput`` runs it before anything else, and the
entrypoint calls :func:`parse_task_call`, which returns the light :class:`TaskCall`.

The rules: ``method`` is a string of 1 to 200 characters; ``args`` a list (a tuple is
taken as a list); ``kwargs`` an object with string keys; ``master`` a boolean (``0``/``1``
and the words ``true``/``false``, ``yes``/``no``, ``on``/``off``, ``t``/``f``, ``y``/``n``
are read as booleans, as pydantic does). The legacy vantage6 form ``{"master": true}``
without a method calls ``central``; its ``output_format``/``data_format`` keys are
ignored. Any other key is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from v6lib.errors import ValidationError

__all__ = [
    "EXPECTED",
    "FIELDS",
    "LEGACY_CENTRAL_METHOD",
    "METHOD_MAX_LENGTH",
    "Problem",
    "TaskCall",
    "check_task_input",
    "describe_problems",
    "parse_task_call",
]

METHOD_MAX_LENGTH = 200
FIELDS = ("method", "args", "kwargs", "master")
#: what a legacy ``{"master": true}`` input without a method calls.
LEGACY_CENTRAL_METHOD = "central"
#: keys of legacy inputs that have no effect and are dropped.
_LEGACY_IGNORED = frozenset({"output_format", "data_format"})
#: the shape of a task input, for error messages.
EXPECTED = '{"method": str, "args": [...], "kwargs": {...}}'

_TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


class Problem(NamedTuple):
    """One thing wrong with a task input: where (``("kwargs", 3)``) and what."""

    loc: tuple[Any, ...]  # field names, or the offending keys as they were given
    message: str


class TaskCall(NamedTuple):
    """A checked task input: the function to call and its arguments.

    ``master`` is True for the legacy vantage6 form of a central call. (A NamedTuple,
    not a dataclass: defining a dataclass costs every run about 0.5 ms.)
    """

    method: str
    args: list[Any]
    kwargs: dict[str, Any]
    master: bool = False


def _as_bool(value: Any) -> bool | None:
    """``value`` read as a boolean the way pydantic reads one, or None when it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    return None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def check_task_input(value: Mapping[Any, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Apply the task input rules to ``value``.

    Returns the normalized fields (``method``, ``args``, ``kwargs``, ``master``, legacy
    defaults applied, meaningful only when there are no problems) and the problems found,
    in field order, then unknown keys.
    """
    problems: list[Problem] = []
    master = _as_bool(value.get("master", False))

    method = value.get("method")
    if master and (method is None or method == ""):
        method = LEGACY_CENTRAL_METHOD
    if method is None and "method" not in value:
        problems.append(Problem(("method",), "is required: the name of the function to call"))
    elif not isinstance(method, str):
        problems.append(Problem(("method",), f"must be a function name (a string), got "
                                f"{_kind(method)}"))
    elif not 1 <= len(method) <= METHOD_MAX_LENGTH:
        problems.append(Problem(("method",), f"must be 1 to {METHOD_MAX_LENGTH} characters "
                                f"long, got {len(method)}"))

    args = value.get("args", [])
    if isinstance(args, list | tuple):
        args = list(args)
    else:
        problems.append(Problem(("args",), f"must be a list of positional arguments, got "
                                f"{_kind(args)}"))

    kwargs = value.get("kwargs", {})
    if isinstance(kwargs, Mapping):
        problems.extend(Problem(("kwargs", key), "keyword argument names must be strings")
                        for key in kwargs if not isinstance(key, str))
        kwargs = dict(kwargs)
    else:
        problems.append(Problem(("kwargs",), f"must be an object of keyword arguments, got "
                                f"{_kind(kwargs)}"))

    if master is None:
        problems.append(Problem(("master",), "must be true or false, got "
                                f"{_kind(value['master'])} {repr(value['master'])[:40]}"))

    allowed = ", ".join(FIELDS)
    problems.extend(Problem((key,), f"is not a task input field (allowed: {allowed})")
                    for key in value if key not in FIELDS and key not in _LEGACY_IGNORED)
    return {"method": method, "args": args, "kwargs": kwargs, "master": bool(master)}, problems


def describe_problems(problems: list[Problem]) -> str:
    """``field: message; ...`` (nested fields dotted, the whole input called ``input``)."""
    return "; ".join(f"{'.'.join(map(str, p.loc)) or 'input'}: {p.message}" for p in problems)


def parse_task_call(value: Any, where: str = "the task input") -> TaskCall:
    """Check ``value`` (a decoded JSON object) and return it as a :class:`TaskCall`.

    ``where`` names the input in the error, e.g. ``"INPUT_FILE /mnt/input"``.

    Raises:
        ValidationError: ``value`` breaks a rule (every problem is named).
    """
    if not isinstance(value, Mapping):
        problems = [Problem((), f"must be an object, got {_kind(value)}")]
    else:
        values, problems = check_task_input(value)
        if not problems:
            return TaskCall(**values)
    raise ValidationError(
        f"{where} is not a valid task input ({describe_problems(problems)}); expected "
        f"{EXPECTED}",
        details={"problems": [{"field": ".".join(map(str, p.loc)), "message": p.message}
                              for p in problems]},
    )
