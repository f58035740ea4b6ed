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

import type { Json, JsonObject } from '../json.js';
import { instantOf } from '../decide.js';

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

/**
 * The integer a number's text names, exactly; null when it is not an integer
 * text. A double is taken by the text it is written as (`String(v)`), so an
 * integer beyond 2^53 held as a double still adds exactly.
 */
export function bigIntOf(v: number | LosslessNumber): bigint | null {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return BigInt(v);
    const t = Number.isInteger(v) ? String(v) : '';
    return INT_RE.test(t) ? BigInt(t) : null;
  }
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

// ---------------------------------------------------------------------------
// Small value helpers

export const hasOwn = Object.prototype.hasOwnProperty;

/** Own property only: `o.toString` must never leak in from the prototype. */
export function own(o: JsonObject | undefined, k: string): Json | undefined {
  return o !== undefined && hasOwn.call(o, k) ? o[k] : undefined;
}

export function isObj(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof LosslessNumber) && !(v instanceof OpaqueJson);
}

export function isNum(v: Json | undefined): v is number | LosslessNumber {
  return typeof v === 'number' || v instanceof LosslessNumber;
}

export function isArr(v: Json | undefined): v is Json[] {
  return Array.isArray(v);
}

/** Exact structural equality, object key order included. */
export function same(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (isLossless(a) || isLossless(b)) return isNum(a) && isNum(b) && numberText(a) === numberText(b);
  if (isOpaque(a) || isOpaque(b)) return isOpaque(a) && isOpaque(b) && a.text === b.text;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!same(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  let i = 0;
  for (const k in b) if (k !== ka[i++]) return false; // JSON objects: own keys only
  if (i !== ka.length) return false;
  for (const k of ka) if (!same(a[k], b[k])) return false;
  return true;
}

/**
 * `v` with every subtree that equals (same()) the subtree of `b` at the same
 * place replaced by `b`'s own: `b` itself when all of `v` is unchanged.
 * Mutates `v` (a freshly parsed document); the result is same() as `v`.
 */
export function shareUnchanged(b: Json | undefined, v: Json): Json {
  if (b === undefined || typeof v !== 'object' || v === null || typeof b !== 'object' || b === null || isLossless(v) || isOpaque(v)) return same(b, v) ? b! : v;
  if (Array.isArray(v)) {
    if (!Array.isArray(b)) return v;
    let all = v.length === b.length;
    for (let i = 0; i < v.length; i++) {
      const c = shareUnchanged(b[i], v[i]!);
      if (c !== b[i]) all = false;
      v[i] = c;
    }
    return all ? b : v;
  }
  if (Array.isArray(b) || isLossless(b) || isOpaque(b)) return v;
  const kb = Object.keys(b);
  let all = true;
  let i = 0;
  for (const k in v) {
    if (k !== kb[i++]) all = false;
    const c = shareUnchanged(own(b, k), v[k]!);
    if (c !== own(b, k)) all = false;
    if (c !== v[k]) Object.defineProperty(v, k, { value: c, writable: true, enumerable: true, configurable: true });
  }
  if (i !== kb.length) all = false;
  return all ? b : v;
}

/** Canonical JSON text: keys sorted by code unit, no whitespace. */
export function canon(v: Json): string {
  if (isNum(v)) return canonNumber(v);
  if (isOpaque(v)) return v.text;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
  const keys = Object.keys(v).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canon(v[k]!)).join(',') + '}';
}

export function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Exact text: keys in their order, numbers as written. */
export function exact(v: Json): string {
  if (isNum(v)) return numberText(v);
  if (isOpaque(v)) return v.text;
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(exact).join(',') + ']';
  return '{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + exact(v[k]!)).join(',') + '}';
}

/** Total order over values: canonical text, then exact text (key order, number text). */
export function valueCmp(a: Json, b: Json): number {
  return cmpStr(canon(a), canon(b)) || cmpStr(exact(a), exact(b));
}

/**
 * Volatile maximum, a total order so any merge order gives the same value:
 * numbers numerically; strings that are instants by the instant they name
 * (`10:00:00+02:00` is before `09:30:00Z`), above strings that are not, ties
 * and other strings by code unit; else canonical text.
 */
export function maxValue(a: Json, b: Json): Json {
  if (isNum(a) && isNum(b)) return (compareNumbers(a, b) || cmpStr(numberText(a), numberText(b))) >= 0 ? a : b;
  if (typeof a === 'string' && typeof b === 'string') {
    const x = instantOf(a);
    const y = instantOf(b);
    if (x !== null && y === null) return a;
    if (y !== null && x === null) return b;
    if (x !== null && y !== null && x !== y) return x > y ? a : b;
    return a >= b ? a : b;
  }
  return valueCmp(a, b) >= 0 ? a : b;
}
