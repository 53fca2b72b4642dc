// Tasks: the list, the form that creates one, and one task with its runs, live.

import { h, replace, field, table, badge, when, message, busy, setFieldError, checkbox }
  from "./dom.js";
import { app } from "./app.js";
import { can } from "./permissions.js";
import { encodeInput } from "./decode.js";
import { followTask } from "./live.js";
import { ENCRYPTED_REFUSAL, resultView } from "./result-view.js";
import { canCreateTask, taskTable } from "./pages-research.js";

const ACTIVE = new Set(["pending", "initializing", "active"]);

export async function taskListPage(view, { query }) {
  const page = Number(query.get("page") || 1);
  const body = await app.api.get("/task", { page, per_page: 25, parent_id: undefined });
  const last = Math.max(1, Math.ceil(body.total / 25));
  replace(view, h("h1", {}, "Tasks"),
    h("p", { class: "muted" }, `${body.total} task(s) you may see.`),
    taskTable(body.data),
    h("nav", { class: "actions", "aria-label": "Pages" },
      page > 1 ? h("a", { href: `#/tasks?page=${page - 1}` }, "Newer") : null,
      h("span", {}, `page ${page} of ${last}`),
      page < last ? h("a", { href: `#/tasks?page=${page + 1}` }, "Older") : null));
}

// ------------------------------------------------------------------ the form

function parseJson(input, kind, fallback) {
  const text = input.value.trim();
  if (!text) return { value: fallback };
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `Not valid JSON: ${err.message}` };
  }
  const isArray = Array.isArray(value);
  const isObject = value !== null && typeof value === "object" && !isArray;
  if (kind === "array" && !isArray) return { error: "Give a JSON list, e.g. [1, \"a\"]." };
  if (kind === "object" && !isObject) return { error: "Give a JSON object, e.g. {\"column\": \"age\"}." };
  return { value };
}

export async function newTaskPage(view, { query }) {
  const [collaborations, studies, recent] = await Promise.all([
    app.api.all("/collaboration"), app.api.all("/study"),
    app.api.get("/task", { per_page: 50 }), app.loadOrganizations()]);
  const allowed = collaborations.filter(canCreateTask);
  if (!allowed.length) {
    replace(view, h("h1", {}, "New task"),
      message("notice", "You may not create tasks in any collaboration."));
    return;
  }
  const wanted = Number(query.get("collaboration")) || allowed[0].id;
  const collabSelect = h("select", { name: "collaboration" }, allowed.map((c) =>
    h("option", { value: c.id, selected: c.id === wanted }, c.encrypted ? `${c.name} (encrypted)` : c.name)));
  const name = h("input", { name: "name", maxlength: 200 });
  const description = h("textarea", { name: "description", rows: 2 });
  const images = [...new Set(recent.data.map((t) => t.image))];
  const image = h("input", { name: "image", list: "known-images", required: true,
    value: images[0] || "", autocomplete: "off" });
  const method = h("input", { name: "method", required: true, autocomplete: "off" });
  const args = h("textarea", { name: "args", rows: 2 }, "[]");
  const kwargs = h("textarea", { name: "kwargs", rows: 3 }, "{}");
  const databases = h("input", { name: "databases", value: "default" });
  const where = h("div");
  const warning = h("div");
  const result = h("div");
  const submit = h("button", { type: "submit" }, "Create task");

  function selected() { return allowed.find((c) => c.id === Number(collabSelect.value)); }

  function drawWhere() {
    const collaboration = selected();
    replace(warning, collaboration.encrypted ? message("notice", ENCRYPTED_REFUSAL) : null);
    submit.disabled = collaboration.encrypted;
    const ownStudies = studies.filter((s) => s.collaboration_id === collaboration.id);
    const studySelect = h("select", { name: "study" },
      h("option", { value: "" }, "— no study: choose organizations below —"),
      ownStudies.map((s) => h("option", { value: s.id }, s.name)));
    const boxes = collaboration.organization_ids.map((o) => checkbox(app.orgName(o),
      { name: "organization", value: o, checked: o === app.me.organization_id }));
    replace(where,
      ownStudies.length ? field("Study", studySelect, "A study sends the task to its organizations.") : null,
      h("fieldset", { id: "organizations" }, h("legend", {}, "Organizations"), boxes,
        h("div", { class: "field-error", id: "organizations-error", role: "alert" })));
    studySelect.addEventListener("change", () => {
      for (const box of where.querySelectorAll('input[name="organization"]')) {
        box.disabled = Boolean(studySelect.value);
      }
    });
  }
  collabSelect.addEventListener("change", drawWhere);

  const form = h("form", { class: "card", novalidate: true },
    field("Collaboration", collabSelect), warning,
    field("Name", name), field("Description", description),
    field("Image", image, "The algorithm's Docker image, e.g. v6-average:latest."),
    h("datalist", { id: "known-images" }, images.map((i) => h("option", { value: i }))),
    field("Method", method, "The function to run, e.g. central_average or partial_average."),
    field("Arguments (JSON list)", args),
    field("Keyword arguments (JSON object)", kwargs, "For example {\"column\": \"age\"}."),
    where,
    field("Databases", databases, "Database labels at the nodes, separated by commas."),
    result, h("div", { class: "actions" }, submit));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const collaboration = selected();
    if (collaboration.encrypted) return;
    const parsedArgs = parseJson(args, "array", []);
    const parsedKwargs = parseJson(kwargs, "object", {});
    setFieldError(image, image.value.trim() ? "" : "Name the image to run.");
    setFieldError(method, method.value.trim() ? "" : "Name the method to run.");
    setFieldError(args, parsedArgs.error);
    setFieldError(kwargs, parsedKwargs.error);
    const study = where.querySelector('select[name="study"]');
    const studyId = study && study.value ? Number(study.value) : null;
    const organizations = studyId
      ? studies.find((s) => s.id === studyId).organization_ids
      : [...where.querySelectorAll('input[name="organization"]:checked')].map((b) => Number(b.value));
    const orgError = document.getElementById("organizations-error");
    orgError.textContent = organizations.length ? "" : "Choose at least one organization.";
    const invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid || !organizations.length) {
      (invalid || where.querySelector('input[name="organization"]')).focus();
      return;
    }
    const input = encodeInput({ method: method.value.trim(), args: parsedArgs.value,
      kwargs: parsedKwargs.value });
    const labels = databases.value.split(",").map((l) => l.trim()).filter(Boolean);
    await busy(submit, result, async () => {
      const task = await app.api.post("/task", {
        collaboration_id: collaboration.id, study_id: studyId ?? undefined,
        name: name.value.trim(), description: description.value, image: image.value.trim(),
        organizations: organizations.map((id) => ({ id, input })),
        databases: labels.map((label) => ({ label })),
        uid: crypto.randomUUID(),
      });
      app.flash("success", `Task ${task.id} created.`);
      app.go(`#/tasks/${task.id}`);
    });
  });
  replace(view, h("h1", {}, "New task"), form);
  drawWhere();
}

