/**
 * JSON parsed straight from UTF-8 bytes, sharing what is unchanged with a
 * guide document (issue #2's memory goal).
 *
 * `parseJsonBytes(bytes, guide)` gives what `JSON.parse` gives on the decoded
 * text (and fails exactly when it fails), except that every subtree equal
 * (same keys in the same order, same values) to the guide's subtree at the
 * same place IS the guide's subtree. For a side of a merge, with the base as
 * guide, the unchanged bulk of a large document is then never built a
 * second time, and no whole-document string is made: both would otherwise
 * dominate the merge's peak memory. test/merge/json-parse.test.ts compares
 * it with JSON.parse on generated valid and broken documents.
 */
import type { Json, JsonObject } from './json.js';
import { DEPTH_LIMIT, LosslessNumber, numberText, OpaqueJson } from './json/value.js';

const hasOwn = Object.prototype.hasOwnProperty;

/** Thrown on a syntax error; caught in parseJsonBytes. */
const SYNTAX = new Error('json syntax');

/** Characters of a number: digits, sign, point, exponent. */
function isNumberByte(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 101 || c === 69;
}

/** A key that occurs twice in one object: the earlier value, which the later one replaced (as JSON.parse does). */
export interface DuplicateKey {
  object: JsonObject;
  key: string;
  dropped: Json;
}

class Parser {
  pos: number;
  readonly dups: DuplicateKey[] = [];
  /** Containers open around the current position. */
  depth = 0;
  /** Some subtree was deeper than DEPTH_LIMIT and is held as OpaqueJson. */
  opaque = false;
  constructor(
    readonly buf: Buffer,
    start: number,
  ) {
    this.pos = start;
  }

  ws(): void {
    const b = this.buf;
    let p = this.pos;
    for (;;) {
      const c = b[p];
      if (c === 32 || c === 10 || c === 13 || c === 9) p++;
      else break;
    }
    this.pos = p;
  }

  value(guide: Json | undefined): Json {
    this.ws();
    const c = this.buf[this.pos];
    switch (c) {
      case 123: // {
      case 91: {
        // [
        if (this.depth >= DEPTH_LIMIT) return this.opaqueValue(guide);
        this.depth++;
        const v = c === 123 ? this.object(guide) : this.array(guide);
        this.depth--;
        return v;
      }
      case 34: {
        // "
        const s = this.string();
        return s === guide ? guide : s;
      }
      case 116: // t
        return this.literal('true', true);
      case 102: // f
        return this.literal('false', false);
      case 110: // n
        return this.literal('null', null);
      default: {
        if (c === undefined || !(c === 45 || (c >= 48 && c <= 57))) throw SYNTAX;
        const n = this.number();
        if (typeof n === 'number') return Object.is(n, guide) ? (guide as number) : n;
        // By text: a guide may hold as a double (JSON.parse's) what this parse holds as text.
        return (guide instanceof LosslessNumber && guide.text === n.text) || (typeof guide === 'number' && numberText(guide) === n.text) ? guide : n;
      }
    }
  }

  /**
   * A container at DEPTH_LIMIT: its text, found by a flat scan (strings and
   * brackets), checked by JSON.parse (which does not recurse), kept whole.
   */
  opaqueValue(guide: Json | undefined): Json {
    const b = this.buf;
    const start = this.pos;
    let p = start;
    let open = 0;
    for (;;) {
      const c = b[p++];
      if (c === undefined) throw SYNTAX;
      if (c === 34) {
        while (b[p] !== 34) {
          if (b[p] === undefined) throw SYNTAX;
          p += b[p] === 92 ? 2 : 1;
        }
        p++;
      } else if (c === 123 || c === 91) open++;
      else if (c === 125 || c === 93) {
        if (--open === 0) break;
      }
    }
    const text = b.toString('utf8', start, p);
    try {
      JSON.parse(text);
    } catch {
      throw SYNTAX;
    }
    this.pos = p;
    this.opaque = true;
    return guide instanceof OpaqueJson && guide.text === text ? guide : new OpaqueJson(text);
  }

  literal<T extends Json>(word: string, v: T): T {
    const b = this.buf;
    for (let i = 0; i < word.length; i++) if (b[this.pos + i] !== word.charCodeAt(i)) throw SYNTAX;
    this.pos += word.length;
    return v;
  }

