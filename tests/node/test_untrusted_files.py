"""Opening a file an algorithm may have written: only its own regular files, capped.

Every test plants what a hostile container could leave in place of its output (the
tests run as root, like a node with the Docker runtime, so they can also plant device
nodes and files of another user) and asserts the node refuses it without reading it,
or stops reading at the cap.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from v6lib.errors import UnsafeFileError
from v6lib.node.untrusted_files import REGULAR_ONLY, UntrustedFile, open_untrusted

ME = os.geteuid()
OTHER_UID = 54321


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "output"
    out.mkdir()
    return out


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file of the host that only its owner may read."""
    path = tmp_path / "secret"
    path.write_text('{"secret": "the node must never upload this"}')
    path.chmod(0o600)
    return path


def _open(folder: Path, limit: int | None = 1024) -> UntrustedFile:
    return open_untrusted(folder, "output", owner=ME, limit=limit, what="the output file")


def _refused(folder: Path, *words: str, limit: int | None = 1024) -> str:
    with pytest.raises(UnsafeFileError) as caught:
        _open(folder, limit).close()
    for word in words:
        assert word in caught.value.message, caught.value.message
    return caught.value.message


def test_a_regular_file_of_the_run_is_read(folder: Path) -> None:
    (folder / "output").write_bytes(b'{"a": 1}')
    with _open(folder) as file:
        assert file.size == 8
        assert file.read_all() == b'{"a": 1}'
        assert file.read_at(2, 3) == b'a":'
        with file.reader() as stream:
            assert stream.read() == b'{"a": 1}'


def test_a_missing_file_is_file_not_found(folder: Path) -> None:
    with pytest.raises(FileNotFoundError):
        _open(folder)
    with pytest.raises(FileNotFoundError):
        _open(folder / "gone")


def test_a_symbolic_link_to_a_host_file_is_refused(folder: Path, secret: Path) -> None:
    (folder / "output").symlink_to(secret)
    message = _refused(folder, "is a symbolic link", REGULAR_ONLY)
    assert message == ("the output file is a symbolic link; the node only reads regular "
                       "files the algorithm wrote itself")


def test_a_symbolic_link_to_dev_zero_is_refused(folder: Path) -> None:
    (folder / "output").symlink_to("/dev/zero")
    _refused(folder, "is a symbolic link")


def test_a_relative_and_a_dangling_link_are_refused(folder: Path) -> None:
    (folder / "elsewhere").write_text("[]")
    (folder / "output").symlink_to("elsewhere")
    _refused(folder, "is a symbolic link")
    (folder / "output").unlink()
    (folder / "output").symlink_to("/nonexistent/target")
    _refused(folder, "is a symbolic link")


def test_a_fifo_is_refused_without_blocking(folder: Path) -> None:
    os.mkfifo(folder / "output")
    outcome: list[object] = []

    def attempt() -> None:
        try:
            _open(folder).close()
            outcome.append("opened")
        except UnsafeFileError as exc:
            outcome.append(exc.message)

    thread = threading.Thread(target=attempt, daemon=True)
    began = time.monotonic()
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "opening a FIFO blocked the node"
    assert time.monotonic() - began < 5
    assert outcome and "is a named pipe (FIFO)" in str(outcome[0])


def test_a_fifo_swapped_in_after_the_look_is_refused_by_the_descriptor(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / "regular").write_text("[]")
    os.mkfifo(folder / "output")
    look = os.stat(folder / "regular")
    monkeypatch.setattr("v6lib.node.untrusted_files.os.stat", lambda *a, **k: look)
    _refused(folder, "is a named pipe (FIFO)")  # O_NONBLOCK: the open did not wait


def test_a_hard_link_is_refused(folder: Path) -> None:
    (folder / "mine").write_text("[1]")
    os.link(folder / "mine", folder / "output")
    _refused(folder, "has 2 hard links")