// ------------------------------------------------------------------ one task

// The algorithm's own progress, as the run's node let it through (whole percent; the
// message only where the node allows messages); nothing before the first report.
function runProgress(run) {
  if (run.progress === null || run.progress === undefined) return null;
  const percent = Math.round(run.progress * 100);
  return h("p", {},
    h("label", { for: `run-progress-${run.id}` }, `Progress ${percent}%`), " ",
    h("progress", { id: `run-progress-${run.id}`, max: 100, value: percent }),
    run.progress_message ? h("span", { class: "muted" }, ` ${run.progress_message}`) : null);
}

function runCard(run, collaboration) {
  return h("section", { class: "card", "aria-labelledby": `run-${run.id}` },
    h("h3", { id: `run-${run.id}` }, `${app.orgName(run.organization_id)} `, badge(run.status)),
    h("p", { class: "muted" }, `run ${run.id} · started ${when(run.started_at)} · finished ${when(run.finished_at)}`),
    runProgress(run),
    run.reason ? message("error", run.reason) : null,
    resultView(run, collaboration),
    run.log ? h("details", {}, h("summary", {}, "Log"), h("pre", {}, run.log)) : null);
}

export async function taskPage(view, { params, signal }) {
  const id = Number(params[0]);
  let task = await app.api.get(`/task/${id}`);
  const [collaboration] = await Promise.all([
    app.api.get(`/collaboration/${task.collaboration_id}`), app.loadOrganizations()]);
  const header = h("div");
  const progress = h("div");
  const runsSlot = h("div");
  const subtasksSlot = h("div");
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  let subtaskIds = new Set();

  async function refresh() {
    const [fresh, runs, subtasks] = await Promise.all([
      app.api.get(`/task/${id}`), app.api.all("/run", { task_id: id }),
      app.api.all("/task", { parent_id: id })]);
    task = fresh;
    subtaskIds = new Set(subtasks.map((t) => t.id));
    drawHeader();
    const done = runs.filter((r) => !ACTIVE.has(r.status)).length;
    replace(progress, h("label", { for: "task-progress" },
      `${done} of ${runs.length} run(s) finished`), " ",
    h("progress", { id: "task-progress", max: Math.max(1, runs.length), value: done }));
    replace(runsSlot, runs.map((r) => runCard(r, collaboration)));
    replace(subtasksSlot, subtasks.length ? [h("h2", {}, "Subtasks"), taskTable(subtasks)] : null);
    replace(status, ACTIVE.has(task.status) ? "Updates arrive as the nodes report them."
      : `Finished: ${task.status}.`);
  }

  function drawHeader() {
    const mayKill = ACTIVE.has(task.status) && can(app.me, "delete", "task", {
      organizationIds: [task.init_org_id], collaborationId: task.collaboration_id,
      ownerId: task.init_user_id });
    const kill = h("button", { type: "button", class: "danger" }, "Kill task");
    const killResult = h("div");
    kill.addEventListener("click", () => busy(kill, killResult, async () => {
      if (!window.confirm(`Kill task ${task.id} and all its subtasks?`)) return;
      await app.api.post(`/task/${task.id}/kill`);
      await refresh();
    }));
    replace(header,
      h("h1", {}, `Task ${task.id}: ${task.name || "(no name)"} `, badge(task.status)),
      h("p", {}, "Image ", h("code", {}, task.image), " in ",
        h("a", { href: `#/collaborations/${collaboration.id}` }, collaboration.name),
        ` · created ${when(task.created_at)} by ${app.orgName(task.init_org_id)}`),
      task.parent_id ? h("p", {}, "Subtask of ", h("a", { href: `#/tasks/${task.parent_id}` }, `task ${task.parent_id}`)) : null,
      task.description ? h("p", {}, task.description) : null,
      mayKill ? h("div", { class: "actions" }, kill) : null, killResult);
  }

  replace(view, header, progress, status, h("h2", {}, "Runs"), runsSlot, subtasksSlot);
  await refresh();
  followTask(app.api, app.me, id, {
    signal, onChange: refresh, related: (taskId) => subtaskIds.has(taskId),
    isDone: () => !ACTIVE.has(task.status),
  }).catch(() => {});
}
