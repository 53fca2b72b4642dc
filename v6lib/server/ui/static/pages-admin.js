// Administration: organizations, users, roles and rules, collaborations and members,
// nodes. Every list shows what GET allows; every button appears only where the
// permission engine (permissions.js) says yes, and the server checks each request anyway.

import { h, replace, field, table, badge, when, message, busy, setFieldError, checkbox }
  from "./dom.js";
import { app } from "./app.js";
import { can, canForOwnOrganization, mayAtAll } from "./permissions.js";

const TABS = [
  ["organizations", "Organizations", "organization", organizationsTab],
  ["users", "Users", "user", usersTab],
  ["roles", "Roles", "role", rolesTab],
  ["collaborations", "Collaborations", "collaboration", collaborationsTab],
  ["nodes", "Nodes", "node", nodesTab],
];

export async function adminPage(view, { params }) {
  const visible = TABS.filter(([, , resource]) => mayAtAll(app.me, "view", resource));
  if (!visible.length) {
    replace(view, h("h1", {}, "Administration"), message("notice", "You may not view any of this."));
    return;
  }
  const current = visible.find(([slug]) => slug === params[0]) || visible[0];
  const body = h("div");
  replace(view, h("h1", {}, `Administration: ${current[1]}`),
    h("nav", { class: "tabs", "aria-label": "Administration" }, visible.map(([slug, title]) =>
      h("a", { href: `#/admin/${slug}`, "aria-current": slug === current[0] ? "page" : null }, title))),
    body);
  await current[3](body);
}

function rerender() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

function creationForm(title, fields, submitLabel, action) {
  const result = h("div", { class: "form-result" });
  const submit = h("button", { type: "submit" }, submitLabel);
  const form = h("form", { class: "card", novalidate: true, "aria-label": title },
    h("h2", {}, title), fields, result, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, result, () => action(result));
  });
  return form;
}

function required(input, text) {
  const missing = !input.value.trim();
  setFieldError(input, missing ? text : "");
  if (missing) input.focus();
  return !missing;
}

function orgSelect(name, organizations, selectedId) {
  return h("select", { name }, organizations.map((o) =>
    h("option", { value: o.id, selected: o.id === selectedId }, o.name)));
}

function rowButton(label, action, kind = "secondary") {
  const button = h("button", { type: "button", class: kind }, label);
  const slot = h("span", { class: "row-result" });
  button.addEventListener("click", () => busy(button, slot, () => action(slot)));
  return h("span", {}, button, slot);
}

function shownOnce(what, secret) {
  return h("div", { class: "success", role: "status" },
    h("p", {}, `${what} It is shown only this once: copy it now.`),
    h("p", { class: "secret", "data-testid": "secret" }, secret));
}

// ------------------------------------------------------------------ organizations

async function organizationsTab(body) {
  const organizations = await app.loadOrganizations();
  replace(body,
    table([
      { title: "Id", key: "id" },
      { title: "Name", key: "name" },
      { title: "Domain", render: (o) => o.domain || "—" },
      { title: "Country", render: (o) => o.country || "—" },
      { title: "Public key", render: (o) => (o.public_key ? "registered" : "none") },
    ], organizations),
    can(app.me, "create", "organization") ? organizationForm() : null);
}

function organizationForm() {
  const name = h("input", { name: "name", required: true });
  const domain = h("input", { name: "domain" });
  const country = h("input", { name: "country" });
  return creationForm("New organization",
    [field("Name", name), field("Domain", domain), field("Country", country)],
    "Create organization", async () => {
      if (!required(name, "Give the organization a name.")) return;
      await app.api.post("/organization", { name: name.value.trim(),
        domain: domain.value.trim() || undefined, country: country.value.trim() || undefined });
      app.flash("success", `Organization ${name.value.trim()} created.`);
      rerender();
    });
}

// ------------------------------------------------------------------ users

function randomPassword() {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(20));
  return `${[...bytes].map((b) => alphabet[b % alphabet.length]).join("")}-9a`;
}