  /**
   * A double when its text round-trips through one and it is not an integer
   * beyond 2^53, else a LosslessNumber holding the text: an integer outside
   * the safe range is always text, so counters add it exactly (BigInt) and
   * every replica holds it the same way.
   */
  number(): number | LosslessNumber {
    const b = this.buf;
    const start = this.pos;
    let p = start;
    if (b[p] === 45) p++;
    if (b[p] === 48) p++;
    else if (b[p]! >= 49 && b[p]! <= 57) while (b[p]! >= 48 && b[p]! <= 57) p++;
    else throw SYNTAX;
    const intEnd = p;
    if (b[p] === 46) {
      p++;
      if (!(b[p]! >= 48 && b[p]! <= 57)) throw SYNTAX;
      while (b[p]! >= 48 && b[p]! <= 57) p++;
    }
    if (b[p] === 101 || b[p] === 69) {
      p++;
      if (b[p] === 43 || b[p] === 45) p++;
      if (!(b[p]! >= 48 && b[p]! <= 57)) throw SYNTAX;
      while (b[p]! >= 48 && b[p]! <= 57) p++;
    }
    if (p < b.length && isNumberByte(b[p]!)) throw SYNTAX;
    this.pos = p;
    const neg = b[start] === 45;
    const digits = intEnd - start - (neg ? 1 : 0);
    if (p === intEnd && digits <= 15) {
      // A plain integer of at most 15 digits is exact in a double.
      let n = 0;
      for (let i = neg ? start + 1 : start; i < intEnd; i++) n = n * 10 + (b[i]! - 48);
      if (neg && n === 0) return new LosslessNumber('-0');
      return neg ? -n : n;
    }
    const text = b.toString('latin1', start, p);
    const n = Number(text);
    if (p === intEnd && !Number.isSafeInteger(n)) return new LosslessNumber(text);
    return String(n) === text ? n : new LosslessNumber(text);
  }

  string(): string {
    const b = this.buf;
    let p = this.pos + 1; // past the opening quote
    let runStart = p;
    let ascii = true;
    let out = '';
    for (;;) {
      const c = b[p];
      if (c === undefined || c < 32) throw SYNTAX;
      if (c === 34) break;
      if (c === 92) {
        if (p > runStart) out += ascii ? b.toString('latin1', runStart, p) : b.toString('utf8', runStart, p);
        out += this.escape(p + 1);
        p += b[p + 1] === 117 ? 6 : 2;
        runStart = p;
        ascii = true;
        continue;
      }
      if (c >= 128) ascii = false;
      p++;
    }
    if (p > runStart) out += ascii ? b.toString('latin1', runStart, p) : b.toString('utf8', runStart, p);
    this.pos = p + 1;
    return out;
  }

  /** The character of the escape whose letter is at `p` (after the backslash). */
  escape(p: number): string {
    const b = this.buf;
    switch (b[p]) {
      case 34:
        return '"';
      case 92:
        return '\\';
      case 47:
        return '/';
      case 98:
        return '\b';
      case 102:
        return '\f';
      case 110:
        return '\n';
      case 114:
        return '\r';
      case 116:
        return '\t';
      case 117: {
        let code = 0;
        for (let i = 1; i <= 4; i++) {
          const c = b[p + i];
          const d = c === undefined ? -1 : c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (d < 0) throw SYNTAX;
          code = code * 16 + d;
        }
        return String.fromCharCode(code);
      }
      default:
        throw SYNTAX;
    }
  }

  /**
   * An object. While its members match the guide's, key for key in order,
   * nothing is built; at the first difference the object is built from the
   * guide's members so far and the parse goes on from there.
   */
  object(guide: Json | undefined): Json {
    const b = this.buf;
    this.pos++; // {
    const g = typeof guide === 'object' && guide !== null && !Array.isArray(guide) && !(guide instanceof LosslessNumber) && !(guide instanceof OpaqueJson) ? guide : undefined;
    const gKeys = g === undefined ? undefined : Object.keys(g);
    let matched = 0; // members equal to the guide's, while `out` is unbuilt
    let out: JsonObject | undefined = g === undefined ? {} : undefined;
    this.ws();
    if (b[this.pos] === 125) {
      this.pos++;
      return g !== undefined && gKeys!.length === 0 ? g : {};
    }
    for (;;) {
      this.ws();
      if (b[this.pos] !== 34) throw SYNTAX;
      const k = this.string();
      this.ws();
      if (b[this.pos] !== 58) throw SYNTAX;
      this.pos++;
      const gv = g !== undefined && hasOwn.call(g, k) ? g[k] : undefined;
      const v = this.value(gv);
      if (out === undefined) {
        if (gKeys![matched] === k && Object.is(v, gv)) matched++; // Object.is: -0 is not the guide's 0
        else {
          out = {};
          for (let i = 0; i < matched; i++) set(out, gKeys![i]!, g![gKeys![i]!]!);
          this.put(out, k, v);
        }
      } else this.put(out, k, v);
      this.ws();
      const c = b[this.pos++];
      if (c === 44) continue;
      if (c === 125) break;
      throw SYNTAX;
    }
    if (out !== undefined) return out;
    if (matched === gKeys!.length) return g!;
    // A prefix of the guide's members: the rest were removed.
    out = {};
    for (let i = 0; i < matched; i++) set(out, gKeys![i]!, g![gKeys![i]!]!);
    return out;
  }

