"""``v6 test feature-test``: check a running federation end to end with the demo algorithm.

What is checked, each as one line of the report: the server answers and says its
version; the collaboration and its organizations are visible to the user; every chosen
organization's node runs ``partial_average`` on its ``default`` database (so the node is
online, its policy allows the image, its data has the column); and ``central_average``,
started at one organization, fans out to all of them through the node proxy and returns
exactly the mean that the partial sums and counts give. Nothing here needs more than a
logged-in client, so it works against any v6lib server whose nodes can run the image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from v6lib.errors import NotFoundError, V6Error

__all__ = ["Check", "FeatureTest", "FeatureTestOptions"]

TOLERANCE = 1e-9


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.detail}"


@dataclass(frozen=True)
class FeatureTestOptions:
    """Which collaboration, organizations, image and column to test with."""

    collaboration: int | None = None
    organizations: Sequence[int] = ()
    online_only: bool = False
    image: str = "v6-average:latest"
    column: str = "age"
    database: str = "default"
    timeout: float = 120.0


@dataclass
class FeatureTest:
    """Run the checks with ``client`` (logged in); ``echo`` gets each line as it is known."""

    client: Any
    options: FeatureTestOptions = field(default_factory=FeatureTestOptions)
    echo: Callable[[str], None] = print
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def _record(self, name: str, ok: bool, detail: str) -> bool:
        check = Check(name, ok, detail)
        self.checks.append(check)
        self.echo(check.line())
        return ok

    def run(self) -> bool:
        """All checks, stopping at the first one the later ones depend on."""
        try:
            version = self.client.transport.get("/version")
            self._record("server", True, f"v6lib {version.get('version')} at "
                                         f"{self.client.base_url}")
            collaboration = self._collaboration()
            organizations = self._organizations(collaboration)
            if not organizations:
                return self._record("organizations", False, "no organization to test")
            partials = self._partials(collaboration, organizations)
            if partials is not None:
                self._central(collaboration, organizations, partials)
        except V6Error as exc:
            self._record("federation", False, exc.message.splitlines()[0])
        return self.ok

    def _collaboration(self) -> dict[str, Any]:
        wanted = self.options.collaboration
        if wanted is not None:
            found = self.client.collaboration.get(wanted)
        else:
            visible = self.client.collaboration.list(all_pages=True)
            if len(visible) != 1:
                names = ", ".join(f"{c['id']} ({c['name']})" for c in visible) or "none"
                raise NotFoundError(f"choose a collaboration with --collaboration: the user "
                                    f"sees {names}")
            found = visible[0]
        kind = "encrypted" if found.get("encrypted") else "not encrypted"
        self._record("collaboration", True, f"{found['id']} '{found['name']}' ({kind})")
        return dict(found)

    def _organizations(self, collaboration: dict[str, Any]) -> list[int]:
        ids = [int(i) for i in self.options.organizations] or sorted(
            int(i) for i in collaboration.get("organization_ids", []))
        if self.options.online_only:
            nodes = self.client.node.list(collaboration=collaboration["id"], all_pages=True)
            online = {int(n["organization_id"]) for n in nodes if n.get("status") == "online"}
            skipped = [i for i in ids if i not in online]
            ids = [i for i in ids if i in online]
            if skipped:
                self.echo(f"skip  organizations without an online node: {skipped}")
        self._record("organizations", bool(ids), ", ".join(map(str, ids)) or "none")
        return ids

    def _partials(self, collaboration: dict[str, Any], organizations: list[int]
                  ) -> dict[int, dict[str, Any]] | None:
        column, image = self.options.column, self.options.image
        task = self.client.task.create(
            collaboration=int(collaboration["id"]), organizations=organizations,
            name="feature test: partial_average", image=image,
            description=f"v6 test feature-test: sum and count of {column!r}",
            input_={"method": "partial_average", "kwargs": {"column": column}},
            database=self.options.database)
        outcomes = self.client.wait_for_results(int(task["id"]), timeout=self.options.timeout,
                                                raise_on_failure=False)
        partials = {}
        for outcome in outcomes:
            ok = outcome.ok and int(outcome.result.get("count", 0)) > 0
            detail = (f"partial_average n={outcome.result['count']}" if outcome.ok
                      else f"{outcome.status.value}: {outcome.cause}")
            self._record(f"node of organization {outcome.organization_id}", ok, detail)
            if ok:
                partials[outcome.organization_id] = outcome.result
        return partials if len(partials) == len(organizations) else None

    def _central(self, collaboration: dict[str, Any], organizations: list[int],
                 partials: dict[int, dict[str, Any]]) -> None:
        column = self.options.column
        task = self.client.task.create(
            collaboration=int(collaboration["id"]), organizations=organizations[:1],
            name="feature test: central_average", image=self.options.image,
            description=f"v6 test feature-test: federated mean of {column!r}",
            input_={"method": "central_average",
                    "kwargs": {"column": column, "organizations": organizations}},
            database=self.options.database)
        results = self.client.wait_for_results(int(task["id"]), timeout=self.options.timeout)
        expected = (sum(float(p["sum"]) for p in partials.values())
                    / sum(int(p["count"]) for p in partials.values()))
        got = float(results[0]["average"])
        self._record("subtasks", abs(got - expected) <= TOLERANCE,
                     f"central_average {got!r} from {len(organizations)} organizations, "
                     f"partials give {expected!r}")
