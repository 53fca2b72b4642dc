"""An algorithm image on the demo federation: ``v6 algorithm run``.

The developer's own image, before any registry or node operator sees it: the demo's
server and three nodes (Docker runtime, their policies allowing just that image, the
demo's synthetic patient tables as ``default`` databases) take one task from the command
line, and the results come back as the researcher would get them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from v6lib.config.node import DatabaseConfig
from v6lib.demo.federation import DemoFederation, DemoOptions
from v6lib.errors import ValidationError

__all__ = ["ImageRunReport", "TaskRequest", "run_image", "select_organizations"]


@dataclass(frozen=True)
class TaskRequest:
    """The task to create: method, keyword arguments and where it runs.

    ``organizations`` is ``"first"`` (the researcher's organization: a central method),
    ``"all"`` (a partial method everywhere) or 1-based positions of the demo's sites.
    """

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    organizations: str | Sequence[int] = "first"
    #: the query of the ``default`` database, for SQL and SPARQL data files
    query: str | None = None


@dataclass(frozen=True)
class ImageRunReport:
    """The task that ran and its results, in the order of ``organization_ids``."""

    image: str
    task_id: int
    organization_ids: list[int]
    results: list[Any]
    round_trip: float
    #: where the federation runs, for ``keep`` (it is gone otherwise)
    workdir: Path | None = None
    port: int = 0
    researcher_password: str = ""
    pids: dict[str, int] = field(default_factory=dict)


def select_organizations(choice: str | Sequence[int], ids: Sequence[int]) -> list[int]:
    """The organization ids ``choice`` names (see :class:`TaskRequest`).

    Raises:
        ValidationError: an unknown word or a position outside ``1..len(ids)``.
    """
    if choice == "first":
        return [ids[0]]
    if choice == "all":
        return list(ids)
    if isinstance(choice, str):
        raise ValidationError(f"organizations must be 'first', 'all' or positions, got "
                              f"{choice!r}")
    outside = [n for n in choice if not 1 <= n <= len(ids)]
    if outside or not choice:
        raise ValidationError(f"organization positions must be 1 to {len(ids)}, got "
                              f"{list(choice)}")
    return [ids[n - 1] for n in choice]


#: database types whose rows come from a query, not from the whole file
QUERIED_TYPES = ("sql", "sparql")


def check_query(data: Sequence[Path], query: str | None) -> None:
    """SQL and SPARQL files need the task's query; other files take none.

    Checked before anything starts, with the node's own type inference (by suffix), so
    the answer is the same as the node's would be, only sooner.
    """
    kinds = {DatabaseConfig.model_validate({"uri": str(path)}).type for path in data}
    queried = sorted(kinds & set(QUERIED_TYPES))
    if queried and not (query and query.strip()):
        raise ValidationError(f"--data files of type {', '.join(queried)} need --query "
                              "(the SQL or SPARQL SELECT the algorithm's data comes from)")
    if query and not queried:
        raise ValidationError("--query is for SQL and SPARQL --data files (.sqlite, .db, "
                              ".ttl, ...); the data here are read whole")


def run_image(options: DemoOptions, request: TaskRequest) -> ImageRunReport:
    """Start the demo federation on Docker for ``options.image``, run ``request``, and
    stop it (unless ``options.keep``: then the report says where it runs).

    Raises:
        ValidationError: SQL/SPARQL data without a query, or a query for other data.
        RuntimeUnavailableError: no Docker engine, or the image is not built.
        AlgorithmError: a run failed (the message names the organization, with its log).
    """
    check_query(options.data, request.query)
    federation = DemoFederation(replace(options, runtime="docker"))

    def work() -> ImageRunReport:
        organizations, collaboration, _ = federation.start()
        targets = select_organizations(request.organizations,
                                       [int(org["id"]) for org in organizations])
        client = federation.researcher()
        started = time.monotonic()
        task = client.task.create(
            collaboration=int(collaboration["id"]), organizations=targets,
            name=f"try {request.method}", image=options.image,
            description=f"v6 algorithm run: {request.method} on {options.image}",
            input_={"method": request.method, "kwargs": request.kwargs},
            databases=[{"label": "default", "query": request.query}] if request.query
            else None)
        options.echo(f"  task       {task['id']}: {request.method} on {options.image} at "
                     f"organization(s) {targets}")
        results = client.wait_for_results(int(task["id"]), timeout=options.timeout)
        return ImageRunReport(image=options.image, task_id=int(task["id"]),
                              organization_ids=targets, results=list(results),
                              round_trip=time.monotonic() - started,
                              workdir=federation.workdir, port=federation.port,
                              researcher_password=federation.researcher_password,
                              pids=federation.pids())

    return federation.run_with(work)
