"""What one node's ``GET /event`` costs the server, per kind of poll: SQL statements,
connections, commits and CPU, in process (falcon's test client, no HTTP), on SQLite.

Kinds: a first poll answered at once (``timeout=0``, its node's sighting due, polled
from ``--threads`` threads at once, as in a burst); a long-poll the event-loop front
parks (nothing to tell); and the re-run of a parked poll an event woke. Statement and
connection counts are exact, whatever the machine's load; CPU is ``process_time`` of
this process and is noisy on a busy machine.

Usage::

    python benchmarks/poll_cost.py [--nodes 500] [--threads 8]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from falcon import testing
from scale import Server, seed
from sqlalchemy import event

from v6lib.config import load_server_config
from v6lib.server.app import create_app
from v6lib.server.events.parking import SCOPE_KEY, Park


def _polls(app: Any, tokens: list[str], query: str, park: Callable[[], Park] | None,
           threads: int) -> None:
    def poll(chunk: list[str]) -> None:
        client = testing.TestClient(app)
        for token in chunk:
            extras = {"asgi.scope": {SCOPE_KEY: park()}} if park else None
            answer = client.simulate_get("/api/event", query_string=query, extras=extras,
                                         headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text

    workers = [threading.Thread(target=poll, args=(tokens[i::threads],))
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="v6pollcost-"))
    url = f"sqlite:///{work / 'server.sqlite'}"
    Server(url, work, "event-loop")  # writes the configuration seeding reads
    tokens = seed(url, work, args.nodes, 10)["node_tokens"]
    app = create_app(load_server_config(work / "cfg" / "v6lib" / "server" / "bench.yaml"),
                     announce=lambda *_: None, event_loop=True)
    app.v6_state.hub.start()
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def count(name: str) -> Callable[..., None]:
        def listener(*_: Any) -> None:
            with lock:
                counts[name] += 1
        return listener

    engine = app.v6_state.engine
    event.listen(engine, "before_cursor_execute", count("statements"))
    event.listen(engine, "checkout", count("connections"))
    event.listen(engine, "commit", count("commits"))
    latest = app.v6_state.hub.latest
    kinds: list[tuple[str, str, Callable[[], Park] | None, int]] = [
        ("first poll, timeout=0, sighting due", "timeout=0&since=0", None, args.threads),
        ("long-poll parked (nothing to tell)", f"timeout=30&since={latest}", Park, 1),
        ("parked poll re-run when woken", f"timeout=30&since={latest}",
         lambda: Park(resume=latest), 1),
    ]
    print(f"{args.nodes} nodes; per poll:")
    for label, query, park, threads in kinds:
        counts.clear()
        started = time.process_time()
        _polls(app, tokens, query, park, threads)
        cpu = (time.process_time() - started) / args.nodes * 1000
        print(f"  {label:38s} " + ", ".join(
            f"{name} {counts[name] / args.nodes:.2f}"
            for name in ("statements", "connections", "commits")) + f", CPU {cpu:.2f} ms")
    app.v6_state.hub.stop()
    engine.dispose()


if __name__ == "__main__":
    main()
