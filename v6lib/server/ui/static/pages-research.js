// What a researcher sees first: the collaborations and studies they can see, and one
// collaboration with its members, nodes and tasks.

import { h, replace, table, badge, when } from "./dom.js";
import { app } from "./app.js";
import { can } from "./permissions.js";

export function canCreateTask(collaboration) {
  return can(app.me, "create", "task", { collaborationId: collaboration.id });
}

function encryptedBadge(collaboration) {
  return collaboration.encrypted ? h("span", { class: "badge", title: "inputs and results are "
    + "end-to-end encrypted" }, "encrypted") : null;
}

export async function homePage(view) {
  const [collaborations, studies, nodes] = await Promise.all([
    app.api.all("/collaboration"), app.api.all("/study"), app.api.all("/node"),
    app.loadOrganizations()]);
  const cards = collaborations.map((c) => {
    const own = studies.filter((s) => s.collaboration_id === c.id);
    const online = nodes.filter((n) => n.collaboration_id === c.id && n.status === "online");
    return h("section", { class: "card", "aria-labelledby": `collab-${c.id}` },
      h("h2", { id: `collab-${c.id}` },
        h("a", { href: `#/collaborations/${c.id}` }, c.name), " ", encryptedBadge(c)),
      h("p", {}, `${c.organization_ids.length} organizations: `,
        c.organization_ids.map((o) => app.orgName(o)).join(", ")),
      h("p", { class: "muted" }, `${online.length} node(s) online`),
      own.length ? h("p", {}, "Studies: ", own.map((s) => s.name).join(", ")) : null,
      canCreateTask(c) ? h("a", { class: "button", href: `#/tasks/new?collaboration=${c.id}` },
        "New task") : null);
  });
  replace(view, h("h1", {}, "Collaborations"),
    collaborations.length ? h("div", { class: "grid" }, cards)
      : h("p", { class: "muted" }, "Your organization takes part in no collaboration yet."));
}

export async function collaborationPage(view, { params }) {
  const id = Number(params[0]);
  const [collaboration, studies, nodes, tasks] = await Promise.all([
    app.api.get(`/collaboration/${id}`),
    app.api.all("/study", { collaboration_id: id }),
    app.api.all("/node", { collaboration_id: id }),
    app.api.get("/task", { collaboration_id: id, per_page: 50 }),
    app.loadOrganizations()]);
  replace(view,
    h("h1", {}, collaboration.name, " ", encryptedBadge(collaboration)),
    canCreateTask(collaboration) ? h("div", { class: "actions" },
      h("a", { class: "button", href: `#/tasks/new?collaboration=${id}` }, "New task")) : null,
    h("h2", {}, "Organizations and their nodes"),
    table([
      { title: "Organization", render: (o) => app.orgName(o) },
      { title: "Node", render: (o) => nodeOf(nodes, o)?.name || "no node" },
      { title: "Status", render: (o) => (nodeOf(nodes, o) ? badge(nodeOf(nodes, o).status) : "—") },
      { title: "Last seen", render: (o) => when(nodeOf(nodes, o)?.last_seen_at) },
    ], collaboration.organization_ids),
    h("h2", {}, "Studies"),
    table([
      { title: "Study", key: "name" },
      { title: "Organizations", render: (s) => s.organization_ids.map((o) => app.orgName(o)).join(", ") },
    ], studies, { empty: "No studies." }),
    h("h2", {}, "Tasks"),
    taskTable(tasks.data));
}

function nodeOf(nodes, organizationId) {
  return nodes.find((n) => n.organization_id === organizationId);
}

export function taskTable(tasks) {
  return table([
    { title: "Task", render: (t) => h("a", { href: `#/tasks/${t.id}` }, `${t.id}: ${t.name || "(no name)"}`) },
    { title: "Image", key: "image" },
    { title: "Status", render: (t) => badge(t.status) },
    { title: "Created", render: (t) => when(t.created_at) },
  ], tasks, { empty: "No tasks yet." });
}
