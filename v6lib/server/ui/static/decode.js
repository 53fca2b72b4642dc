// Turn a stored result into something to show: the one place that knows the encoding of
// v6lib/serialization (docs/reference/algorithm-io.md): base64 of UTF-8 JSON, where dicts
// tagged ``__v6__`` carry values JSON lacks. DataFrames, Series and Indexes (Arrow IPC)
// become tables (decode-frame.js), NumPy arrays (.npy) nested arrays with their dtype and
// shape (decode-npy.js), the other tags plain values. A tag this page does not know, or
// cannot read, is shown as its JSON with a note, never dropped.

import { frameTable } from "./decode-frame.js";
import { numpyDatetimeText, numpyTimedeltaText, readNpy } from "./decode-npy.js";
import { Missing, timedeltaText } from "./decode-text.js";

export const TAG = "__v6__";
const NONFINITE = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

export function base64ToBytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function encodeInput(value) {
  return bytesToBase64(new TextEncoder().encode(JSON.stringify(value)));
}

const ENVELOPE_MAGIC = [0x89, 0x56, 0x36, 0x45]; // "\x89V6E": a sealed value (crypto/wire.py)

export function isSealed(bytes) {
  return ENVELOPE_MAGIC.every((b, i) => bytes[i] === b);
}

// -> {kind: "table", ...} (see decode-frame.js) | {kind: "value", value} | {kind: "sealed"}
export function decodeResult(base64) {
  const bytes = base64ToBytes(base64);
  if (isSealed(bytes)) return { kind: "sealed" };
  const value = revive(JSON.parse(new TextDecoder().decode(bytes), exactInteger));
  return isTable(value) ? value : { kind: "value", value };
}

export const isTable = (value) => value instanceof Table;

// An integer JSON numbers would round (beyond 2**53: a Python int, a datetime64[ns] count)
// as a BigInt, where the browser shows the reviver the source text (Chromium 114, Firefox
// 135, Safari 18.4).
function exactInteger(key, value, context) {
  if (typeof value !== "number" || Number.isSafeInteger(value) || !/^-?\d+$/.test(context?.source ?? "")) {
    return value;
  }
  return BigInt(context.source);
}

// A decoded frame; in the JSON of a result that holds it (a dict of frames) it reads as
// its index, columns and rows.
class Table {
  constructor(fields) { Object.assign(this, fields); }
  toJSON() {
    return { [this.of]: { index_names: this.indexNames, index: this.index,
      columns: this.columns, data: this.rows } };
  }
}

export function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value === null || typeof value !== "object") return value;
  const tag = value[TAG];
  if (typeof tag !== "string") return reviveFields(value);
  const decode = TAGS[tag];
  if (!decode) return { unknownTag: tag, raw: value };
  try {
    return decode(value);
  } catch (err) {
    return { undecodable: tag, reason: err.message, raw: value };
  }
}

function reviveFields(obj) {
  const out = {};
  for (const [key, item] of Object.entries(obj)) out[key] = revive(item);
  return out;
}

const frame = (of) => (v) => new Table(frameTable(base64ToBytes(v.arrow), of, nameText));
const items = (v) => v.items.map(revive);

// tag -> its value on the page (the tags of v6lib/serialization/codec.py)
const TAGS = {
  float: (v) => {
    if (!(v.value in NONFINITE)) throw new Error(`unknown float ${v.value}`);
    return NONFINITE[v.value];
  },
  bytes: (v) => ({ bytes: v.base64, length: base64ToBytes(v.base64).length }),
  tuple: items,
  set: items,
  frozenset: items,
  dict: (v) => dictValue(v.items),
  decimal: (v) => v.value,
  datetime: (v) => (v.tz ? `${v.iso} (${v.tz})` : v.iso),
  time: (v) => v.iso,
  date: (v) => v.iso,
  timedelta: (v) => timedeltaText(BigInt(v.days) * 86_400_000_000n
    + BigInt(v.seconds) * 1_000_000n + BigInt(v.microseconds), "us"),
  "numpy.ndarray": (v) => readNpy(base64ToBytes(v.npy)),
  "numpy.scalar": numpyScalar,
  "pandas.DataFrame": frame("DataFrame"),
  "pandas.Series": frame("Series"),
  "pandas.Index": frame("Index"),
  "pandas.Timestamp": (v) => (v.tz ? `${v.iso} (${v.tz})` : v.iso),
  "pandas.Timedelta": (v) => v.iso,
  "pandas.NA": () => new Missing("<NA>"),
  "pandas.NaT": () => new Missing("NaT"),
  dataframe: legacyFrame,
  series: legacySeries,
};