async function usersTab(body) {
  const [users, roles, organizations] = await Promise.all([
    app.api.all("/user"), app.api.all("/role"), app.loadOrganizations()]);
  const roleName = new Map(roles.map((r) => [r.id, r.name]));
  const editable = (u) => can(app.me, "edit", "user", { organizationIds: [u.organization_id], ownerId: u.id });
  const deletable = (u) => u.id !== app.user.id
    && can(app.me, "delete", "user", { organizationIds: [u.organization_id], ownerId: u.id });
  replace(body,
    table([
      { title: "Username", key: "username" },
      { title: "E-mail", render: (u) => u.email || "—" },
      { title: "Organization", render: (u) => app.orgName(u.organization_id) },
      { title: "Roles", render: (u) => u.role_ids.map((id) => roleName.get(id) || id).join(", ") || "—" },
      { title: "Actions", render: (u) => h("div", { class: "actions" },
        editable(u) && u.id !== app.user.id ? roleEditor(u, roles) : null,
        editable(u) ? rowButton("Reset two-factor", async (slot) => {
          if (!window.confirm(`Remove the second factor of ${u.username}?`)) return;
          const answer = await app.api.post(`/user/${u.id}/mfa/reset`);
          replace(slot, message("success", answer.msg));
        }) : null,
        deletable(u) ? rowButton("Delete", async () => {
          if (!window.confirm(`Delete user ${u.username}?`)) return;
          await app.api.delete(`/user/${u.id}`);
          app.flash("success", `User ${u.username} deleted.`);
          rerender();
        }, "danger") : null) },
    ], users),
    mayAtAll(app.me, "create", "user") ? userForm(roles, organizations) : null);
}

function roleEditor(user, roles) {
  const details = h("details", {}, h("summary", {}, "Roles…"));
  const choices = roles.filter((r) => r.organization_id === null || r.organization_id === user.organization_id)
    .map((r) => checkbox(r.name, { value: r.id, checked: user.role_ids.includes(r.id) }));
  const save = rowButton("Save roles", async () => {
    const ids = [...details.querySelectorAll("input:checked")].map((b) => Number(b.value));
    await app.api.patch(`/user/${user.id}`, { role_ids: ids });
    app.flash("success", `Roles of ${user.username} saved.`);
    rerender();
  }, "");
  details.append(h("fieldset", {}, h("legend", {}, `Roles of ${user.username}`), choices), save);
  return details;
}

function userForm(roles, organizations) {
  const allowedOrgs = organizations.filter((o) =>
    can(app.me, "create", "user", { organizationIds: [o.id] }));
  const username = h("input", { name: "username", autocomplete: "off", required: true });
  const email = h("input", { name: "email", type: "email", autocomplete: "off" });
  const firstname = h("input", { name: "firstname" });
  const lastname = h("input", { name: "lastname" });
  const organization = orgSelect("organization", allowedOrgs, app.me.organization_id);
  const password = h("input", { name: "password", type: "text", autocomplete: "new-password",
    value: randomPassword() });
  const invite = checkbox("Also mail a reset token, so the person chooses their own password "
    + "(needs mail on the server and an e-mail address)", { name: "invite" });
  const roleBox = h("fieldset", {}, h("legend", {}, "Roles"));
  const drawRoles = () => {
    const org = Number(organization.value);
    replace(roleBox, h("legend", {}, "Roles"), roles
      .filter((r) => r.organization_id === null || r.organization_id === org)
      .map((r) => checkbox(r.name, { name: "role", value: r.id })));
  };
  organization.addEventListener("change", drawRoles);
  drawRoles();
  return creationForm("New user", [
    field("Username", username), field("E-mail", email),
    field("First name", firstname), field("Last name", lastname),
    field("Organization", organization), roleBox,
    field("Initial password", password, "Generated for you; hand it over safely or mail a reset token."),
    invite,
  ], "Create user", async (result) => {
    if (!required(username, "Choose a username.")) return;
    const roleIds = [...roleBox.querySelectorAll("input:checked")].map((b) => Number(b.value));
    const user = await app.api.post("/user", {
      username: username.value.trim(), password: password.value,
      email: email.value.trim() || undefined, firstname: firstname.value.trim() || undefined,
      lastname: lastname.value.trim() || undefined, organization_id: Number(organization.value),
      role_ids: roleIds });
    let note = `User ${user.username} created.`;
    if (invite.querySelector("input").checked) {
      const answer = await app.api.anonymous("/recover/lost", { username: user.username });
      note += ` ${answer.msg}`;
    }
    app.flash("success", note);
    replace(result, message("success", note));
    rerender();
  });
}

// ------------------------------------------------------------------ roles and rules

