// Small DOM helpers: elements built from data, never from HTML strings, so a value the
// server returns (a task name, a log line) is always text and can never become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldCounter = 0;

// A labelled input with an optional hint and a slot for its error message.
export function field(label, input, hint) {
  const id = input.id || `f${++fieldCounter}`;
  input.id = id;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const described = [hintId, errorId].filter(Boolean).join(" ");
  input.setAttribute("aria-describedby", described);
  input.addEventListener("input", () => setFieldError(input, ""));
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("div", { class: "hint", id: hintId }, hint) : null,
    h("div", { class: "field-error", id: errorId }));
}

export function setFieldError(input, message) {
  const slot = document.getElementById(`${input.id}-error`);
  if (slot) slot.textContent = message || "";
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

export function checkbox(label, attrs = {}) {
  const input = h("input", { type: "checkbox", ...attrs });
  input.id = input.id || `f${++fieldCounter}`;
  return h("div", { class: "check" }, input, h("label", { for: input.id }, label));
}

export function table(columns, rows, { caption, empty = "Nothing here yet." } = {}) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "table-wrap" },
    h("table", {},
      caption ? h("caption", { class: "muted" }, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.title)))),
      h("tbody", {}, rows.map((row) =>
        h("tr", {}, columns.map((c) => h("td", {}, c.render ? c.render(row) : row[c.key])))))));
}

export function badge(status) {
  return h("span", { class: `badge status-${String(status).replace(/\s+/g, "_")}` }, String(status));
}

export function message(kind, text) {
  return h("div", { class: kind, role: kind === "error" ? "alert" : "status" }, text);
}

// Runs ``action`` while ``button`` shows it is busy; errors land in ``target``.
export async function busy(button, target, action) {
  button.disabled = true;
  if (target) replace(target);
  try {
    return await action();
  } catch (err) {
    if (target) replace(target, message("error", describe(err)));
    else throw err;
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function describe(err) {
  if (err && err.message) return err.message;
  return String(err);
}

export function when(value) {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
