"""Reading a file that an algorithm may have written, without trusting anything about it.

Why: every file a run leaves behind sits in a folder the algorithm could write (its
output folder; for the process runtime also its log and exit files), and the node reads
it with more rights than the algorithm has (as root, for the Docker runtime). Opened by
path, the output could be a symbolic link to any file of the host (another run's
decrypted input, a key), a hard link, a named pipe that blocks the reader forever, a
device that never ends, or a sparse file of terabytes.

So the node opens such a file exactly once: the folder with ``O_DIRECTORY|O_NOFOLLOW``,
the file relative to it with ``O_NOFOLLOW|O_NONBLOCK``, and then checks what the
descriptor refers to: a regular file, with one link, owned by the run's user, no larger
than a cap. Everything afterwards (the JSON check, the read into memory, the streamed
seal or copy) reads through that same descriptor, with the cap enforced while reading,
so nothing can be swapped in between a check and a read.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
from pathlib import Path
from types import TracebackType

from v6lib.errors import UnsafeFileError

__all__ = ["REGULAR_ONLY", "UntrustedFile", "open_untrusted"]

#: The rule every refusal states.
REGULAR_ONLY = "the node only reads regular files the algorithm wrote itself"
_CHUNK = 1 << 20
_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"))


def _kind(mode: int) -> str | None:
    """What a non-regular file is ("a symbolic link", ...); None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


class UntrustedFile:
    """One opened, checked file; read it only through this object, then close it.

    ``size`` is the size when it was opened. Reads never return more than ``limit``
    bytes in total: a file that grew past it while being read raises
    :class:`~v6lib.errors.UnsafeFileError` instead of being read to its end.
    """

    def __init__(self, fd: int, size: int, limit: int | None, what: str) -> None:
        self.fd = fd
        self.size = size
        self.limit = limit
        self.what = what

    def __enter__(self) -> UntrustedFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def too_big(self) -> UnsafeFileError:
        return UnsafeFileError(f"{self.what} grew beyond the {self.limit} bytes the node "
                               "accepts while the node read it")

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset`` (the descriptor's position is not used)."""
        if self.limit is not None:
            size = max(0, min(size, self.limit + 1 - offset))
        return os.pread(self.fd, size, offset) if size else b""

    def read_all(self) -> bytes:
        """The whole file, read to its end but never beyond the cap."""
        buffer = io.BytesIO()
        with self.reader() as source:
            while piece := source.read(_CHUNK):
                buffer.write(piece)
        return buffer.getvalue()

    def tail(self, size: int) -> tuple[bytes, int]:
        """The last ``size`` bytes as the file is now, and how many bytes it holds."""
        end = os.fstat(self.fd).st_size
        start = max(0, end - size)
        return os.pread(self.fd, end - start, start), end

    def reader(self) -> io.BufferedReader:
        """A binary stream from the start of the file, for streaming seals and copies."""
        return io.BufferedReader(_CappedReader(self), _CHUNK)


class _CappedReader(io.RawIOBase):
    """Reads an :class:`UntrustedFile` by position; raises once past its limit."""

    def __init__(self, file: UntrustedFile) -> None:
        self.file = file
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.file.read_at(self.position, len(buffer))
        self.position += len(data)
        if self.file.limit is not None and self.position > self.file.limit:
            raise self.file.too_big()
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:  # the descriptor belongs to the UntrustedFile
        super().close()


def _refuse(what: str, why: str) -> UnsafeFileError:
    return UnsafeFileError(f"{what} {why}; {REGULAR_ONLY}")


def _open_folder(directory: Path, what: str) -> int:
    try:
        return os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _refuse(what, "is in a folder that was replaced by a link or a file") \
                from None
        raise


def _open_in(folder: int, name: str, what: str) -> int:
    # NOTE: a look before the open, so a FIFO or a device is refused without being
    # opened at all (opening some devices has effects); the fstat after the open is
    # what counts, should the entry be swapped in between.
    kind = _kind(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    if kind is not None:
        raise _refuse(what, f"is {kind}")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
    try:
        return os.open(name, flags, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(what, "is a symbolic link") from None
        raise


def _check(info: os.stat_result, *, owner: int, limit: int | None, what: str) -> None:
    kind = _kind(info.st_mode)
    if kind is not None:
        raise _refuse(what, f"is {kind}")
    if info.st_nlink != 1:
        raise _refuse(what, f"has {info.st_nlink} hard links")
    if info.st_uid != owner:
        raise _refuse(what, f"belongs to uid {info.st_uid}, not to the run's user "
                            f"(uid {owner})")
    if limit is not None and info.st_size > limit:
        raise UnsafeFileError(f"{what} holds {info.st_size} bytes, more than the {limit} "
                              "bytes the node accepts")


def open_untrusted(directory: Path, name: str, *, owner: int, limit: int | None,
                   what: str) -> UntrustedFile:
    """Open ``directory/name``, a file an algorithm may have written, for reading.

    Args:
        directory: the folder the node made for the file (it is not followed if it is
            a link); only its last component is checked, the ones above are the node's.
        name: the file's name in that folder (one path component).
        owner: the uid the run's files belong to (the container's user, or the node's
            own uid when it shares it).
        limit: the most bytes the node reads; larger files are refused, and files that
            grow while being read stop being read at the limit. None: no limit (for
            files only ever read through :meth:`UntrustedFile.tail`).
        what: how messages name the file ("the output file").

    Raises:
        FileNotFoundError: there is no such file (or folder).
        UnsafeFileError: it is a link, pipe, socket, device or directory, has more than
            one link, belongs to another user or is larger than ``limit``.
    """
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{name!r} is not a file name")
    folder = _open_folder(Path(directory), what)
    try:
        fd = _open_in(folder, name, what)
    finally:
        os.close(folder)
    try:
        info = os.fstat(fd)
        _check(info, owner=owner, limit=limit, what=what)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return UntrustedFile(fd, info.st_size, limit, what)
