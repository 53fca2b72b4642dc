"""The event-loop front of ``v6 server start``: held long-polls cost no thread.

Every request runs through the WSGI app (``create_app``) in a bounded thread pool, as
before; the synchronous service layer stays where it is. A long-poll with nothing to
tell yet is answered by its resource at once with its ``Park`` armed (see
``events.parking``); this front then keeps that reply and holds the request on the event
loop instead of a thread, and runs the resource again when an event concerning the
caller arrives (``WaiterRegistry``), when the client goes away (nothing is sent), or
answers with the kept reply at the deadline or when the server stops.

Entry point: ``gunicorn v6lib.server.asgi:app`` with the ``LoopWorker`` worker class
and ``V6_SERVER_CONFIG`` set (``v6 server start`` does so).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from a2wsgi import WSGIMiddleware

from v6lib.server.events.parking import SCOPE_KEY, Park
from v6lib.server.events.waiters import WaiterRegistry

__all__ = ["SPREAD", "LongPollFront", "load_app"]  # and the lazily built ``app``

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class _Reply:
    """Sends a reply through, unless its request was parked: then keeps it."""

    def __init__(self, park: Park, send: Send | None) -> None:
        self.park = park
        self.send = send
        self.kept: list[Message] = []
        self._keeping = send is None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self.park.armed:
            self._keeping = True
        if self._keeping or self.send is None:
            self.kept.append(message)
        else:
            await self.send(message)


#: A parked poll with nothing to tell is answered up to this share of its timeout early,
#: at random: nodes that all asked at once (a restart) would otherwise all time out and
#: ask again at once, every timeout, as a burst that delays every reply queued behind it;
#: spread out, the burst thins with every round.
SPREAD = 0.1

#: Requests that may wait (``GET /event``, ``GET /task/{id}/wait``), under any api_path.
_WAITS = re.compile(r".*/(event|task/[0-9]+/wait)/?")


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class LongPollFront:
    """ASGI app around the WSGI app ``wsgi_app`` (a ``V6App``).

    Args:
        threads: size of the pool that runs WSGI requests (the synchronous work).
            Requests that may wait run in a second pool of half that size: a thousand
            nodes asking again at once (after a restart, or their polls' timeouts) then
            queue behind each other, not in front of ``/health`` or a task creation.
            A parked poll woken by an event runs again in a third pool of that size,
            so a node told of its task does not queue behind such a burst either (an
            event wakes only the polls it concerns, so that pool's queue stays short).
    """

    def __init__(self, wsgi_app: Any, *, threads: int) -> None:
        self.wsgi_app = wsgi_app
        self.v6_state = wsgi_app.v6_state  # the worker stops its hub on shutdown
        self.inner = WSGIMiddleware(wsgi_app, workers=threads)
        self.waits = WSGIMiddleware(wsgi_app, workers=max(1, threads // 2))
        self.wakes = WSGIMiddleware(wsgi_app, workers=max(1, threads // 2))
        self.registry: WaiterRegistry | None = None

    def _registry(self) -> WaiterRegistry:
        if self.registry is None:
            self.registry = WaiterRegistry(asyncio.get_running_loop())
            self.v6_state.hub.add_listener(self.registry.on_events)
        return self.registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self.inner(scope, receive, send)  # type: ignore[arg-type]
            return
        if scope["method"] != "GET" or not _WAITS.fullmatch(scope["path"]):
            await self.inner(scope, receive, send)  # type: ignore[arg-type]
            return
        registry = self._registry()
        park = Park()
        first = _Reply(park, send)
        await self.waits({**scope, SCOPE_KEY: park}, receive, first)  # type: ignore[arg-type]
        if park.armed:
            try:
                await self._hold(scope, receive, send, park, first.kept, registry)
            finally:
                park.release()

    async def _hold(self, scope: Scope, receive: Receive, send: Send, park: Park,
                    reply: list[Message], registry: WaiterRegistry) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + park.timeout * (1 - SPREAD * random.random())
        gone = asyncio.ensure_future(_until_disconnect(receive))
        try:
            while park.armed and not registry.closed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                woken = registry.park(park.keys, self.v6_state.hub.records_after(park.cursor))
                try:
                    await asyncio.wait((woken, gone), timeout=remaining,
                                       return_when=asyncio.FIRST_COMPLETED)
                finally:
                    registry.unpark(park.keys, woken)
                if gone.done():
                    return  # nobody to answer
                if not woken.done() or registry.closed:
                    break
                park = park.again()
                rerun = _Reply(park, None)
                await self.wakes({**scope, SCOPE_KEY: park}, _no_body, rerun)  # type: ignore[arg-type]
                reply = rerun.kept
        finally:
            gone.cancel()
            park.release()
        for message in reply:
            await send(message)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._registry()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.v6_state.hub.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def load_app() -> LongPollFront:
    """The front around the app built from ``V6_SERVER_CONFIG`` (see ``wsgi.load_app``);
    its pool has ``V6_SERVER_THREADS`` threads (what ``v6 server start`` sets), else the
    file's ``threads``, as for bare gunicorn."""
    from v6lib.server.wsgi import load_app as load_wsgi_app
    from v6lib.server.wsgi import load_config

    config = load_config()
    threads = int(os.environ.get("V6_SERVER_THREADS", config.threads))
    return LongPollFront(load_wsgi_app(event_loop=True, config=config), threads=threads)


def __getattr__(name: str) -> Any:
    # NOTE: built on first access, so importing this module never touches a database.
    if name == "app":
        value = load_app()
        globals()["app"] = value
        return value
    raise AttributeError(name)