async function rolesTab(body) {
  const [roles, rules] = await Promise.all([app.api.all("/role"), app.api.all("/rule"),
    app.loadOrganizations()]);
  const ruleText = new Map(rules.map((r) => [r.id, `${r.operation} ${r.name} (${r.scope})`]));
  replace(body,
    table([
      { title: "Role", key: "name" },
      { title: "Organization", render: (r) => (r.organization_id ? app.orgName(r.organization_id) : "default, every organization") },
      { title: "Description", render: (r) => r.description || "—" },
      { title: "Rules", render: (r) => h("details", {}, h("summary", {}, `${r.rule_ids.length} rule(s)`),
        h("ul", {}, r.rule_ids.map((id) => h("li", {}, ruleText.get(id) || id)))) },
      { title: "Actions", render: (r) => (r.organization_id
        && can(app.me, "delete", "role", { organizationIds: [r.organization_id] })
        ? rowButton("Delete", async () => {
          if (!window.confirm(`Delete role ${r.name}?`)) return;
          await app.api.delete(`/role/${r.id}`);
          rerender();
        }, "danger") : null) },
    ], roles),
    mayAtAll(app.me, "create", "role") ? roleForm(rules) : null);
}

function roleForm(rules) {
  const mine = new Set(app.me.rules.map((r) => `${r.name}/${r.scope}/${r.operation}`));
  const grantable = rules.filter((r) => mine.has(`${r.name}/${r.scope}/${r.operation}`));
  const name = h("input", { name: "name", required: true });
  const description = h("input", { name: "description" });
  const organizations = [...app.names.entries()].map(([id, n]) => ({ id, name: n }))
    .filter((o) => can(app.me, "create", "role", { organizationIds: [o.id] }));
  const organization = orgSelect("organization", organizations, app.me.organization_id);
  const byResource = new Map();
  for (const rule of grantable) {
    if (!byResource.has(rule.name)) byResource.set(rule.name, []);
    byResource.get(rule.name).push(rule);
  }
  const boxes = [...byResource.entries()].map(([resource, list]) =>
    h("fieldset", {}, h("legend", {}, resource), list.map((r) =>
      checkbox(`${r.operation} (${r.scope})`, { name: "rule", value: r.id }))));
  return creationForm("New role", [field("Name", name), field("Description", description),
    field("Organization", organization),
    h("p", { class: "hint" }, "You can grant only rules you hold yourself."), boxes],
  "Create role", async () => {
    if (!required(name, "Give the role a name.")) return;
    const ids = boxes.flatMap((b) => [...b.querySelectorAll("input:checked")]).map((b) => Number(b.value));
    await app.api.post("/role", { name: name.value.trim(), description: description.value.trim() || undefined,
      organization_id: Number(organization.value), rule_ids: ids });
    app.flash("success", `Role ${name.value.trim()} created.`);
    rerender();
  });
}

// ------------------------------------------------------------------ collaborations

async function collaborationsTab(body) {
  const [collaborations, organizations] = await Promise.all([
    app.api.all("/collaboration"), app.loadOrganizations()]);
  replace(body,
    collaborations.length ? collaborations.map((c) => collaborationCard(c, organizations))
      : h("p", { class: "muted" }, "No collaborations."),
    can(app.me, "create", "collaboration") ? collaborationForm(organizations) : null);
}

function collaborationCard(collaboration, organizations) {
  const editable = can(app.me, "edit", "collaboration", { collaborationId: collaboration.id });
  const outside = organizations.filter((o) => !collaboration.organization_ids.includes(o.id));
  const add = orgSelect("organization", outside);
  add.setAttribute("aria-label", `Organization to add to ${collaboration.name}`);
  return h("section", { class: "card", "aria-labelledby": `c-${collaboration.id}` },
    h("h2", { id: `c-${collaboration.id}` }, collaboration.name, " ",
      collaboration.encrypted ? h("span", { class: "badge" }, "encrypted") : null),
    table([
      { title: "Member", render: (id) => app.orgName(id) },
      { title: "Actions", render: (id) => (editable ? rowButton("Remove", async () => {
        if (!window.confirm(`Remove ${app.orgName(id)} (and its node) from ${collaboration.name}?`)) return;
        await app.api.request("DELETE", `/collaboration/${collaboration.id}/organization`, { json: { id } });
        rerender();
      }, "danger") : null) },
    ], collaboration.organization_ids),
    editable && outside.length ? h("div", { class: "actions" }, add, rowButton("Add organization", async (slot) => {
      const answer = await app.api.post(`/collaboration/${collaboration.id}/organization`, { id: Number(add.value) });
      replace(slot, message("success", answer.msg || "Done."));
      rerender();
    }, "")) : null);
}

