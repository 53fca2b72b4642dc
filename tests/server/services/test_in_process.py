"""The services run without HTTP on in-memory SQLite (the way the mock network uses them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from v6lib.errors import ConflictError, PermissionDenied, ValidationError
from v6lib.schemas import (
    CollaborationIn,
    NodeIn,
    OrganizationIn,
    RunPatch,
    RunStatus,
    TaskIn,
)
from v6lib.server.auth.passwords import TEST_COST
from v6lib.server.auth.tokens import TokenService
from v6lib.server.bootstrap import bootstrap
from v6lib.server.db.engine import make_engine, make_session_factory
from v6lib.server.db.migrate import upgrade_database
from v6lib.server.db.models import Node, User
from v6lib.server.events import EventHub
from v6lib.server.permissions.principal import load_user_principal, node_principal
from v6lib.server.services import collaborations, nodes, organizations, runs, tasks
from v6lib.server.services.context import ServiceContext, ServiceSettings


@pytest.fixture
def ctx() -> Iterator[ServiceContext]:
    engine = make_engine("sqlite://")
    upgrade_database(engine)
    hub = EventHub(engine)
    session = make_session_factory(engine)()
    bootstrap(session, root_username="root", root_password="pw", kdf_cost=TEST_COST)
    root = session.scalars(select(User)).one()
    yield ServiceContext(session=session, tokens=TokenService("s" * 40), events=hub,
                         settings=ServiceSettings(kdf_cost=TEST_COST),
                         principal=load_user_principal(session, root))
    session.close()
    hub.stop()
    engine.dispose()


def _setup(ctx: ServiceContext) -> dict[str, Any]:
    a = organizations.create_organization(ctx, OrganizationIn(name="a"))
    b = organizations.create_organization(ctx, OrganizationIn(name="b"))
    collab = collaborations.create_collaboration(
        ctx, CollaborationIn(name="c", organization_ids=[a.id, b.id,
                                                         ctx.me.organization_id]))
    node_a, key = nodes.create_node(ctx, NodeIn(collaboration_id=collab.id,
                                                organization_id=a.id))
    return {"a": a.id, "b": b.id, "collab": collab.id, "node": node_a, "key": key}


def test_create_task_and_run_through_services(ctx: ServiceContext) -> None:
    ids = _setup(ctx)
    with pytest.raises(ValidationError, match="have no node"):
        tasks.create_task(ctx, TaskIn.model_validate({
            "collaboration_id": ids["collab"], "image": "i",
            "organizations": [{"id": ids["b"], "input": "e30="}]}))
    task = tasks.create_task(ctx, TaskIn.model_validate({
        "collaboration_id": ids["collab"], "image": "i",
        "organizations": [{"id": ids["a"], "input": "e30="}]}))
    (run,), total = runs.list_runs(ctx, task_id=task.id)
    assert total == 1 and run.status == "pending"
    with pytest.raises(PermissionDenied):
        runs.update_run(ctx, run.id, RunPatch(status=RunStatus.INITIALIZING))
    node = ctx.session.get(Node, ids["node"].id)
    assert node is not None
    as_node = ServiceContext(session=ctx.session, tokens=ctx.tokens, events=ctx.events,
                             settings=ctx.settings,
                             principal=node_principal(ctx.session, node))
    runs.update_run(as_node, run.id, RunPatch(status=RunStatus.INITIALIZING))
    with pytest.raises(ConflictError):
        runs.update_run(as_node, run.id, RunPatch(status=RunStatus.COMPLETED))
    assert nodes.authenticate_node(ctx, ids["key"]).id == node.id
    assert tasks.get_task(ctx, task.id).status == "active"
