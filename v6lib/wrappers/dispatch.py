"""Which function a task calls, and calling it within the run's context.

Shared by the container entrypoint (:mod:`v6lib.wrappers.runner`) and the MockNetwork's
nodes, so that a method name, its arguments and the legacy ``RPC_``/``master`` styles
resolve the same way everywhere.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from v6lib.errors import AlgorithmError, DataError, ValidationError
from v6lib.schemas.task_call import TaskCall, parse_task_call

from .context import AlgorithmContext, use_context
from .decorators import registry

if TYPE_CHECKING:
    from v6lib.schemas.task_input import TaskInput

    #: what dispatch reads: the container's light TaskCall or the pydantic TaskInput
    #: (MockNetwork, clients); both have method, args, kwargs and master.
    AnyTaskInput = TaskCall | TaskInput

__all__ = ["CallStyle", "dispatch", "public_functions", "resolve_method"]

CallStyle = Literal["plain", "legacy_partial", "legacy_central"]
LEGACY_PREFIX = "RPC_"


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
        "@algorithm_client, @metadata or @database_connection, and undecorated functions "
        "the package defines)"
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
    call = (task_input if _is_task_input(task_input)
            else parse_task_call(task_input, "the task input"))
    function, style = resolve_method(module, call)
    _check_arguments(function, call, 0 if style == "plain" else
                     (2 if style == "legacy_central" else 1))
    with use_context(context):
        leading: list[Any] = []
        if style == "legacy_central":
            leading = [context.client(), _legacy_data(context, required=False)]
        elif style == "legacy_partial":
            leading = [_legacy_data(context, required=True)]
        return function(*leading, *call.args, **call.kwargs)


def _is_task_input(value: object) -> TypeGuard[AnyTaskInput]:
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
