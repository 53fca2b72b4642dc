"""The mock's cage: a run may not do in-process what an algorithm container cannot do.

In production an algorithm runs in a container that sees only its own files, cannot
write outside its output and temporary folders, and has no network. MockNetwork runs are
threads of the developer's process, so without a cage a partial could read another
organization's data file, write anywhere or open a connection, pass every test, and
fail only once deployed. While a run executes, the sandbox refuses, with a
:class:`~v6lib.errors.SandboxViolation` naming the path or address and the organization:

* reading (opening, listing, linking, copying) any path of **another organization's
  datasets**, or the mock's folders of other runs (their input, token and output files);
* **writing** (opening for writing, creating, renaming, deleting, changing modes)
  anywhere but the run's output folder (OUTPUT_FILE's), its ``HOME`` (also ``tempfile``'s
  directory; a container's ``/tmp``) and the job's ``TEMPORARY_FOLDER``; INPUT_FILE and
  TOKEN_FILE are read-only, as their mounts are;
* the **network**: connecting, listening, sending datagrams and resolving host names
  (Unix sockets only inside the run's writable folders). The mock has no proxy on the
  network: the algorithm client of a central function is served in-process.

How: one audit hook (``sys.addaudithook``, PEP 578), installed once per process when the
first sandboxed run starts, consults the current run's :class:`Cage` (held by
:mod:`v6lib.mock.run_scope`). Outside runs, and in runs of a network whose sandbox is
off, it returns at once. Audit hooks cannot be removed, which is why the hook is never
installed while only unsandboxed networks run.

What it cannot see: subprocesses (and ``multiprocessing`` workers) run unconfined; C
code doing its own I/O (pyarrow opening a file by itself, database drivers' sockets,
libcurl) goes unseen; threads started through ``_thread`` or by C code are not part of
the run. Paths are compared as absolute paths without resolving symbolic links created
by the run. It catches mistakes, not malice: production's isolation is the container.

Opt out for debugging with ``MockNetwork(..., sandbox=False)`` or the environment
variable ``V6_MOCK_SANDBOX=off``.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from v6lib.errors import ConfigurationError, SandboxViolation
from v6lib.mock.run_scope import current_scope

if TYPE_CHECKING:
    from v6lib.mock.datasets import OrganizationData

__all__ = ["ENV_SANDBOX", "Cage", "DataOwners", "install", "sandbox_enabled"]

#: Environment variable that turns the sandbox off (``off``/``0``/``false``/``no``)
#: for networks that do not pass ``sandbox=`` themselves.
ENV_SANDBOX = "V6_MOCK_SANDBOX"
_OFF = frozenset({"0", "off", "false", "no"})
_ON = frozenset({"", "1", "on", "true", "yes"})


def sandbox_enabled(argument: bool | None) -> bool:
    """Whether a network's runs are caged: ``argument`` when given, else
    :data:`ENV_SANDBOX` (on unless it says off).

    Raises:
        ConfigurationError: the environment variable is neither on nor off.
    """
    if argument is not None:
        return bool(argument)
    value = os.environ.get(ENV_SANDBOX, "").strip().lower()
    if value in _ON or value in _OFF:
        return value not in _OFF
    raise ConfigurationError(f"{ENV_SANDBOX} must be on or off (1/0, true/false), "
                             f"got {value!r}")


def _absolute(value: object, dir_fd: object = None) -> str | None:
    """``value`` as an absolute path; None for file descriptors, for paths relative to
    a directory descriptor (they cannot be placed), and for what is not a path."""
    if not isinstance(value, str | bytes | os.PathLike):
        return None  # None, descriptors and whatever is not a path
    try:
        raw = os.fsdecode(os.fspath(value))
    except TypeError:  # a PathLike whose __fspath__ answers neither str nor bytes
        return None
    if isinstance(dir_fd, int) and dir_fd != -1 and not os.path.isabs(raw):
        return None
    try:
        return os.path.abspath(raw)
    except OSError:  # the working directory is gone
        return os.path.normpath(raw)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _ancestors(path: str) -> Iterable[str]:
    while True:
        yield path
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def _organizations(ids: Iterable[int]) -> str:
    ordered = sorted(ids)
    if len(ordered) == 1:
        return f"organization {ordered[0]}'s"
    return f"organizations {', '.join(map(str, ordered[:-1]))} and {ordered[-1]}'s"


class DataOwners:
    """Which organizations' datasets each file path belongs to (a dataset directory owns
    everything below it). Databases that are not files (URLs, in-memory frames) have no
    path."""

    def __init__(self, paths: Mapping[str, frozenset[int]]) -> None:
        self._paths = dict(paths)

    @classmethod
    def of(cls, organizations: Mapping[int, OrganizationData]) -> DataOwners:
        owners: dict[str, set[int]] = {}
        for org, data in organizations.items():
            for label in data.labels:
                spec = data.spec(label)
                path = _file_path(spec.uri) if spec is not None else None
                if path is None:
                    continue
                for form in {os.path.abspath(path), os.path.realpath(path)}:
                    owners.setdefault(form, set()).add(org)
        return cls({path: frozenset(orgs) for path, orgs in owners.items()})

    def owners(self, path: str) -> frozenset[int] | None:
        """The organizations whose data ``path`` is (or lies in); None if nobody's."""
        if not self._paths:
            return None
        for candidate in _ancestors(path):
            found = self._paths.get(candidate)
            if found is not None:
                return found
        return None


