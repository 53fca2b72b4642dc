"""What vantage6's ``v6`` has and v6lib deliberately does not: refused out loud.

vantage6 runs its server, node, algorithm store and user interface as Docker containers
it manages itself; v6lib runs server and node as processes of this Python installation
and has neither a store nor a user interface. A vantage6 command or option for those
exists here too, so that scripts written for vantage6 fail with a message saying what
to use instead (exit code 64) rather than with "no such command".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from v6lib.cli._configs import fail
from v6lib.errors import UnsupportedError

__all__ = ["ACCEPTED_OPTIONS", "REFUSED_COMMANDS", "REFUSED_OPTIONS", "algorithm_store",
           "refused_options"]

_CONTAINERS = ("v6lib runs the {what} as a process of this Python installation, not as a "
               "Docker container")

#: option -> (click declarations, why it is refused), by command it belongs to.
REFUSED_OPTIONS: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "server start": {
        "image": (("-i", "--image"), _CONTAINERS.format(what="server")
                  + "; install the wanted v6lib version with pip instead"),
        "mount_src": (("--mount-src",), _CONTAINERS.format(what="server")
                      + "; install your source tree with `pip install -e` instead"),
        "keep": (("--keep",), _CONTAINERS.format(what="server")
                 + "; its log stays in <data dir>/server.log (v6 server files)"),
        "with_ui": (("--with-ui",), "v6lib has no user interface; use the Python client or "
                                    "`v6 task`"),
        "ui_port": (("--ui-port",), "v6lib has no user interface"),
        "with_rabbitmq": (("--with-rabbitmq",), "server instances share events through their "
                                                "database; there is no message broker"),
        "rabbitmq_image": (("--rabbitmq-image",), "there is no message broker"),
        "with_prometheus": (("--with-prometheus",), "v6lib has no Prometheus exporter"),
        "prometheus_image": (("--prometheus-image",), "v6lib has no Prometheus exporter"),
    },
    "node start": {
        "image": (("-i", "--image"), _CONTAINERS.format(what="node")
                  + "; install the wanted v6lib version with pip instead"),
        "mount_src": (("--mount-src",), _CONTAINERS.format(what="node")
                      + "; install your source tree with `pip install -e` instead"),
        "keep": (("--keep",), _CONTAINERS.format(what="node")
                 + "; its log stays in <task dir>/node.log (v6 node files)"),
        "force_db_mount": (("--force-db-mount",), "the node reads its databases from the "
                                                  "host directly; file databases are mounted "
                                                  "into algorithm containers when they exist"),
    },
    "server import": {
        "image": (("-i", "--image"), _CONTAINERS.format(what="import")),
        "mount_src": (("--mount-src",), _CONTAINERS.format(what="import")),
        "keep": (("--keep",), _CONTAINERS.format(what="import")),
        "wait": (("--wait",), "the import runs in this process and is done when it returns"),
        "drop_all": (("--drop-all",), "v6lib never wipes a database; the import is "
                                      "idempotent by name, so run it again instead"),
    },
}
REFUSED_OPTIONS["node restart"] = REFUSED_OPTIONS["node start"]
_NO_STORE = "v6lib has no algorithm store"
_NO_UI = "v6lib has no user interface"
_OWN_INSTALL = ("the demo network runs v6lib from this Python installation, not from "
                "Docker images")
REFUSED_OPTIONS["dev create-demo-network"] = {
    "image": (("-i", "--image"), _OWN_INSTALL),
    "ui_image": (("--ui-image",), _NO_UI),
    "ui_port": (("--ui-port",), _NO_UI),
    "algorithm_store_port": (("--algorithm-store-port",), _NO_STORE),
    "extra_store_config": (("--extra-store-config",), _NO_STORE),
}
REFUSED_OPTIONS["dev start-demo-network"] = {
    "server_image": (("--server-image",), _OWN_INSTALL),
    "node_image": (("--node-image",), _OWN_INSTALL),
    "store_image": (("--store-image",), _NO_STORE),
}
REFUSED_OPTIONS["test client-script"] = {"image": (("-i", "--image"), _OWN_INSTALL)}
REFUSED_OPTIONS["test integration-test"] = {"image": (("-i", "--image"), _OWN_INSTALL)}

REFUSED_OPTIONS["node create-private-key"] = {
    "organization_name": (("-o", "--organization-name"),
                          "the key is written to encryption.private_key (default <task "
                          "dir>/private_key.pem); set that path in the configuration"),
}

#: vantage6 flags that ask for what v6lib does anyway: accepted (hidden), without effect.
ACCEPTED_OPTIONS: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    command: {"auto_remove": (("--auto-remove",), "there is no container to remove")}
    for command in ("server start", "node start", "node restart", "server import")
}
ACCEPTED_OPTIONS["node create-private-key"] = {
    "mfa": (("--mfa",), "the public key is uploaded with the node's API key, which needs no "
                        "two-factor code"),
}

#: refused options that are flags; every other refused option takes a value
_FLAGS = {"keep", "with_ui", "with_rabbitmq", "with_prometheus", "force_db_mount", "drop_all"}

#: vantage6 command paths that are refused as a whole -> why and what to use instead.
REFUSED_COMMANDS: dict[str, str] = {
    "algorithm-store": "v6lib has no algorithm store: nodes allow images by their own "
                       "policies (policies.allowed_images / allowed_algorithms), and "
                       "researchers name the image in the task",
    **{f"algorithm-store {name}": "v6lib has no algorithm store to " + doing
       for name, doing in (("attach", "follow the log of"), ("files", "show the files of"),
                           ("list", "list"), ("new", "configure"), ("remove", "remove"),
                           ("start", "start"), ("stop", "stop"))},
}


def refused_options(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``command``'s refused vantage6 options (hidden; using one fails with its reason)
    and its accepted ones (hidden, without effect)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for name, (declarations, _why) in ACCEPTED_OPTIONS.get(command, {}).items():
            fn = click.option(*declarations, name, hidden=True, is_flag=True,
                              expose_value=False)(fn)
        for name, (declarations, why) in REFUSED_OPTIONS.get(command, {}).items():
            takes_value = name not in _FLAGS

            def refuse(ctx: click.Context, param: click.Parameter, value: Any,
                       why: str = why) -> None:
                if value:
                    fail(UnsupportedError(f"v6 {command} {param.opts[-1]}: not supported: "
                                          f"{why}"))

            fn = click.option(*declarations, name, hidden=True, expose_value=False,
                              is_flag=not takes_value, callback=refuse,
                              is_eager=True)(fn)
        return fn

    return decorate


def _refusing_command(path: str) -> click.Command:
    name = path.split()[-1]

    @click.command(name, context_settings={"ignore_unknown_options": True,
                                           "allow_extra_args": True})
    def refuse() -> None:
        fail(UnsupportedError(f"v6 {path}: not supported: {REFUSED_COMMANDS[path]}"))

    refuse.help = f"Not supported: {REFUSED_COMMANDS[path]}."
    return refuse


@click.group("algorithm-store", invoke_without_command=True)
@click.pass_context
def algorithm_store(ctx: click.Context) -> None:
    """Not supported: v6lib has no algorithm store (every subcommand says what to use)."""
    if ctx.invoked_subcommand is None:
        fail(UnsupportedError(f"v6 algorithm-store: not supported: "
                              f"{REFUSED_COMMANDS['algorithm-store']}"))


for _path in REFUSED_COMMANDS:
    if _path.startswith("algorithm-store "):
        algorithm_store.add_command(_refusing_command(_path))