function collaborationForm(organizations) {
  const name = h("input", { name: "name", required: true });
  const encrypted = checkbox("Encrypted (inputs and results sealed end to end)", { name: "encrypted" });
  const members = h("fieldset", {}, h("legend", {}, "Members"),
    organizations.map((o) => checkbox(o.name, { name: "member", value: o.id })));
  return creationForm("New collaboration", [field("Name", name), encrypted, members],
    "Create collaboration", async () => {
      if (!required(name, "Give the collaboration a name.")) return;
      const ids = [...members.querySelectorAll("input:checked")].map((b) => Number(b.value));
      await app.api.post("/collaboration", { name: name.value.trim(),
        encrypted: encrypted.querySelector("input").checked, organization_ids: ids });
      app.flash("success", `Collaboration ${name.value.trim()} created.`);
      rerender();
    });
}

// ------------------------------------------------------------------ nodes

// A new API key survives the list being redrawn: shown once, above the list.
let pendingKey = null;

async function nodesTab(body) {
  const [nodes, collaborations] = await Promise.all([
    app.api.all("/node"), app.api.all("/collaboration"), app.loadOrganizations()]);
  const collabName = new Map(collaborations.map((c) => [c.id, c.name]));
  const keySlot = h("div");
  if (pendingKey) replace(keySlot, shownOnce(...pendingKey));
  pendingKey = null;
  replace(body, keySlot,
    table([
      { title: "Node", key: "name" },
      { title: "Organization", render: (n) => app.orgName(n.organization_id) },
      { title: "Collaboration", render: (n) => collabName.get(n.collaboration_id) || n.collaboration_id },
      { title: "Status", render: (n) => badge(n.status) },
      { title: "Last seen", render: (n) => when(n.last_seen_at) },
      { title: "Actions", render: (n) => h("div", { class: "actions" },
        can(app.me, "edit", "node", { organizationIds: [n.organization_id], collaborationId: n.collaboration_id })
          && canForOwnOrganization(app.me, "edit", "node", n.organization_id)
          ? rowButton("Reset API key", async () => {
            if (!window.confirm(`Give ${n.name} a new API key? The old one stops working.`)) return;
            const answer = await app.api.post(`/node/${n.id}/api_key`);
            pendingKey = [`New API key of ${n.name}.`, answer.api_key];
            rerender();
          }) : null,
        can(app.me, "delete", "node", { organizationIds: [n.organization_id], collaborationId: n.collaboration_id })
          ? rowButton("Delete", async () => {
            if (!window.confirm(`Delete node ${n.name}?`)) return;
            await app.api.delete(`/node/${n.id}`);
            rerender();
          }, "danger") : null) },
    ], nodes),
    mayAtAll(app.me, "create", "node") ? nodeForm(collaborations) : null);
}

function nodeForm(collaborations) {
  const collaboration = h("select", { name: "collaboration" }, collaborations.map((c) =>
    h("option", { value: c.id }, c.name)));
  const organization = h("select", { name: "organization" });
  const drawOrgs = () => {
    const collab = collaborations.find((c) => c.id === Number(collaboration.value));
    const members = collab ? collab.organization_ids : [];
    replace(organization, members
      .filter((o) => canForOwnOrganization(app.me, "create", "node", o))
      .map((o) => h("option", { value: o, selected: o === app.me.organization_id }, app.orgName(o))));
  };
  collaboration.addEventListener("change", drawOrgs);
  drawOrgs();
  const name = h("input", { name: "name" });
  return creationForm("New node", [field("Collaboration", collaboration),
    field("Organization", organization), field("Name", name, "Optional; a name is made up otherwise.")],
  "Create node", async (result) => {
    if (!organization.value) {
      replace(result, message("error", "You may not create a node for any member of this collaboration."));
      return;
    }
    const node = await app.api.post("/node", { collaboration_id: Number(collaboration.value),
      organization_id: Number(organization.value), name: name.value.trim() || undefined });
    pendingKey = [`Node ${node.name} created. Give its API key to the node's operator.`, node.api_key];
    rerender();
  });
}
