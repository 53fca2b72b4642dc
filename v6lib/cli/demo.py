"""``v6 demo``: start a demo federation on this machine and run a federated average on it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from v6lib import errors

__all__ = ["demo", "write_stop_script"]

MISMATCH_EXIT = 1


def write_stop_script(report_dir: Path, pids: dict[str, int], command: str) -> Path:
    """A script that stops the kept federation (each process group) and removes it."""
    lines = ["#!/bin/sh", f"# Stops the federation started by `{command} --keep`."]
    lines += [f"kill -TERM -{pid} 2>/dev/null  # {name}" for name, pid in pids.items()]
    lines += ["sleep 3"]
    lines += [f"kill -KILL -{pid} 2>/dev/null" for pid in pids.values()]
    lines += [f"rm -rf '{report_dir}'", ""]
    path = report_dir / "stop.sh"
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o700)
    return path


@click.command()
@click.option("--runtime", type=click.Choice(["process", "docker"]), default="process",
              show_default=True,
              help="How nodes run algorithms: local processes, or Docker containers "
                   "(needs an engine and the v6-average:latest image).")
@click.option("--keep", is_flag=True,
              help="Leave the federation running afterwards and print how to use and stop it.")
@click.option("--column", default="age", show_default=True, help="Column to average.")
@click.option("--seed", type=int, default=6, show_default=True,
              help="Seed of the synthetic patient data.")
@click.option("--timeout", type=float, default=180.0, show_default=True,
              help="Seconds to wait for the task.")
@click.option("--encrypted", is_flag=True,
              help="Use an encrypted collaboration: a key pair per organization, sealed "
                   "inputs and results.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON at the end.")
def demo(runtime: str, keep: bool, column: str, seed: int, timeout: float, encrypted: bool,
         as_json: bool) -> None:
    """Run a demo federation: a server, 3 nodes with synthetic patient data, and a task.

    Everything is created in a temporary directory and removed afterwards (unless
    --keep). The federated mean is printed next to the value pandas computes on the
    pooled files; the exit code is non-zero if they differ by more than 1e-9.
    """
    from v6lib.demo import DemoFederation, DemoOptions
    from v6lib.demo.federation import IMAGE

    echo = (lambda text: click.echo(text, err=True)) if as_json else click.echo
    options = DemoOptions(runtime=runtime, keep=keep, seed=seed, column=column,
                          timeout=timeout, encrypted=encrypted, echo=echo)
    try:
        report = DemoFederation(options).run()
    except errors.V6Error as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    t = report.timings
    echo(f"\nfederated mean of {column!r}: {report.federated!r} "
         f"(n={report.count}, {len(report.organization_ids)} organizations)")
    echo(f"central check (pandas):  {report.central!r}")
    echo(f"difference: {report.difference:.3g}  ->  {'OK' if report.ok else 'MISMATCH'}")
    echo(f"timings: server start {t['server_start']:.2f} s, nodes ready "
         f"{t['nodes_ready']:.2f} s, task round-trip {t['task_round_trip']:.2f} s")
    document = report.as_dict()
    if keep:
        stop = write_stop_script(report.workdir, report.pids, "v6 demo")
        document["stop_script"] = str(stop)
        echo(f"""
The federation keeps running in {report.workdir}
  server  http://127.0.0.1:{report.port}/api   (root password: {report.root_password})
  web UI  {report.ui_url}
Open the web UI in a browser and log in as researcher with password
  {report.researcher_password}
  (New task: image {IMAGE}, method central_average, keyword arguments {{"column": "{column}"}})
Connect from Python:
  from v6lib.client import Client
  client = Client("http://127.0.0.1", {report.port}, "/api")
  client.authenticate("researcher", "{report.researcher_password}")
  client.task.get({report.task_id})
or from the shell:
  V6_USERNAME=researcher V6_PASSWORD='{report.researcher_password}' \\
    v6 task results {report.task_id} --port {report.port}
Stop it and delete everything:  sh {stop}""")
    if as_json:
        click.echo(json.dumps(document, indent=2))
    if not report.ok:
        sys.exit(MISMATCH_EXIT)
