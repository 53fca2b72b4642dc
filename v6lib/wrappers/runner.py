"""The container entrypoint: read the input, call the algorithm's method, write the output.

``main()`` turns errors into exit codes (``V6Error.exit_code``; 1 for any other
exception). The MockNetwork shares the rest: ``dispatch()`` resolves the method on the
algorithm module and calls it inside the run's context, ``encode_result()`` turns its
result into OUTPUT_FILE's bytes, and ``failure_log()`` writes what a failed run leaves.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from v6lib import serialization
from v6lib.errors import AlgorithmError, ConfigurationError, DataError, V6Error, ValidationError
from v6lib.schemas.task_call import TaskCall, parse_task_call

from .context import AlgorithmContext, RunMetadata, use_context
from .contract import ContainerEnv
from .decorators import registry
from .token import metadata_from_token

if TYPE_CHECKING:
    from v6lib.schemas.task_input import TaskInput

    #: what dispatch reads: the container's light TaskCall or the pydantic TaskInput
    #: (MockNetwork, clients); both have method, args, kwargs and master.
    AnyTaskInput = TaskCall | TaskInput

__all__ = [
    "describe_failure",
    "dispatch",
    "docker_wrapper",
    "encode_result",
    "exit_code",
    "failure_log",
    "main",
    "public_functions",
    "resolve_method",
    "wrap_algorithm",
    "write_atomic",
]

CallStyle = Literal["plain", "legacy_partial", "legacy_central"]
LEGACY_PREFIX = "RPC_"


# ----------------------------------------------------------------------------- dispatch


def public_functions(module: ModuleType) -> list[str]:
    """Names a task may call: decorated functions, and public functions the package defines."""
    return sorted(name for name, obj in vars(module).items() if _callable_here(module, name, obj))


def _callable_here(module: ModuleType, name: str, obj: Any) -> bool:
    if name.startswith("_") or not callable(obj) or inspect.isclass(obj):
        return False
    if obj in registry:
        return True
    # NOTE: undecorated functions are reachable only when the algorithm's own package
    # defines them; a task must not be able to call e.g. ``os.system`` that the module
    # happened to import.
    package = module.__name__.split(".")[0]
    owner = getattr(obj, "__module__", None) or ""
    return owner == package or owner.startswith(package + ".")


def resolve_method(module: ModuleType, task_input: AnyTaskInput) -> tuple[Callable[..., Any],
                                                                           CallStyle]:
    """The function ``task_input`` names and how to call it.

    Decorated and plain functions are called with the task's args/kwargs. Undecorated
    functions reached the legacy way get the legacy arguments first: ``RPC_<method>``
    receives the first database as ``data``; a ``master`` call receives ``client, data``.

    Raises:
        AlgorithmError: no such public function (the message lists the available ones).
    """
    name = task_input.method
    if task_input.master:
        candidates = [name]
    elif name.startswith(LEGACY_PREFIX):
        candidates = [name, name[len(LEGACY_PREFIX):]]
    else:
        candidates = [name, LEGACY_PREFIX + name]
    for candidate in candidates:
        function = getattr(module, candidate, None)
        if function is None or not _callable_here(module, candidate, function):
            continue
        if function in registry:
            return function, "plain"
        if task_input.master:
            return function, "legacy_central"
        if candidate.startswith(LEGACY_PREFIX):
            return function, "legacy_partial"
        return function, "plain"
    available = ", ".join(public_functions(module)) or "none"
    raise AlgorithmError(
        f"the algorithm {module.__name__!r} has no public function {name!r}; "
        f"available: {available} (callable are functions decorated with @data, "
        "@algorithm_client or @metadata, and undecorated functions the package defines)"
    )


def _legacy_data(context: AlgorithmContext, required: bool) -> Any:
    if not context.databases:
        if required:
            raise DataError("this legacy RPC_ function takes data, but the task requested "
                            "no database")
        return None
    return context.load(context.databases[0])


def dispatch(module: ModuleType | str, task_input: AnyTaskInput | Mapping[str, Any],
             context: AlgorithmContext) -> Any:
    """Call the method ``task_input`` names on ``module`` within ``context``; return its result.

    Raises:
        AlgorithmError: unknown method; anything the algorithm raises propagates unchanged.
    """
    if isinstance(module, str):
        module = importlib.import_module(module)
    if not _is_task_input(task_input):
        task_input = parse_task_call(task_input, "the task input")
    function, style = resolve_method(module, task_input)
    _check_arguments(function, task_input, 0 if style == "plain" else
                     (2 if style == "legacy_central" else 1))
    with use_context(context):
        leading: list[Any] = []
        if style == "legacy_central":
            leading = [context.client(), _legacy_data(context, required=False)]
        elif style == "legacy_partial":
            leading = [_legacy_data(context, required=True)]
        return function(*leading, *task_input.args, **task_input.kwargs)


def _is_task_input(value: object) -> bool:
    """Whether ``value`` is an already checked TaskCall or pydantic TaskInput."""
    if isinstance(value, TaskCall):
        return True
    # NOTE: a pydantic TaskInput can exist only once its module is loaded: never import
    # it (and pydantic) here just to find out that a container's input is not one.
    model = sys.modules.get("v6lib.schemas.task_input")
    return model is not None and isinstance(value, model.TaskInput)


def _check_arguments(function: Callable[..., Any], task_input: AnyTaskInput,
                     leading: int) -> None:
    """Fail before any data is loaded when the task's arguments cannot fit the function."""
    registration = registry.get(function)
    target = registration.function if registration is not None else function
    injected = registration.injected_count if registration is not None else leading
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    try:
        signature.bind(*([None] * injected), *task_input.args, **task_input.kwargs)
    except TypeError as exc:
        keywords = ", ".join(sorted(task_input.kwargs)) or "none"
        raise ValidationError(
            f"{task_input.method!r} cannot be called with {len(task_input.args)} positional "
            f"argument(s) and keyword argument(s) {keywords}: {exc}; it is defined as "
            f"{target.__name__}{signature}"
            + (f", of which the first {injected} argument(s) are filled in by the wrapper"
               if injected else "")
        ) from None


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


