// NumPy's .npy format (what the codec's "numpy.ndarray" tag carries, and "numpy.scalar"
// for values JSON cannot hold): a small text header (dtype, memory order, shape), then the
// elements. Read here into nested arrays, so the page shows the array as NumPy lays it out.
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html

import { datetimeText, float32Number } from "./decode-text.js";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const NAT = -(2n ** 63n);
const TIMEDELTA_WORDS = { D: "days", h: "hours", m: "minutes", s: "seconds",
  ms: "milliseconds", us: "microseconds", ns: "nanoseconds" };

// -> { dtype: "float64", shape: [2, 3], values: nested arrays (or one value for shape []) }
export function readNpy(bytes) {
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw new Error("not a .npy array");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const wide = bytes[6] >= 2; // format 2.0 and 3.0 have a 4-byte header length
  const start = wide ? 12 : 10;
  const length = wide ? view.getUint32(8, true) : view.getUint16(8, true);
  const header = new TextDecoder().decode(bytes.subarray(start, start + length));
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shapeText) throw new Error(`a .npy dtype this page cannot read: ${header.trim()}`);
  const dtype = parseDtype(descr[1]);
  const shape = shapeText[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const fortran = /'fortran_order':\s*True/.test(header);
  const read = (i) => dtype.read(view, start + length + i * dtype.size);
  return { dtype: dtype.name, shape, values: nest(read, shape, fortran) };
}

function nest(read, shape, fortran) {
  const strides = shape.map((_, axis) => (fortran ? shape.slice(0, axis) : shape.slice(axis + 1))
    .reduce((a, b) => a * b, 1));
  const build = (axis, offset) => (axis === shape.length ? read(offset)
    : Array.from({ length: shape[axis] }, (_, i) => build(axis + 1, offset + i * strides[axis])));
  return build(0, 0);
}

// "<f8" -> { name: "float64", size: 8, read(view, offset) }
function parseDtype(text) {
  const match = /^([<>|=])([a-zA-Z])(\d+)(?:\[(\w+)\])?$/.exec(text);
  if (!match) throw new Error(`a .npy dtype this page cannot read: ${text}`);
  const [, order, kind, sizeText, unit] = match;
  const size = kind === "U" ? 4 * Number(sizeText) : Number(sizeText); // U counts characters
  const little = order !== ">";
  const read = reader(kind, size, little, unit);
  if (!read) throw new Error(`a .npy dtype this page cannot read: ${text}`);
  return { name: dtypeName(kind, size, unit, text), size, read };
}

function dtypeName(kind, size, unit, text) {
  const bits = size * 8;
  const names = { b: "bool", i: `int${bits}`, u: `uint${bits}`, f: `float${bits}`,
    c: `complex${bits}`, M: `datetime64[${unit}]`, m: `timedelta64[${unit}]` };
  return names[kind] ?? text;
}

function reader(kind, size, little, unit) {
  const int = (view, at, signed) => {
    if (size === 1) return signed ? view.getInt8(at) : view.getUint8(at);
    if (size === 2) return signed ? view.getInt16(at, little) : view.getUint16(at, little);
    if (size === 4) return signed ? view.getInt32(at, little) : view.getUint32(at, little);
    const big = signed ? view.getBigInt64(at, little) : view.getBigUint64(at, little);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(big) : big; // a BigInt keeps an integer JSON numbers would round
  };
  const float = (view, at, width = size) => {
    if (width === 8) return view.getFloat64(at, little);
    if (width === 4) return float32Number(view.getFloat32(at, little));
    return half(view.getUint16(at, little));
  };
  switch (kind) {
    case "b": return size === 1 ? (view, at) => view.getUint8(at) !== 0 : null;
    case "i": return [1, 2, 4, 8].includes(size) ? (view, at) => int(view, at, true) : null;
    case "u": return [1, 2, 4, 8].includes(size) ? (view, at) => int(view, at, false) : null;
    case "f": return [2, 4, 8].includes(size) ? float : null;
    case "c": return [8, 16].includes(size) ? (view, at) => {
      const [re, im] = [float(view, at, size / 2), float(view, at + size / 2, size / 2)];
      return `${re}${im < 0 || Object.is(im, -0) ? "-" : "+"}${Math.abs(im)}j`;
    } : null;
    case "M": case "m": return size === 8 ? (view, at) => {
      const count = view.getBigInt64(at, little);
      return kind === "M" ? numpyDatetimeText(count, unit) : numpyTimedeltaText(count, unit);
    } : null;
    case "U": return (view, at) => {
      const points = [];
      for (let i = 0; i < size / 4; i += 1) points.push(view.getUint32(at + 4 * i, little));
      while (points.length && points[points.length - 1] === 0) points.pop();
      return String.fromCodePoint(...points);
    };
    case "S": return (view, at) => {
      const raw = new Uint8Array(view.buffer, view.byteOffset + at, size);
      let end = size;
      while (end > 0 && raw[end - 1] === 0) end -= 1; // NumPy pads with NULs
      return String.fromCharCode(...raw.subarray(0, end));
    };
    default: return null;
  }
}

const ISO_LENGTH = { D: 10, h: 13, m: 16, s: 19 }; // "2024-01-02T10:00:00"[:length]
const FRACTION_DIGITS = { ms: 3, us: 6, ns: 9 };

// A datetime64 as NumPy prints it: to the precision of its unit ("2024-01-02T10:00" for
// minutes, always six digits for microseconds).
export function numpyDatetimeText(count, unit) {
  if (BigInt(count) === NAT) return "NaT";
  const text = datetimeText(count, unit, null, "T");
  if (unit in ISO_LENGTH) return text.slice(0, ISO_LENGTH[unit]);
  if (!(unit in FRACTION_DIGITS)) return text;
  const [whole, fraction = ""] = text.split(".");
  return `${whole}.${fraction.padEnd(9, "0").slice(0, FRACTION_DIGITS[unit])}`;
}

export function numpyTimedeltaText(count, unit) {
  if (BigInt(count) === NAT) return "NaT";
  return `${count} ${TIMEDELTA_WORDS[unit] ?? `[${unit}]`}`;
}

// IEEE 754 half precision (float16) as a number.
function half(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
