// A DataFrame, Series or Index from its Arrow IPC stream (the codec's "pandas.*" tags; see
// docs/reference/algorithm-io.md) as a table of cell texts. The stream's "v6" schema
// metadata says what Arrow alone does not: each column's pandas dtype (so a float column
// reads 3.0 and a missing value NaN, <NA> or NaT as pandas prints it), the row index
// (range, flat or MultiIndex levels) and the column labels.

import Arrow from "./arrow.mjs";
import { Missing, boolText, datetimeText, floatText, timedeltaText } from "./decode-text.js";

// -> { kind: "table", of, indexNames, index: [[level cells] per row] | null, columns,
//      columnLevels: [[label per column] per level] | null (MultiIndex columns), rows }
// ``nameText`` turns a name or label (JSON in the codec's format) into header text.
export function frameTable(bytes, of, nameText) {
  const stream = Arrow.tableFromIPC(bytes);
  const meta = JSON.parse(stream.schema.metadata.get("v6"));
  if (meta.version !== 1) throw new Error(`Arrow frame version ${meta.version} is unknown here`);
  const fields = stream.schema.fields.map((_, i) => stream.getChildAt(i));
  const data = meta.columns.map((descriptor, i) => cells(fields[i], descriptor));
  const rowCount = stream.numRows;
  const index = indexCells(fields.slice(data.length), meta.index, rowCount);
  const levels = of === "DataFrame" ? columnLevels(meta.column_index) : null;
  const columns = of === "Series" ? [meta.name === null ? "value" : nameText(meta.name)]
    : levels ? levels[0].map((_, i) => levels.map((level) => level[i]).join(" / ")) : [];
  return {
    kind: "table", of,
    indexNames: index ? meta.index.names.map((n) => (n === null ? "" : nameText(n))) : [],
    index,
    columns,
    columnLevels: levels && levels.length > 1 ? levels : null,
    rows: Array.from({ length: rowCount }, (_, row) => data.map((column) => column[row])),
  };
}

// Cells per row, one per level; null for the default 0, 1, 2, ... (it says nothing).
function indexCells(arrays, description, rowCount) {
  let levels;
  if (description.range) {
    const [start, , step] = description.range;
    if (start === 0 && step === 1 && description.names[0] === null) return null;
    levels = [Array.from({ length: rowCount }, (_, i) => String(start + i * step))];
  } else if (description.flat) {
    levels = [cells(arrays[0], description.flat)];
  } else {
    levels = description.levels.map((level, i) => cells(arrays[i], level.level ?? level.values));
  }
  return Array.from({ length: rowCount }, (_, row) => levels.map((level) => level[row]));
}

// The column labels per level: one level for flat columns, several for a MultiIndex
// (("bmi", "mean") is "bmi" in the first level and "mean" in the second).
function columnLevels(description) {
  if (description.range) {
    const [start, stop, step] = description.range;
    const count = Math.max(0, Math.ceil((stop - start) / step));
    return [Array.from({ length: count }, (_, i) => String(start + i * step))];
  }
  const stream = Arrow.tableFromIPC(base64Bytes(description.arrow));
  const arrays = stream.schema.fields.map((_, i) => stream.getChildAt(i));
  const levels = description.flat ? [cells(arrays[0], description.flat)]
    : description.levels.map((level, i) => cells(arrays[i], level.level ?? level.values));
  return levels.map((level) => level.map(String));
}

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// ---------------------------------------------------------------- one column

// The cells of one Arrow array whose pandas dtype ``descriptor`` names (frame_fields.py).
function cells(vector, descriptor) {
  const missing = new Missing(marker(descriptor));
  if (vector.type.typeId === Arrow.Type.Dictionary) {
    // a categorical (the dictionary holds the categories) or a MultiIndex level
    const out = [];
    for (const chunk of vector.data) {
      const dictionary = cells(chunk.dictionary, descriptor.category ?? descriptor);
      for (let i = 0; i < chunk.length; i += 1) {
        out.push(chunk.getValid(i) ? dictionary[Number(chunk.values[chunk.offset + i])] : missing);
      }
    }
    return out;
  }
  return raw(vector).map((value) => (value === null ? missing : text(value, descriptor)));
}

// Values exactly as stored: timestamps as their integer count (Arrow's get() would round
// them to milliseconds), intervals as {left, right}; null where the value is missing.
function raw(vector) {
  const type = vector.type.typeId;
  if (type === Arrow.Type.Timestamp) {
    const out = [];
    for (const chunk of vector.data) {
      for (let i = 0; i < chunk.length; i += 1) {
        out.push(chunk.getValid(i) ? chunk.values[chunk.offset + i] : null);
      }
    }
    return out;
  }
  if (type === Arrow.Type.Struct) {
    const [left, right] = [0, 1].map((i) => raw(vector.getChildAt(i)));
    return left.map((value, i) => (vector.isValid(i) ? { left: value, right: right[i] } : null));
  }
  return Array.from({ length: vector.length }, (_, i) => (vector.isValid(i) ? vector.get(i) : null));
}

// The marker pandas prints for a missing value of this dtype.
function marker(descriptor) {
  if (descriptor.numpy) return /[mM]/.test(descriptor.numpy[1]) ? "NaT" : "NaN";
  if (descriptor.datetime) return "NaT";
  if (descriptor.object) return descriptor.missing ?? "None";
  if (descriptor.string) return descriptor.na === "NaN" ? "NaN" : "<NA>";
  if (descriptor.masked || descriptor.arrow) return "<NA>";
  return "NaN"; // categoricals and intervals
}

function text(value, descriptor) {
  if (descriptor.numpy) return numpyText(value, descriptor.numpy);
  if (descriptor.datetime) return datetimeText(value, descriptor.datetime, descriptor.tz);
  if (descriptor.interval) return intervalText(value, descriptor);
  if (typeof value === "number" && floating(descriptor)) {
    return floatText(value, /Float32|float\[/.test(descriptor.masked ?? descriptor.arrow) ? 32 : 64);
  }
  return plainText(value);
}

// A float column that is not NumPy's: nullable Float*, floats in an object column, and
// pandas.ArrowDtype floats ("double[pyarrow]", "float[pyarrow]", "halffloat[pyarrow]").
function floating(descriptor) {
  return descriptor.object === "floating" || descriptor.masked?.startsWith("Float")
    || /^(double|float|halffloat)\[/.test(descriptor.arrow ?? "");
}

function numpyText(value, dtype) {
  const kind = dtype[1];
  if (kind === "f") {
    return Number.isNaN(value) ? new Missing("NaN") : floatText(value, dtype.endsWith("4") ? 32 : 64);
  }
  if (kind === "M" || kind === "m") {
    const unit = /\[(\w+)\]/.exec(dtype)[1];
    return kind === "M" ? datetimeText(value, unit) : timedeltaText(value, unit);
  }
  return plainText(value);
}

function plainText(value) {
  if (typeof value === "boolean") return boolText(value);
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : floatText(value);
  if (value instanceof Uint8Array) return `b'${String.fromCharCode(...value)}'`;
  if (typeof value === "object") return JSON.stringify(value, (k, v) => (typeof v === "bigint" ? String(v) : v));
  return String(value);
}

const BRACKETS = { right: ["(", "]"], left: ["[", ")"], both: ["[", "]"], neither: ["(", ")"] };

function intervalText({ left, right }, descriptor) {
  const [open, close] = BRACKETS[descriptor.closed] ?? BRACKETS.right;
  const bound = (value) => String(text(value, descriptor.interval));
  return `${open}${bound(left)}, ${bound(right)}${close}`;
}
