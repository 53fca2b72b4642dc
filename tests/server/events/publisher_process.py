"""Run as a separate process: publish events into a database and print commit times.

Usage: python publisher_process.py URL COUNT PAUSE_SECONDS
Prints "task_id unix_time" after each commit, so the parent can measure wake-up delay.
"""

from __future__ import annotations

import sys
import time

from v6lib.server.db.engine import make_engine, make_session_factory
from v6lib.server.events import EventHub


def main(url: str, count: int, pause: float) -> None:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    hub = EventHub(engine)
    print("ready", flush=True)
    for task_id in range(1, count + 1):
        time.sleep(pause)
        with sessions() as session:
            hub.publish(session, "run_created", task_id=task_id, organization_id=1)
            session.commit()
        print(task_id, time.time(), flush=True)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
