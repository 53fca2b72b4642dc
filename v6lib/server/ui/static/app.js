// The application shell: session, navigation, routing, and an error panel for anything
// that goes wrong (a page never stays blank).

import { Api } from "./api.js";
import { h, message, replace, describe } from "./dom.js";
import { mayAtAll } from "./permissions.js";
import * as auth from "./pages-auth.js";
import * as research from "./pages-research.js";
import * as tasks from "./pages-tasks.js";
import * as admin from "./pages-admin.js";

const apiPath = document.querySelector('meta[name="v6-api-path"]').content;
const main = document.getElementById("main");
const alerts = document.getElementById("alerts");

// Shared state of the logged-in person; pages read it through ``app``.
export const app = {
  api: new Api(apiPath),
  user: null,
  me: null, // GET /permissions
  organization: null,
  names: new Map(), // organization id -> name
  controller: null,
  notice: null,
  orgName(id) { return this.names.get(id) || `organization ${id}`; },
  async loadOrganizations() {
    const organizations = await this.api.all("/organization");
    for (const o of organizations) this.names.set(o.id, o.name);
    return organizations;
  },
  go(hash) { window.location.hash = hash; },
  flash(kind, text) { this.notice = { kind, text }; },
};

const PUBLIC = [
  [/^\/login$/, auth.loginPage],
  [/^\/forgot$/, auth.forgotPage],
  [/^\/reset$/, auth.resetPage],
];

const PRIVATE = [
  [/^\/$/, research.homePage],
  [/^\/collaborations\/(\d+)$/, research.collaborationPage],
  [/^\/tasks$/, tasks.taskListPage],
  [/^\/tasks\/new$/, tasks.newTaskPage],
  [/^\/tasks\/(\d+)$/, tasks.taskPage],
  [/^\/admin\/?([a-z]*)$/, admin.adminPage],
];

function currentRoute() {
  const hash = window.location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  return { path, query: new URLSearchParams(query) };
}

export async function startSession() {
  const me = await app.api.get("/permissions");
  app.me = me;
  // NOTE: an account without view rules may not read itself or its organization; the
  // page then makes do with what the token says.
  const [user, organization] = await Promise.allSettled([
    app.api.get(`/user/${me.user_id}`),
    app.api.get(`/organization/${me.organization_id}`),
  ]);
  app.user = user.status === "fulfilled" ? user.value
    : { id: me.user_id, username: sessionStorage.getItem("v6lib.username") || `user ${me.user_id}` };
  app.organization = organization.status === "fulfilled" ? organization.value
    : { id: me.organization_id, name: `organization ${me.organization_id}` };
  app.names.set(app.organization.id, app.organization.name);
  renderChrome();
}

export function endSession(notice, { comeBack = false } = {}) {
  const here = window.location.hash;
  app.api.forget();
  sessionStorage.clear();
  if (comeBack) sessionStorage.setItem("v6lib.after-login", here);
  app.user = null;
  app.me = null;
  if (notice) app.flash("notice", notice);
  renderChrome();
  app.go("#/login");
}

function renderChrome() {
  const nav = document.getElementById("nav");
  const account = document.getElementById("account");
  if (!app.user) {
    replace(nav);
    replace(account);
    return;
  }
  const adminVisible = ["organization", "user", "role", "node", "collaboration"]
    .some((r) => mayAtAll(app.me, "view", r));
  replace(nav,
    h("a", { href: "#/" }, "Collaborations"),
    h("a", { href: "#/tasks" }, "Tasks"),
    adminVisible ? h("a", { href: "#/admin" }, "Administration") : null);
  replace(account,
    h("span", {}, `${app.user.username} · ${app.organization.name}`),
    h("button", { type: "button", onclick: () => endSession("You are logged out.") }, "Log out"));
  markCurrent();
}

function markCurrent() {
  const { path } = currentRoute();
  for (const link of document.querySelectorAll("#nav a")) {
    const target = link.getAttribute("href").slice(1);
    const current = target === "/" ? path === "/" || path.startsWith("/collaborations")
      : path.startsWith(target);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function showNotice() {
  replace(alerts);
  if (app.notice) {
    alerts.append(message(app.notice.kind, app.notice.text));
    app.notice = null;
  }
}

async function route() {
  if (app.controller) app.controller.abort();
  app.controller = new AbortController();
  const { signal } = app.controller;
  const { path, query } = currentRoute();
  showNotice();
  for (const [pattern, page] of PUBLIC) {
    const match = path.match(pattern);
    if (match) return render(page, match.slice(1), query, signal);
  }
  if (!app.user) {
    if (app.api.hasSession) {
      try {
        if (await app.api.refresh()) {
          await startSession();
          return route();
        }
      } catch (err) {
        app.flash("error", describe(err));
      }
    }
    sessionStorage.setItem("v6lib.after-login", window.location.hash || "#/");
    if (!app.notice && app.api.hasSession === false && path !== "/") {
      app.flash("notice", "Please log in first.");
    }
    app.go("#/login");
    return undefined;
  }
  markCurrent();
  for (const [pattern, page] of PRIVATE) {
    const match = path.match(pattern);
    if (match) return render(page, match.slice(1), query, signal);
  }
  return render(notFound, [], query, signal);
}

function notFound(view) {
  replace(view, h("h1", {}, "Page not found"),
    h("p", {}, "There is no such page. ", h("a", { href: "#/" }, "Go to the start page.")));
}

async function render(page, params, query, signal) {
  const view = h("div");
  replace(main, view);
  try {
    await page(view, { params, query, signal });
  } catch (err) {
    if (err.name === "AbortError") return;
    replace(view, h("h1", {}, "Something went wrong"), message("error", describe(err)),
      h("p", {}, h("a", { href: "#/" }, "Go to the start page"), " or try again."));
  }
  const heading = main.querySelector("h1");
  document.title = heading ? `${heading.textContent} · v6lib` : "v6lib";
}

app.api.onExpired = () => endSession("Your session has expired; please log in again.",
  { comeBack: true });

window.addEventListener("hashchange", () => { route(); });
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason && event.reason.name === "AbortError") return;
  alerts.append(message("error", describe(event.reason)));
});
window.addEventListener("error", (event) => {
  alerts.append(message("error", `The page hit an error: ${event.message}`));
});

route();