// A dict with keys JSON objects cannot hold (numbers, tuples): an object keyed by their
// text when the texts differ, else its [key, value] pairs.
function dictValue(pairs) {
  const entries = pairs.map(([key, item]) => [revive(key), revive(item)]);
  const keys = entries.map(([key]) => (typeof key === "string" ? key : pretty(key, 0)));
  if (new Set(keys).size !== keys.length) return entries;
  return Object.fromEntries(entries.map(([, item], i) => [keys[i], item]));
}

// A NumPy scalar: its value (a count of its unit for datetime64/timedelta64, or a 0-d .npy).
function numpyScalar(v) {
  if (v.npy !== undefined) return readNpy(base64ToBytes(v.npy)).values;
  const unit = /^[<>|=]?[mM]8\[(\w+)\]$/.exec(v.dtype)?.[1];
  if (unit === undefined) return v.value;
  return v.dtype.includes("M") ? numpyDatetimeText(v.value, unit) : numpyTimedeltaText(v.value, unit);
}

// A name or label as header text: a string as is, anything else as its JSON.
function nameText(name) {
  const value = revive(name);
  return typeof value === "string" ? value : pretty(value, 0);
}

// Frames as earlier versions stored them: {"__v6__": "dataframe", columns, data, index}.
function legacyFrame(v) {
  return new Table({ kind: "table", of: "DataFrame", columns: v.columns.map(String),
    rows: revive(v.data), ...legacyIndex(v) });
}

function legacySeries(v) {
  return new Table({ kind: "table", of: "Series",
    columns: [v.name === null || v.name === undefined ? "value" : String(v.name)],
    rows: revive(v.data).map((cell) => [cell]), ...legacyIndex(v) });
}

function legacyIndex(v) {
  if (!v.index) return { index: null, indexNames: [] };
  return { index: revive(v.index).map((label) => [label]), indexNames: [v.index_name ?? ""] };
}

// ---------------------------------------------------------------- showing values

export function cellText(value) {
  if (value === null || value === undefined) return "";
  if (value instanceof Missing) return value.marker;
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (typeof value === "object") return pretty(value, 0);
  return String(value);
}

// The header cells of a table: the index names, then the column labels.
export function tableHead(table) {
  return table.index ? [...table.indexNames, ...table.columns] : table.columns;
}

// The header rows as pandas lays them out: one row for flat columns; for MultiIndex
// columns one row per level, a label spanning the columns that share it and every level
// above it (("bmi", "mean"), ("bmi", "count") -> "bmi" over "mean" and "count"), the
// index names in the last row. -> [[{ text, span }] per row]
export function headerRows(table) {
  if (!table.columnLevels) return [tableHead(table).map((text) => ({ text, span: 1 }))];
  const depth = table.columnLevels.length;
  return table.columnLevels.map((level, depthIndex) => {
    const last = depthIndex === depth - 1;
    const cells = table.index ? table.indexNames.map((name) => ({ text: last ? name : "", span: 1 })) : [];
    level.forEach((label, i) => {
      const sameGroup = i > 0 && !last
        && table.columnLevels.slice(0, depthIndex + 1).every((above) => above[i] === above[i - 1]);
      if (sameGroup) cells[cells.length - 1].span += 1;
      else cells.push({ text: label, span: 1 });
    });
    return cells;
  });
}

// The cells of row ``i``: its index labels, then its values.
export function tableRow(table, i) {
  return table.index ? [...table.index[i], ...table.rows[i]] : table.rows[i];
}

// CSV as pandas' to_csv writes it: a missing value (NaN, None, <NA>, NaT) is empty.
export function tableToCsv(table) {
  const quote = (v) => {
    const text = v instanceof Missing || (typeof v === "number" && Number.isNaN(v)) ? "" : cellText(v);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [tableHead(table).map(quote).join(",")];
  table.rows.forEach((_, i) => lines.push(tableRow(table, i).map(quote).join(",")));
  return `${lines.join("\n")}\n`;
}

// JSON text of a decoded value, with non-finite floats spelled out and integers too large
// for a JSON number as their exact digits.
export function pretty(value, indent = 2) {
  return JSON.stringify(value, (key, v) => {
    if (typeof v === "number" && !Number.isFinite(v)) return String(v);
    if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : String(v);
    return v;
  }, indent);
}
