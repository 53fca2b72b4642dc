"""Reading a PostgreSQL table through a run's relay vs from the host, in one run.

Set-up: a fresh database on the ``V6_TEST_POSTGRES_URL`` server with a ``people`` table of
``--rows`` rows (default 1,000,000; two integer columns), and the ``v6-netdb:test`` image
(``tests/network_services.build_images``: the base image, SQLAlchemy, psycopg and the
``v6_netdb`` test algorithm). The same function, ``v6_netdb.fetch_seconds`` (psycopg:
connect, ``SELECT id, age FROM people``, fetch every row), runs

* on the host, connecting to the server directly, and
* inside a network-less algorithm container started by ``DockerRuntime``, connecting to
  the run's relay (the wrapper's loopback listener -> the run's Unix socket -> the node's
  relay thread -> the server), with the password in the run's pgpass file.

Each side fetches ``--repeat`` times; the minimum and median are printed with their
ratio. Target: relayed median <= 1.3 x host median. Prints a table; asserts nothing.

Usage::

    source .ci/postgres.env; export V6_TEST_POSTGRES_URL
    python benchmarks/network_db.py [--rows 1000000] [--repeat 5]

``V6_TEST_BASE_IMAGE`` names another base image (default ``v6lib-base:latest``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "node" / "algorithms")]

SQL = "SELECT id, age FROM people"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import docker
    from sqlalchemy.engine import make_url
    from v6_netdb import fetch_seconds

    from tests.docker_support import BASE_IMAGE, PYTHON_IMAGE, fake_proxy_socket
    from tests.network_services import build_images, people_database
    from v6lib.node.run_files import prepare_run_files, run_paths
    from v6lib.node.runtime.base import JobDatabase, JobSpec
    from v6lib.node.runtime.docker import DockerRuntime
    from v6lib.serialization.codec import loads

    client = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp, people_database(args.rows) as url:
        base = Path(tmp)
        _, image = build_images(client, base / "images", BASE_IMAGE)
        libpq_url = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        host = fetch_seconds(libpq_url, SQL, args.repeat)

        runtime = DockerRuntime("bench-netdb", client=client, check_image=PYTHON_IMAGE,
                                proxy_socket_dir=base / "proxy", relay_dir=base / "relays")
        with fake_proxy_socket(runtime.proxy_socket()):
            paths = run_paths(base / "runs", 1, 1)
            prepare_run_files(paths, json.dumps({
                "method": "fetch_relayed",
                "kwargs": {"label": "people", "sql": SQL, "repeat": args.repeat}}).encode(),
                "token")
            spec = JobSpec(node_name="bench-netdb", run_id=1, task_id=1, job_id=1,
                           image=image, input_file=paths.input_file,
                           output_file=paths.output_file, token_file=paths.token_file,
                           temporary_folder=paths.temporary_folder,
                           databases=[JobDatabase("people", url, "sql")], proxy_port=0)
            handle = runtime.start(spec)
            try:
                info = runtime.wait(handle, timeout=600)
                if info is None or info.exit_code != 0:
                    raise SystemExit(f"the container run failed: {info and info.logs}")
                relayed = loads(paths.output_file.read_bytes())["seconds"]
            finally:
                runtime.remove(handle)
        runtime.close()

    print(f"{args.rows:,} rows (2 integer columns), {args.repeat} fetches each, psycopg")
    print(f"{'side':<40} {'min s':>8} {'median s':>9}")
    for name, times in (("host, direct", host), ("container, through the relay", relayed)):
        print(f"{name:<40} {min(times):8.3f} {statistics.median(times):9.3f}")
    ratio = statistics.median(relayed) / statistics.median(host)
    print(f"relayed / host (median): {ratio:.2f}x  (target <= 1.30x)")


if __name__ == "__main__":
    main()