def _file_path(uri: str) -> str | None:
    """The file a database URI reads: a plain path, or a SQLite URL's file."""
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):].split("?", 1)[0]
        return path or None
    return None if "://" in uri else uri


_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"})
_IN_PRODUCTION_INVISIBLE = "(in production the file is not even visible)"


@dataclass(frozen=True)
class Cage:
    """What one run may touch; its ``check_*`` methods raise SandboxViolation.

    Args:
        organization_id: the run's organization (named in every refusal).
        run_dir: the run's own folder (readable: its input and token files).
        output_dir: OUTPUT_FILE's folder (writable).
        home: the run's HOME and temporary directory (writable).
        temporary_folder: the job's TEMPORARY_FOLDER at this organization (writable).
        read_only: INPUT_FILE and TOKEN_FILE.
        private_root: the mock's folder tree: what lies in it outside the run's own
            folders belongs to other runs.
        owners: whose datasets each path is.
    """

    organization_id: int
    run_dir: str
    output_dir: str
    home: str
    temporary_folder: str
    read_only: frozenset[str]
    private_root: str
    owners: DataOwners

    @property
    def _who(self) -> str:
        return f"organization {self.organization_id}'s run"

    def _refuse(self, action: str, reason: str) -> SandboxViolation:
        return SandboxViolation(f"{self._who} may not {action}: {reason}",
                                details={"organization_id": self.organization_id})

    def _own(self, path: str) -> bool:
        return _within(path, self.run_dir) or _within(path, self.temporary_folder)

    def _writable(self, path: str) -> bool:
        return (_within(path, self.output_dir) or _within(path, self.home)
                or _within(path, self.temporary_folder))

    def check_read(self, path: str, action: str) -> None:
        """Refuse reading another organization's data or another run's files."""
        owners = self.owners.owners(path)
        if owners is not None and self.organization_id not in owners:
            raise self._refuse(action, f"it is {_organizations(owners)} data "
                                       f"{_IN_PRODUCTION_INVISIBLE}")
        if _within(path, self.private_root) and not self._own(path):
            raise self._refuse(action, f"it belongs to {self._other_run(path)} "
                                       "(in production a container sees only its own run's "
                                       "files and its job's temporary folder)")

    def check_write(self, path: str, action: str) -> None:
        """Refuse writing outside the run's folder and the job's temporary folder."""
        if path in self.read_only:
            raise self._refuse(action, "INPUT_FILE and TOKEN_FILE are read-only (in "
                                       "production they are mounted read-only)")
        if self._writable(path) or path in _DEVICES:
            return
        owners = self.owners.owners(path)
        if owners is not None and self.organization_id not in owners:
            raise self._refuse(action, f"it is {_organizations(owners)} data "
                                       f"{_IN_PRODUCTION_INVISIBLE}")
        if owners is not None:
            raise self._refuse(action, "it is the organization's own data, which is "
                                       "read-only (in production it is mounted read-only)")
        raise self._refuse(action, f"a run may write only in its output folder "
                                   f"{self.output_dir}, its HOME {self.home} (also its "
                                   f"temporary directory) and TEMPORARY_FOLDER "
                                   f"{self.temporary_folder} (in production the rest of the "
                                   "file system is read-only or not there)")

    def check_network(self, action: str) -> None:
        """Refuse any use of the network."""
        raise self._refuse(action, "an algorithm container has no network (subtasks and "
                                   "their results go through the algorithm client, which "
                                   "the mock serves in-process)")

    def _other_run(self, path: str) -> str:
        top = os.path.relpath(path, self.private_root).split(os.sep, 1)[0]
        org = top.removeprefix("organization_")
        if org == str(self.organization_id):
            return f"another run of organization {org}"
        return f"organization {org}'s runs" if org.isdigit() else "other runs"


# ----------------------------------------------------------------------------- events

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
Args = tuple[Any, ...]


def _open(cage: Cage, args: Args) -> None:
    path = _absolute(args[0])
    if path is None:
        return
    flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
    mode = args[1] if isinstance(args[1], str) else ""
    if flags & _WRITE_FLAGS or any(c in mode for c in "wax+"):
        cage.check_write(path, f"open {path} for writing")
    else:
        cage.check_read(path, f"open {path} for reading")


def _write(verb: str, position: int = 0, dir_fd: int | None = None
           ) -> Callable[[Cage, Args], None]:
    def check(cage: Cage, args: Args) -> None:
        fd = args[dir_fd] if dir_fd is not None and len(args) > dir_fd else None
        path = _absolute(args[position], fd)
        if path is not None:
            cage.check_write(path, verb.format(path))

    return check


