"""The container entrypoint: read the input, call the algorithm's method, write the output.

``main()`` turns errors into exit codes (``V6Error.exit_code``; 1 for any other
exception). The MockNetwork shares the rest: :mod:`v6lib.wrappers.dispatch` calls the
method, ``encode_result()`` turns its result into OUTPUT_FILE's bytes, and
``failure_reason()``/``failure_log()`` say what a failed run leaves.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

from v6lib import serialization
from v6lib.errors import ConfigurationError, V6Error, ValidationError
from v6lib.schemas.task_call import TaskCall, parse_task_call

from .context import AlgorithmContext
from .contract import RELAYED_VARIABLE, ContainerEnv
from .dispatch import dispatch
from .metadata import RunMetadata
from .progress import proxy_sender
from .token import metadata_for_run

__all__ = [
    "describe_failure",
    "docker_wrapper",
    "encode_result",
    "exit_code",
    "failure_log",
    "failure_reason",
    "import_algorithm",
    "main",
    "wrap_algorithm",
    "write_atomic",
]



# ----------------------------------------------------------------------------- outcome
# The container entrypoint and the MockNetwork both end a run through these, so a result
# that cannot be stored and a failure read the same in both.


def encode_result(result: Any, call: str) -> bytes:
    """``result`` as the bytes of OUTPUT_FILE; ``call`` (``package.method``) names the
    function in the error.

    Raises:
        SerializationError: the result holds a value JSON cannot carry (the message names
            its path, e.g. ``result['model'][2]``).
    """
    try:
        return serialization.dumps(result, root="result")
    except V6Error as exc:
        raise type(exc)(f"the result of {call} cannot be written to OUTPUT_FILE: "
                        f"{exc.message}") from exc


def exit_code(exc: BaseException) -> int:
    """The process exit code a run ending in ``exc`` has: ``V6Error.exit_code``, the
    algorithm's own non-zero ``exit()`` code, or 1."""
    if isinstance(exc, V6Error):
        return exc.exit_code
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) and exc.code != 0 else 1
    return 1


#: Longest failure reason a run reports (the researcher reads it; the log has the rest).
REASON_LIMIT = 2000


def failure_reason(exc: BaseException) -> str:
    """The algorithm's own account of its failure: ``Type: message`` (the run's reason).

    Only the first line of a long message is kept whole; the traceback and local values
    stay in the log, which the data owner decides to share or not.
    """
    if isinstance(exc, V6Error):
        text = f"{type(exc).__name__}: {exc.message}"
    elif isinstance(exc, SystemExit):
        text = (f"AlgorithmError: the algorithm called exit({exc.code!r}) instead of "
                "returning a result")
    else:
        text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    first = text.partition("\n")[0]
    return first if len(first) <= REASON_LIMIT else first[:REASON_LIMIT - 3] + "..."


def describe_failure(exc: BaseException) -> str:
    """One line saying why the run wrote no result, ending in its exit code."""
    return (f"v6lib: the run failed and wrote no result. {failure_reason(exc)} "
            f"(exit code {exit_code(exc)})")


def failure_log(exc: BaseException) -> str:
    """The log of a failed run: :func:`describe_failure`'s line, then the traceback."""
    import traceback  # NOTE: here, not at the top: a run that succeeds never needs it

    return describe_failure(exc) + "\n" + "".join(traceback.format_exception(exc))


# ----------------------------------------------------------------------------- main


def _read_input(path: Path) -> TaskCall:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"cannot read INPUT_FILE {path}: {exc.strerror}") from None
    try:
        decoded = serialization.loads(raw)
    except V6Error as exc:
        raise ValidationError(f"INPUT_FILE {path} is not valid JSON: {exc.message}") from None
    return parse_task_call(decoded, f"INPUT_FILE {path}")


def _read_token(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        # Partial functions do not need the token; a central one gets a clear error later.
        return ""


def _client_factory(env: ContainerEnv, token: str, metadata: RunMetadata) -> Callable[[], Any]:
    def build() -> Any:
        url = env.server_url()
        if url is None:
            raise ConfigurationError("HOST is not set, so this run cannot reach the server; "
                                     "only partial functions can run without it")
        if not token:
            raise ConfigurationError(f"TOKEN_FILE {env.token_file} is missing or empty, so "
                                     "this run cannot create subtasks")
        from v6lib.client.algorithm_api import HttpAlgorithmApi
        from v6lib.client.algorithm_client import AlgorithmClient
        from v6lib.client.transport import Transport

        transport = Transport(url)
        transport.token = token
        return AlgorithmClient(HttpAlgorithmApi(transport, metadata), metadata)

    return build


def import_algorithm(name: str) -> ModuleType:
    """The algorithm package ``name``; a distribution name (``v6-average``) finds its
    module (``v6_average``), as vantage6's tools do.

    Raises:
        ConfigurationError: no such package.
    """
    candidates = [name] if "-" not in name else [name, name.replace("-", "_")]
    for candidate in candidates:
        try:
            return importlib.import_module(candidate)
        except ModuleNotFoundError as exc:
            if exc.name != candidate.split(".")[0] and exc.name != candidate:
                raise  # the package exists but one of its own imports is missing
    raise ConfigurationError(
        f"the algorithm package {name!r} (PKG_NAME) cannot be imported; it must name an "
        "installed Python package (in an image: the one the image installs)"
    )


_EXCLUSIVE = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
              | getattr(os, "O_CLOEXEC", 0))


