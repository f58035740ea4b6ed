/**
 * Lossless JSON numbers and their decimal comparison.
 *
 * A JSON number whose text does not come back unchanged from a double
 * (`12345678901234567890`, `1e400`, `-0`, `1.0`, `1E2`) is parsed as a
 * LosslessNumber holding its source text. The writer (json-bytes.ts) emits
 * that text verbatim, so a value nobody touched keeps its exact text; two ids
 * above 2^53 stay two ids; counters add big integers exactly (BigInt).
 * Numbers compare by decimal value, never by a rounded double.
 */

export class LosslessNumber {
  constructor(readonly text: string) {}
  /** The nearest double (Infinity for `1e400`): for timestamps and arithmetic on non-integers only. */
  valueOf(): number {
    return Number(this.text);
  }
}

export function isLossless(v: unknown): v is LosslessNumber {
  return v instanceof LosslessNumber;
}

/** A number as its text: a double as JavaScript writes it, a lossless number as written. */
export function numberText(v: number | LosslessNumber): string {
  return typeof v === 'number' ? (Number.isFinite(v) ? String(v) : 'null') : v.text;
}

const INT_RE = /^-?\d+$/;

/** The integer a number's text names, exactly; null when it is not an integer text. */
export function bigIntOf(v: number | LosslessNumber): bigint | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : null;
  return INT_RE.test(v.text) ? BigInt(v.text) : null;
}

interface Decimal {
  neg: boolean;
  /** Significant digits, no leading or trailing zeros ('' for zero). */
  digits: string;
  /** Value = 0.digits × 10^exp. */
  exp: number;
}

function decimalOf(text: string): Decimal {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) return { neg: false, digits: '', exp: 0 };
  const all = m[2]! + (m[3] ?? '');
  let e = m[2]!.length + (m[4] === undefined ? 0 : Number(m[4]));
  let i = 0;
  while (i < all.length && all[i] === '0') i++;
  e -= i;
  const digits = all.slice(i).replace(/0+$/, '');
  return { neg: m[1] === '-' && digits !== '', digits, exp: digits === '' ? 0 : e };
}

function cmpMagnitude(a: Decimal, b: Decimal): number {
  if (a.digits === '' || b.digits === '') return a.digits === b.digits ? 0 : a.digits === '' ? -1 : 1;
  if (a.exp !== b.exp) return a.exp < b.exp ? -1 : 1;
  return a.digits < b.digits ? -1 : a.digits > b.digits ? 1 : 0; // same length prefix order = numeric order
}

/** Numbers by exact decimal value: -1, 0 or 1 (`1.0` equals `1`, `-0` equals `0`). */
export function compareNumbers(a: number | LosslessNumber, b: number | LosslessNumber): number {
  if (typeof a === 'number' && typeof b === 'number' && Number.isFinite(a) && Number.isFinite(b)) return a < b ? -1 : a > b ? 1 : 0;
  const x = decimalOf(numberText(a));
  const y = decimalOf(numberText(b));
  if (x.neg !== y.neg) return x.neg ? -1 : 1;
  const c = cmpMagnitude(x, y);
  return x.neg ? -c : c;
}

/**
 * Canonical text of a number (for canonical JSON): equal decimal values give
 * equal text. The shortest double text where the double is exact enough to
 * tell values apart, the exact integer for integers, else `<digits>e<exp>`.
 */
export function canonNumber(v: number | LosslessNumber): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v === 0 ? 0 : v) : 'null';
  const i = bigIntOf(v);
  if (i !== null) return i.toString();
  const d = decimalOf(v.text);
  if (d.digits === '') return '0';
  if (d.exp >= d.digits.length && d.exp <= 400) return (d.neg ? '-' : '') + d.digits + '0'.repeat(d.exp - d.digits.length);
  const n = Number(v.text);
  if (Number.isFinite(n) && d.digits.length <= 15) return String(n);
  return (d.neg ? '-' : '') + '0.' + d.digits + 'e' + String(d.exp);
}

/** A number from an exact integer: a double when it is safe, else its text. */
export function fromBigInt(i: bigint): number | LosslessNumber {
  const n = Number(i);
  return Number.isSafeInteger(n) ? n : new LosslessNumber(i.toString());
}

/**
 * Counter arithmetic o + t - b: exact for integers of any size (BigInt), as
 * doubles otherwise. A missing base is 0.
 */
export function addDeltas(o: number | LosslessNumber, t: number | LosslessNumber, b: number | LosslessNumber | undefined): number | LosslessNumber {
  const io = bigIntOf(o);
  const it = bigIntOf(t);
  const ib = b === undefined ? 0n : bigIntOf(b);
  if (io !== null && it !== null && ib !== null) return fromBigInt(io + it - ib);
  const r = Number(o) + Number(t) - (b === undefined ? 0 : Number(b));
  return Number.isFinite(r) ? r : new LosslessNumber(String(r) === 'Infinity' ? '1e400' : '-1e400');
}

/**
 * A subtree nested deeper than DEPTH_LIMIT, kept as its source text: the
 * merge treats it as one value (equal when the text is equal; two different
 * edits race as a unit, reported), the writer emits the text verbatim, so
 * every level above it still merges key by key and nothing is lost to the
 * stack. The text has been checked to be valid JSON.
 */
export class OpaqueJson {
  constructor(readonly text: string) {}
}

export function isOpaque(v: unknown): v is OpaqueJson {
  return v instanceof OpaqueJson;
}

/** Containers nested deeper than this are parsed as OpaqueJson. */
export const DEPTH_LIMIT = 1000;