def _read(verb: str, position: int = 0) -> Callable[[Cage, Args], None]:
    def check(cage: Cage, args: Args) -> None:
        path = _absolute(args[position]) if args else None
        if path is not None:
            cage.check_read(path, verb.format(path))

    return check


def _both(*checks: Callable[[Cage, Args], None]) -> Callable[[Cage, Args], None]:
    def check(cage: Cage, args: Args) -> None:
        for one in checks:
            one(cage, args)

    return check


def _mkdir(cage: Cage, args: Args) -> None:
    path = _absolute(args[0], args[2] if len(args) > 2 else None)
    # NOTE: an existing folder is no write: the call fails with FileExistsError, as it
    # does on a read-only file system (os.makedirs(..., exist_ok=True) goes on).
    if path is not None and not os.path.isdir(path):
        cage.check_write(path, f"create the folder {path}")


def _symlink(cage: Cage, args: Args) -> None:
    _write("create the link {}", 1, 2)(cage, args)
    link = _absolute(args[1], args[2] if len(args) > 2 else None)
    target = os.fsdecode(os.fspath(args[0])) if isinstance(args[0], str | bytes) else None
    if link is not None and target is not None:
        resolved = os.path.normpath(os.path.join(os.path.dirname(link), target))
        cage.check_read(resolved, f"link to {resolved}")


def _address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return repr(address)


def _socket(verb: str) -> Callable[[Cage, Args], None]:
    def check(cage: Cage, args: Args) -> None:
        address = args[1] if len(args) > 1 else None
        if address is None:
            return
        if isinstance(address, str | bytes) and not os.fsdecode(address).startswith("\0"):
            path = _absolute(address)
            if path is not None:  # a Unix socket: a file of the run's, or nothing
                cage.check_write(path, f"{verb} the Unix socket {path}")
                return
        cage.check_network(f"{verb} {_address(address)}")

    return check


def _numeric(host: object) -> bool:
    """Whether resolving ``host`` needs no lookup: no host, or an address literal."""
    if host is None:
        return True
    try:
        ipaddress.ip_address(os.fsdecode(host) if isinstance(host, bytes) else str(host))
    except ValueError:
        return False
    return True


def _resolve(verb: str, lookup_only: bool = False) -> Callable[[Cage, Args], None]:
    def check(cage: Cage, args: Args) -> None:
        host = args[0] if args else None
        # NOTE: an address literal resolves without the network (in a container too);
        # connecting to it is what gets refused then.
        if lookup_only and _numeric(host):
            return
        cage.check_network(f"{verb} {host!r}")

    return check


_CHECKS: dict[str, Callable[[Cage, Args], None]] = {
    "open": _open,
    "os.listdir": _read("list {}"),
    "os.scandir": _read("list {}"),
    "os.rename": _both(_write("move {}", 0, 2), _write("move a file to {}", 1, 3)),
    "os.remove": _write("delete {}", 0, 1),
    "os.rmdir": _write("delete the folder {}", 0, 1),
    "os.mkdir": _mkdir,
    "os.truncate": _write("truncate {}"),
    "os.chmod": _write("change the mode of {}", 0, 2),
    "os.chown": _write("change the owner of {}", 0, 3),
    "os.utime": _write("change the times of {}", 0, 3),
    "os.setxattr": _write("change the attributes of {}"),
    "os.removexattr": _write("change the attributes of {}"),
    "os.link": _both(_read("link to {}"), _write("create the link {}", 1, 3)),
    "os.symlink": _symlink,
    "shutil.copyfile": _both(_read("copy {}"), _write("copy a file to {}", 1)),
    "shutil.copytree": _both(_read("copy {}"), _write("copy a folder to {}", 1)),
    "shutil.move": _both(_write("move {}"), _write("move a file to {}", 1)),
    "shutil.rmtree": _write("delete the folder {}", 0, 1),
    "socket.connect": _socket("connect to"),
    "socket.bind": _socket("listen on"),
    "socket.sendto": _socket("send to"),
    "socket.sendmsg": _socket("send to"),
    "socket.getaddrinfo": _resolve("resolve the host name", lookup_only=True),
    "socket.gethostbyname": _resolve("resolve the host name", lookup_only=True),
    "socket.gethostbyaddr": _resolve("look up the host name of"),
    "socket.getnameinfo": _resolve("look up the host name of"),
}


def _audit(event: str, args: Args) -> None:
    check = _CHECKS.get(event)
    if check is None:
        return
    scope = current_scope()
    if scope is None or scope.cage is None:
        return
    try:
        check(scope.cage, args)
    except SandboxViolation as exc:
        raise exc.with_traceback(None) from None  # the checks' frames are noise in a log
    except Exception:  # a flaw in a check must never break the call it watches
        return


_lock = threading.Lock()
_installed = False


def install() -> None:
    """Add the audit hook (once per process; it cannot be removed)."""
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_audit)
            _installed = True
