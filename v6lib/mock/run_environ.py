"""Each mock run's own ``os.environ`` and temporary directory, in one shared process.

In a container ``os.environ`` holds the contract's variables (``INPUT_FILE``,
``TEMPORARY_FOLDER``, ``<LABEL>_DATABASE_URI``, ...) and ``tempfile`` writes to the
container's own ``/tmp``. MockNetwork runs are threads of one process, so the process's
environment cannot simply be set: :func:`install` turns the one ``os.environ`` object
(the very object every module already holds, and that ``os.getenv`` reads) into one
that, inside a run, reads and writes that run's :class:`RunEnvironment`, and points
``tempfile.gettempdir`` at the run's private folder. Outside any run both behave exactly
as before.

A run's environment is the process's, as the process runtime passes it on (without the
``V6_`` settings), with the contract's variables over it; what the run sets or deletes
stays in the run. It is read through, not copied: copying ``os.environ`` costs more than
the rest of a small run's set-up.

Limits: a subprocess started in a run inherits the process's real environment unless it
is given ``env=os.environ`` (or a copy); ``os.environb``, ``os.putenv`` and
``os.unsetenv`` are the process's, not the run's.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

from v6lib.mock.run_scope import current_scope
from v6lib.wrappers.contract import HOST_SETTINGS_PREFIX

__all__ = ["RunEnvironment", "install"]

_Environ: Any = type(os.environ)
S = TypeVar("S", str, bytes)


class RunEnvironment(MutableMapping[str, str]):
    """A run's variables over the process's environment.

    Args:
        own: the run's variables (the contract's, ``HOME``, ...).
        shadowed: upper-case names the process must not show through in any case
            (the contract's, which the wrapper reads case-insensitively).
    """

    def __init__(self, own: Mapping[str, str], shadowed: frozenset[str] = frozenset()) -> None:
        self._own = dict(own)
        self._hidden: set[str] = set()  # deleted by the run
        self._shadowed = shadowed

    def _inherited(self, key: str) -> bool:
        return not (key in self._own or key in self._hidden or key.upper() in self._shadowed
                    or key.startswith(HOST_SETTINGS_PREFIX))

    def __getitem__(self, key: str) -> str:
        try:
            return self._own[key]
        except KeyError:
            pass
        if not self._inherited(key):
            raise KeyError(key)
        return _Environ.__getitem__(os.environ, key)  # type: ignore[no-any-return]

    def __setitem__(self, key: str, value: str) -> None:
        self._own[key] = value
        self._hidden.discard(key)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._own.pop(key, None)
        self._hidden.add(key)

    def __iter__(self) -> Iterator[str]:
        inherited = [key for key in _Environ.__iter__(os.environ) if self._inherited(key)]
        return iter([*self._own, *inherited])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _checked(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"str expected, not {type(value).__name__}")
    return value


class _RunAwareEnviron(_Environ):
    """``os.environ`` that reads and writes the current run's mapping inside a run."""

    def __getitem__(self, key: str) -> str:
        scope = current_scope()
        if scope is None:
            return super().__getitem__(key)  # type: ignore[no-any-return]
        try:
            return scope.environ[_checked(key)]
        except KeyError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: str) -> None:
        scope = current_scope()
        if scope is None:
            super().__setitem__(key, value)
        else:
            scope.environ[_checked(key)] = _checked(value)

    def __delitem__(self, key: str) -> None:
        scope = current_scope()
        if scope is None:
            super().__delitem__(key)
            return
        try:
            del scope.environ[_checked(key)]
        except KeyError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        scope = current_scope()
        if scope is None:
            return super().__iter__()  # type: ignore[no-any-return]
        return iter(list(scope.environ))

    def __len__(self) -> int:
        scope = current_scope()
        return super().__len__() if scope is None else len(scope.environ)

    def copy(self) -> dict[str, str]:
        scope = current_scope()
        return super().copy() if scope is None else dict(scope.environ)

    def __repr__(self) -> str:
        scope = current_scope()
        return super().__repr__() if scope is None else f"environ({dict(scope.environ)!r})"


def _run_aware(original: Callable[[], S], convert: Callable[[str], S]) -> Callable[[], S]:
    def gettempdir() -> S:
        scope = current_scope()
        return original() if scope is None else convert(str(scope.home))

    gettempdir.__doc__ = original.__doc__
    return gettempdir


_lock = threading.Lock()
_installed = False


def install() -> None:
    """Make ``os.environ`` and ``tempfile`` run-aware (once per process; no way back is
    needed, since outside runs nothing changes)."""
    global _installed
    with _lock:
        if _installed:
            return
        # NOTE: the class of the existing object changes, rather than os.environ being
        # rebound, so modules that did ``from os import environ`` see runs too.
        os.environ.__class__ = _RunAwareEnviron
        tempfile.gettempdir = _run_aware(tempfile.gettempdir, str)
        tempfile.gettempdirb = _run_aware(tempfile.gettempdirb, os.fsencode)
        _installed = True
