// Turn a stored result into something to show. The one place that knows the encoding of
// v6lib/serialization.py: base64 of UTF-8 JSON, where dicts tagged ``__v6__`` carry
// values JSON lacks. Tags known here: float (NaN/Infinity), bytes, dataframe, series.
// An unknown tag is shown as its JSON with a note, never dropped.

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

// -> {kind: "table", columns, rows, index} | {kind: "value", value} | {kind: "sealed"}
export function decodeResult(base64) {
  const bytes = base64ToBytes(base64);
  if (isSealed(bytes)) return { kind: "sealed" };
  const value = revive(JSON.parse(new TextDecoder().decode(bytes)));
  return asTable(value) || { kind: "value", value };
}

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value === null || typeof value !== "object") return value;
  if (typeof value[TAG] === "string") {
    const tag = value[TAG];
    if (tag === "float" && value.value in NONFINITE) return NONFINITE[value.value];
    if (tag === "bytes") return { bytes: value.base64, length: base64ToBytes(value.base64).length };
    if (tag === "dataframe" || tag === "series") return { [TAG]: tag, ...reviveFields(value) };
    return { unknownTag: tag, raw: value };
  }
  return reviveFields(value);
}

function reviveFields(obj) {
  const out = {};
  for (const [key, item] of Object.entries(obj)) out[key] = revive(item);
  return out;
}

export function asTable(value) {
  if (!value || typeof value !== "object") return null;
  if (value[TAG] === "dataframe") {
    return { kind: "table", columns: value.columns.map(String), rows: value.data,
      index: value.index || null, indexName: value.index_name ?? null };
  }
  if (value[TAG] === "series") {
    return { kind: "table", columns: [value.name === null ? "value" : String(value.name)],
      rows: value.data.map((v) => [v]), index: value.index || null,
      indexName: value.index_name ?? null };
  }
  return null;
}

export function cellText(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function tableToCsv(table) {
  const quote = (v) => {
    const text = cellText(v);
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const head = table.index ? [table.indexName ?? "", ...table.columns] : table.columns;
  const lines = [head.map(quote).join(",")];
  table.rows.forEach((row, i) => {
    const cells = table.index ? [table.index[i], ...row] : row;
    lines.push(cells.map(quote).join(","));
  });
  return `${lines.join("\n")}\n`;
}

// JSON text of a decoded value, with non-finite floats spelled out.
export function pretty(value) {
  return JSON.stringify(value, (key, v) =>
    (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2);
}
