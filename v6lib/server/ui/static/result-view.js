// A run's result on the task page: a frame as a table with a CSV download, a dict that
// holds frames as its other values in JSON and a table per frame, anything else as JSON.
// What the stored bytes mean is decode.js's business; this module only lays it out.

import { h, message, busy, download } from "./dom.js";
import { app } from "./app.js";
import { decodeResult, isTable, pretty, tableToCsv, cellText, headerRows, tableRow } from "./decode.js";

export const ENCRYPTED_REFUSAL = "This collaboration is encrypted: inputs are sealed for each "
  + "organization's key and results for your organization's private key, which this web page "
  + "does not hold. Use the Python client (client.setup_encryption) or the v6 task command "
  + "with --private-key to create tasks and read results here.";

export function resultView(run, collaboration) {
  if (run.result === null || run.result === undefined) {
    if (run.result_size) {
      return h("p", {}, `The result (${run.result_size} bytes) is too large to show here; `,
        downloadRawButton(run));
    }
    return null;
  }
  if (collaboration.encrypted) return message("notice", ENCRYPTED_REFUSAL);
  let decoded;
  try {
    decoded = decodeResult(run.result);
  } catch (err) {
    return message("error", `This result cannot be decoded here: ${err.message}`);
  }
  if (decoded.kind === "sealed") return message("notice", ENCRYPTED_REFUSAL);
  const name = `task-${run.task_id}-run-${run.id}`;
  if (decoded.kind === "table") {
    return h("div", { class: "result" }, tableView(decoded, `Result of run ${run.id}`),
      h("div", { class: "actions" }, csvButton(decoded, `${name}.csv`), downloadRawButton(run)));
  }
  const text = pretty(decoded.value);
  return h("div", { class: "result" }, valueView(decoded.value, run, name),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "secondary",
        onclick: () => download(`${name}.json`, new Blob([text], { type: "application/json" })) },
      "Download JSON"), downloadRawButton(run)));
}

// A dict whose values include frames (what a central function often returns): the rest
// as JSON, then each frame as a table under its key; any other value as JSON.
function valueView(value, run, name) {
  const entries = value && typeof value === "object" && !Array.isArray(value)
    ? Object.entries(value) : [];
  const tables = entries.filter(([, item]) => isTable(item));
  if (!tables.length) return h("pre", { "aria-label": `Result of run ${run.id}` }, pretty(value));
  const rest = Object.fromEntries(entries.filter(([, item]) => !isTable(item)));
  return h("div", {},
    Object.keys(rest).length ? h("pre", { "aria-label": `Result of run ${run.id}` }, pretty(rest)) : null,
    tables.map(([key, table]) => h("section", { class: "result-table" },
      h("h4", {}, key),
      tableView(table, `${key}, run ${run.id}`),
      h("div", { class: "actions" }, csvButton(table, `${name}-${key}.csv`, `Download ${key} as CSV`)))));
}

function tableView(table, label) {
  return h("div", { class: "table-wrap" }, h("table", { "aria-label": label },
    h("thead", {}, headerRows(table).map((cells) => h("tr", {}, cells.map(({ text, span }) =>
      h("th", span > 1 ? { scope: "colgroup", colspan: String(span) } : { scope: "col" }, text))))),
    h("tbody", {}, table.rows.map((_, i) => h("tr", {},
      tableRow(table, i).map((v) => h("td", {}, cellText(v))))))));
}

function csvButton(table, filename, text = "Download CSV") {
  return h("button", { type: "button", class: "secondary",
    onclick: () => download(filename, new Blob([tableToCsv(table)], { type: "text/csv" })) }, text);
}

function downloadRawButton(run) {
  const button = h("button", { type: "button", class: "secondary" }, "Download as stored");
  button.addEventListener("click", () => busy(button, null, async () => {
    const blob = await app.api.request("GET", `/run/${run.id}/result`, { binary: true });
    download(`task-${run.task_id}-run-${run.id}.bin`, blob);
  }));
  return button;
}