def test_a_directory_is_refused(folder: Path) -> None:
    (folder / "output").mkdir()
    _refused(folder, "is a directory")


def test_a_socket_is_refused(tmp_path: Path) -> None:
    import socket

    folder = Path("/tmp") / f"v6-untrusted-{os.getpid()}"  # short path: AF_UNIX limit
    folder.mkdir()
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(folder / "output"))
            _refused(folder, "is a socket")
    finally:
        (folder / "output").unlink(missing_ok=True)
        folder.rmdir()


def test_a_device_node_is_refused(folder: Path) -> None:
    os.mknod(folder / "output", 0o600 | 0o020000, os.makedev(1, 5))  # like /dev/zero
    _refused(folder, "is a character device")


def test_a_file_of_another_user_is_refused(folder: Path) -> None:
    (folder / "output").write_text("[]")
    os.chown(folder / "output", OTHER_UID, OTHER_UID)
    _refused(folder, f"belongs to uid {OTHER_UID}", f"run's user (uid {ME})")


def test_the_folder_itself_must_not_be_a_link(tmp_path: Path, secret: Path) -> None:
    (tmp_path / "output-link").symlink_to(secret.parent)
    with pytest.raises(UnsafeFileError, match="folder that was replaced by a link"):
        open_untrusted(tmp_path / "output-link", "secret", owner=ME, limit=1024,
                       what="the output file")


def test_a_sparse_file_beyond_the_cap_is_refused_unread(folder: Path) -> None:
    with (folder / "output").open("wb") as fh:
        fh.truncate(10 * 1024 ** 4)  # 10 TiB of holes
    began = time.monotonic()
    _refused(folder, "holds 10995116277760 bytes", "more than the 1048576 bytes",
             limit=1024 * 1024)
    assert time.monotonic() - began < 1


def test_a_file_growing_while_read_stops_at_the_cap(folder: Path) -> None:
    path = folder / "output"
    path.write_bytes(b"[" + b"1," * 100)
    with _open(folder, limit=4096) as file:
        with path.open("ab") as writer:  # a process the container left behind keeps writing
            writer.write(b"1," * 10_000)
        with pytest.raises(UnsafeFileError, match="grew beyond the 4096 bytes"):
            file.read_all()
        with file.reader() as stream, pytest.raises(UnsafeFileError, match="grew beyond"):
            stream.read()
        assert len(file.read_at(0, 1 << 20)) == 4097  # never more than the cap and a byte


def test_reads_go_through_the_descriptor_not_the_path(folder: Path, secret: Path) -> None:
    path = folder / "output"
    path.write_bytes(b'["mine"]')
    with _open(folder) as file:
        path.unlink()
        path.symlink_to(secret)  # swapped after the check: the node must not notice it
        assert file.read_all() == b'["mine"]'


def test_the_tail_of_an_uncapped_file(folder: Path) -> None:
    (folder / "output").write_bytes(b"x" * 100 + b"the end")
    with _open(folder, limit=None) as file:
        assert file.tail(7) == (b"the end", 107)


def test_a_name_must_be_one_path_component(folder: Path) -> None:
    for name in ("", ".", "..", "a/b"):
        with pytest.raises(ValueError, match="not a file name"):
            open_untrusted(folder, name, owner=ME, limit=None, what="x")


def _open_files() -> set[tuple[str, str]]:
    """(descriptor, what it points to) for this process's open descriptors."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
        except OSError:  # closed meanwhile
            continue
    return found


@pytest.fixture(autouse=True)
def _no_descriptor_leaks(tmp_path: Path) -> Iterator[None]:
    # NOTE: only descriptors of the test's own files count: threads left by other tests
    # in this process (servers, nodes) open and close sockets and files at any time
    before = _open_files()
    yield
    leaked = {(fd, target) for fd, target in _open_files() - before
              if target.startswith(str(tmp_path))}
    assert not leaked, f"descriptors left open: {leaked}"