  /** Set a member, keeping a record of the value a duplicate key replaces. */
  put(o: JsonObject, k: string, v: Json): void {
    if (hasOwn.call(o, k)) this.dups.push({ object: o, key: k, dropped: o[k]! });
    set(o, k, v);
  }

  array(guide: Json | undefined): Json {
    const b = this.buf;
    this.pos++; // [
    const g = Array.isArray(guide) ? guide : undefined;
    let matched = 0;
    let out: Json[] | undefined = g === undefined ? [] : undefined;
    this.ws();
    if (b[this.pos] === 93) {
      this.pos++;
      return g !== undefined && g.length === 0 ? g : (out ?? []);
    }
    for (;;) {
      const i = out === undefined ? matched : out.length;
      const gv = g !== undefined && i < g.length ? g[i] : undefined;
      const v = this.value(gv);
      if (out === undefined) {
        if (i < g!.length && Object.is(v, gv)) matched++;
        else {
          out = g!.slice(0, matched);
          out.push(v);
        }
      } else out.push(v);
      this.ws();
      const c = b[this.pos++];
      if (c === 44) continue;
      if (c === 93) break;
      throw SYNTAX;
    }
    if (out !== undefined) return out;
    return matched === g!.length ? g! : g!.slice(0, matched);
  }
}

/** Own data property, even for a key "__proto__" (as JSON.parse defines it). */
function set(o: JsonObject, k: string, v: Json): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

/**
 * Parse UTF-8 JSON bytes (a leading BOM is skipped). `guide`: a document
 * whose equal subtrees the result takes over. Never throws.
 */
export function parseJsonBytes(bytes: Uint8Array, guide?: Json): { ok: true; value: Json; dups?: DuplicateKey[]; opaque?: true } | { ok: false } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bom = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
  const p = new Parser(buf, bom ? 3 : 0);
  try {
    const value = p.value(guide);
    p.ws();
    if (p.pos !== buf.length) return { ok: false };
    const r: { ok: true; value: Json; dups?: DuplicateKey[]; opaque?: true } = { ok: true, value };
    if (p.dups.length > 0) r.dups = p.dups;
    if (p.opaque) r.opaque = true;
    return r;
  } catch (e) {
    if (e === SYNTAX) return { ok: false };
    throw e; // too deep for the stack: the caller's fallback reports it
  }
}

function isWs(c: number | undefined): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * The indentation unit of a JSON document's bytes, as json.ts's detectIndent
 * finds it in the text ('' = minified, null = the text does not tell), for
 * a document that parses.
 */
export function indentOfBytes(bytes: Uint8Array): string | null {
  let start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let end = bytes.length;
  while (start < end && isWs(bytes[start])) start++;
  while (end > start && isWs(bytes[end - 1])) end--;
  const nl = bytes.indexOf(10, start);
  if (nl < 0 || nl >= end) {
    const open = bytes[start] === 91 || bytes[start] === 123;
    let i = start + 1;
    while (i < end && isWs(bytes[i])) i++;
    const emptyContainer = open && i === end - 1 && (bytes[i] === 93 || bytes[i] === 125);
    return open && !emptyContainer ? '' : null;
  }
  for (let i = nl; i >= 0 && i < end; i = bytes.indexOf(10, i + 1)) {
    let j = i + 1;
    while (bytes[j] === 32 || bytes[j] === 9) j++;
    if (j > i + 1 && j < end && !isWs(bytes[j])) {
      if (bytes[i + 1] === 9) return '\t';
      return ' '.repeat(Math.min(j - i - 1, 10));
    }
  }
  return null;
}
