"""An administrator in the browser: creates an organization, a user and a node, resets a
node's API key and a user's second factor; a Viewer sees no create buttons, and a request
the page would never send is refused by the server all the same."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, login, root_client, shoot, url
from v6lib.testing import LocalFederation

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _tab(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Administration").get_by_role("link", name=name).click()
    page.get_by_role("heading", name=f"Administration: {name}").wait_for()


def _form(page: Any, name: str) -> Any:
    return page.get_by_role("form", name=name)


def test_administrator_creates_organization_user_and_node(
        page: Any, federation: LocalFederation) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, federation.port, "root", PASSWORD)
    page.get_by_role("link", name="Administration").click()

    # an organization
    _tab(page, "Organizations")
    form = _form(page, "New organization")
    form.get_by_label("Name").fill("Rivendell")
    form.get_by_label("Country").fill("Middle-earth")
    form.get_by_role("button", name="Create organization").click()
    page.get_by_role("cell", name="Rivendell").wait_for()

    # a user of it, with the Researcher role
    _tab(page, "Users")
    form = _form(page, "New user")
    form.get_by_label("Username").fill("elrond")
    form.get_by_label("E-mail", exact=True).fill("elrond@rivendell.example")
    form.get_by_label("Organization", exact=True).select_option(label="Rivendell")
    form.get_by_label("Researcher").check()
    form.get_by_role("button", name="Create user").click()
    page.get_by_role("cell", name="elrond", exact=True).wait_for()
    row = page.get_by_role("row").filter(has_text="elrond@rivendell.example")
    assert "Researcher" in row.inner_text()
    row.get_by_role("button", name="Reset two-factor").click()
    row.get_by_text("two-factor authentication of user").wait_for()
    shoot(page, "admin-users")

    # a collaboration of its own (the shared one stays as the other tests expect it),
    # which the organization joins, and a node for it there
    _tab(page, "Collaborations")
    form = _form(page, "New collaboration")
    form.get_by_label("Name").fill("council")
    form.get_by_label("organization 1", exact=True).check()
    form.get_by_role("button", name="Create collaboration").click()
    page.get_by_role("heading", name="council").wait_for()
    council = page.get_by_role("region", name="council")
    council.get_by_label("Organization to add to council").select_option(label="Rivendell")
    council.get_by_role("button", name="Add organization").click()
    page.get_by_role("region", name="council").get_by_role("cell", name="Rivendell").wait_for()
    _tab(page, "Nodes")
    form = _form(page, "New node")
    form.get_by_label("Collaboration").select_option(label="council")
    form.get_by_label("Organization", exact=True).select_option(label="Rivendell")
    form.get_by_label("Name").fill("rivendell-node")
    form.get_by_role("button", name="Create node").click()
    first_key = page.get_by_test_id("secret").inner_text()
    row = page.get_by_role("row").filter(has_text="rivendell-node")
    assert "offline" in row.inner_text()
    shoot(page, "admin-nodes")
    row.get_by_role("button", name="Reset API key").click()
    page.get_by_text("New API key of rivendell-node").wait_for()
    second_key = page.get_by_test_id("secret").inner_text()
    assert first_key != second_key

    # what the page did is what the server holds
    root = root_client(federation)
    [node] = [n for n in root.node.list(all_pages=True) if n["name"] == "rivendell-node"]
    [user] = root.user.list(username="elrond")["data"]
    assert root.organization.get(node["organization_id"])["name"] == "Rivendell"
    assert user["organization_id"] == node["organization_id"]


def test_viewer_sees_no_create_buttons_and_forged_requests_fail(
        page: Any, federation: LocalFederation) -> None:
    root = root_client(federation)
    viewer_role = [r["id"] for r in root.role.list(all_pages=True) if r["name"] == "Viewer"]
    root.user.create(username="viewer", password=PASSWORD,
                     organization=federation.organization_ids[0], roles=viewer_role)
    login(page, federation.port, "viewer", PASSWORD)

    page.get_by_role("heading", name="local federation").wait_for()
    assert page.get_by_role("link", name="New task").count() == 0
    page.goto(url(federation.port, f"#/collaborations/{federation.collaboration_id}"))
    page.get_by_role("heading", name="Tasks").wait_for()
    assert page.get_by_role("link", name="New task").count() == 0
    page.goto(url(federation.port, "#/tasks/new"))
    page.get_by_text("You may not create tasks in any collaboration.").wait_for()
    for tab in ("Organizations", "Users", "Roles", "Nodes"):
        page.goto(url(federation.port, "#/admin"))
        _tab(page, tab)
        page.locator("table").first.wait_for()
        assert page.get_by_role("form").count() == 0, tab
        assert page.get_by_role("button", name="Delete").count() == 0, tab
    shoot(page, "viewer-users")

    # the page's own session, used for requests the page never offers: refused
    statuses = page.evaluate("""async (collaboration) => {
        const { app } = await import("/ui/app.js");
        const forged = [
          ["/organization", { name: "forged" }],
          ["/task", { collaboration_id: collaboration, image: "x", uid: "forged-1",
                      organizations: [{ id: app.me.organization_id, input: "e30=" }] }],
          ["/node", { collaboration_id: collaboration }],
        ];
        const out = [];
        for (const [path, body] of forged) {
          try { await app.api.post(path, body); out.push("accepted"); }
          catch (err) { out.push(err.status); }
        }
        return out;
    }""", federation.collaboration_id)
    assert statuses == [403, 403, 403]