def write_atomic(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so a reader never sees a partial file.

    A temporary file in the same folder is renamed over ``path``. When the node mounts
    the output file itself (rename onto a mount point fails), the file is written in place.
    The temporary file is made as ``tempfile.mkstemp`` would (exclusive, mode 0600), without
    importing ``tempfile``, which costs every run about 3 ms.
    """
    tmp_name = None
    try:
        candidate = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}")
        fd = os.open(candidate, _EXCLUSIVE, 0o600)
        tmp_name = candidate  # ours from here on: removed below unless renamed
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError:
        with open(path, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def _run(argv: Sequence[str]) -> None:
    env = ContainerEnv.from_environ()
    if ((env.proxy_socket is not None or os.environ.get("V6_RELAYS"))
            and not os.environ.get(RELAYED_VARIABLE)):
        # NOTE: imported only here: its sockets, threads and logging cost every run that
        # has no proxy socket (the process runtime) about 5 ms.
        from .proxy_bridge import start_from_environ

        # a network-less container reaches the proxy and its databases through them
        start_from_environ()
    package = argv[0] if argv else env.pkg_name
    if not package:
        raise ConfigurationError("PKG_NAME is not set: the image must name its algorithm "
                                 "package (ENV PKG_NAME=...)")
    task_input = _read_input(env.input_file)
    token = _read_token(env.token_file)
    metadata = metadata_for_run(token, env)
    url = env.server_url()
    context = AlgorithmContext(databases=env.databases(), metadata=metadata,
                               client_factory=_client_factory(env, token, metadata),
                               progress_sink=proxy_sender(url, token) if url and token
                               else None)
    module = import_algorithm(package)
    print(f"v6lib: running {package}.{task_input.method}", file=sys.stderr, flush=True)
    result = dispatch(module, task_input, context)
    payload = encode_result(result, f"{package}.{task_input.method}")
    write_atomic(env.output_file, payload)
    print(f"v6lib: wrote {len(payload)} bytes of result", file=sys.stderr, flush=True)


def _report(exc: BaseException, log_traceback: bool = True) -> int:
    """Log the failure and leave its one-line reason for the node in OUTPUT_FILE."""
    sys.stderr.write(failure_log(exc) if log_traceback else describe_failure(exc) + "\n")
    sys.stderr.flush()
    code = exit_code(exc)
    output = os.environ.get("OUTPUT_FILE")
    if output:
        from v6lib.rules.failures import failure_record

        with contextlib.suppress(OSError):
            write_atomic(Path(output), failure_record(failure_reason(exc), code))
    return code


def main(argv: Sequence[str] | None = None, *, log_traceback: bool = True) -> int:
    """Run one algorithm call as described by the container environment; return the exit
    code (0 on success). ``argv[0]``, when given, overrides PKG_NAME.

    ``log_traceback=False`` leaves a failure's traceback out of the run's log (only the
    line saying why it failed), for algorithms whose local values must not reach a log.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        _run(args)
    except (Exception, SystemExit) as exc:
        # NOTE: SystemExit too: an algorithm calling exit() must still leave a log that
        # says the run wrote no result, and a non-zero code.
        return _report(exc, log_traceback)
    return 0


def wrap_algorithm(pkg_name: str | None = None, log_traceback: bool = True) -> NoReturn:
    """Entrypoint for an image's CMD: ``python -c "from v6lib.wrappers import
    wrap_algorithm; wrap_algorithm()"``; exits the process with :func:`main`'s code.
    ``log_traceback`` as vantage6's ``wrap_algorithm`` (see :func:`main`)."""
    raise SystemExit(main([pkg_name] if pkg_name else [], log_traceback=log_traceback))


docker_wrapper = wrap_algorithm
"""The vantage6 name of :func:`wrap_algorithm` (``docker_wrapper('${PKG_NAME}')``)."""