def describe_failure(exc: BaseException) -> str:
    """One line saying why the run wrote no result, ending in its exit code."""
    if isinstance(exc, V6Error):
        summary = f"{type(exc).__name__}: {exc.message}"
    elif isinstance(exc, SystemExit):
        summary = (f"AlgorithmError: the algorithm called exit({exc.code!r}) instead of "
                   "returning a result")
    else:
        summary = f"the algorithm raised {type(exc).__name__}: {exc}"
    return (f"v6lib: the run failed and wrote no result. {summary} "
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


def _import_algorithm(name: str) -> ModuleType:
    candidates = [name] if "-" not in name else [name, name.replace("-", "_")]
    for candidate in candidates:
        try:
            return importlib.import_module(candidate)
        except ModuleNotFoundError as exc:
            if exc.name != candidate.split(".")[0] and exc.name != candidate:
                raise  # the package exists but one of its own imports is missing
    raise ConfigurationError(
        f"the algorithm package {name!r} (PKG_NAME) cannot be imported; it must name the "
        "Python package installed in the image"
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
    if env.proxy_socket is not None:
        # NOTE: imported only here: its sockets, threads and logging cost every run that
        # has no proxy socket (the process runtime) about 5 ms.
        from .proxy_bridge import ProxyBridge

        # a network-less container reaches the proxy through it
        ProxyBridge(env.port or 0, str(env.proxy_socket))
    package = argv[0] if argv else env.pkg_name
    if not package:
        raise ConfigurationError("PKG_NAME is not set: the image must name its algorithm "
                                 "package (ENV PKG_NAME=...)")
    task_input = _read_input(env.input_file)
    token = _read_token(env.token_file)
    metadata = metadata_from_token(token, temporary_folder=env.temporary_folder)
    context = AlgorithmContext(databases=env.databases(), metadata=metadata,
                               client_factory=_client_factory(env, token, metadata))
    module = _import_algorithm(package)
    print(f"v6lib: running {package}.{task_input.method}", file=sys.stderr, flush=True)
    result = dispatch(module, task_input, context)
    payload = encode_result(result, f"{package}.{task_input.method}")
    write_atomic(env.output_file, payload)
    print(f"v6lib: wrote {len(payload)} bytes of result", file=sys.stderr, flush=True)


def _report(exc: BaseException) -> int:
    sys.stderr.write(failure_log(exc))
    sys.stderr.flush()
    return exit_code(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one algorithm call as described by the container environment; return the exit
    code (0 on success). ``argv[0]``, when given, overrides PKG_NAME."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        _run(args)
    except (Exception, SystemExit) as exc:
        # NOTE: SystemExit too: an algorithm calling exit() must still leave a log that
        # says the run wrote no result, and a non-zero code.
        return _report(exc)
    return 0


def wrap_algorithm(pkg_name: str | None = None) -> NoReturn:
    """Entrypoint for an image's CMD: ``python -c "from v6lib.wrappers import
    wrap_algorithm; wrap_algorithm()"``; exits the process with :func:`main`'s code."""
    raise SystemExit(main([pkg_name] if pkg_name else []))


docker_wrapper = wrap_algorithm
"""The vantage6 name of :func:`wrap_algorithm` (``docker_wrapper('${PKG_NAME}')``)."""
