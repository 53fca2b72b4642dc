// How one value of a pandas or NumPy result reads on the page: as pandas and NumPy print
// it (3.0 for a float, True, NaT, <NA>, 2024-01-02 10:00:00+01:00), so a table on the
// page and the same frame in a notebook show the same text.

// A missing value, with the marker pandas prints for it (NaN, None, <NA>, NaT). It is a
// value of its own so that the CSV can leave it empty (as pandas' to_csv does) while the
// table shows which kind of missing it is.
export class Missing {
  constructor(marker) { this.marker = marker; }
  toString() { return this.marker; }
  toJSON() { return null; }
}

const NS = { D: 86_400_000_000_000n, h: 3_600_000_000_000n, m: 60_000_000_000n,
  s: 1_000_000_000n, ms: 1_000_000n, us: 1_000n, ns: 1n };
const DAY_NS = NS.D;

// Python's repr of a float: the shortest digits that read back to the same value (of
// 32 bits for a float32), in exponent notation below 1e-4 and from 1e16.
export function floatText(x, bits = 64) {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  const [mantissa, exponentText] = shortest(Math.abs(x), bits).split("e");
  const digits = mantissa.replace(".", "");
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const sized = Math.abs(exponent) < 10 ? `0${Math.abs(exponent)}` : `${Math.abs(exponent)}`;
    return `${sign}${mantissa}e${exponent < 0 ? "-" : "+"}${sized}`;
  }
  if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
  if (exponent >= digits.length - 1) return `${sign}${digits}${"0".repeat(exponent - digits.length + 1)}.0`;
  return `${sign}${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
}

function shortest(x, bits) {
  if (bits === 32) {
    for (let precision = 1; precision < 9; precision += 1) {
      const candidate = Number(x.toPrecision(precision));
      if (Math.fround(candidate) === x) return candidate.toExponential();
    }
  }
  return x.toExponential(); // without an argument: as many digits as the value needs
}

// The closest JavaScript number that prints like a float32 does in NumPy.
export function float32Number(x) {
  return Number.isFinite(x) ? Number(shortest(Math.abs(x), 32)) * Math.sign(x) || x : x;
}

export const boolText = (value) => (value ? "True" : "False");

const pad = (n, width = 2) => String(n).padStart(width, "0");

function fraction(ns) {
  if (ns === 0n) return "";
  return ns % 1000n === 0n ? `.${pad(ns / 1000n, 6)}` : `.${pad(ns, 9)}`;
}

// A count of ``unit`` since the epoch as pandas prints a Timestamp (sep " ") or NumPy a
// datetime64 (sep "T"), in the time zone ``tz`` (IANA name or "+01:00") when it has one.
export function datetimeText(count, unit, tz = null, sep = " ") {
  if (!(unit in NS)) return `${count} [${unit}]`;
  const total = BigInt(count) * NS[unit];
  let seconds = total / NS.s;
  let rest = total % NS.s;
  if (rest < 0n) { rest += NS.s; seconds -= 1n; }
  const offset = tz === null ? null : offsetMinutes(Number(seconds) * 1000, tz);
  const wall = new Date((Number(seconds) + (offset ?? 0) * 60) * 1000);
  const date = `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}`;
  const time = `${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}:${pad(wall.getUTCSeconds())}`;
  const zone = offset === null ? "" : `${offset < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${date}${sep}${time}${fraction(rest)}${zone}`;
}

// Minutes east of UTC of the zone ``tz`` at the instant ``ms``.
function offsetMinutes(ms, tz) {
  const fixed = /^([+-])(\d\d):?(\d\d)$/.exec(tz);
  if (fixed) return (fixed[1] === "-" ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3]));
  if (tz === "UTC") return 0;
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric",
  }).formatToParts(new Date(ms)).map((p) => [p.type, Number(p.value)]));
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute,
    parts.second);
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60_000);
}

// A duration as pandas prints a Timedelta: "0 days 01:30:00", "-1 days +23:00:00".
export function timedeltaText(count, unit) {
  if (!(unit in NS)) return `${count} [${unit}]`;
  const total = BigInt(count) * NS[unit];
  let days = total / DAY_NS;
  let rest = total % DAY_NS;
  if (rest < 0n) { rest += DAY_NS; days -= 1n; }
  const seconds = rest / NS.s;
  const clock = `${pad(seconds / 3600n)}:${pad((seconds / 60n) % 60n)}:${pad(seconds % 60n)}`;
  return `${days} days ${days < 0n ? "+" : ""}${clock}${fraction(rest % NS.s)}`;
}
