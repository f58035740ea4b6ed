/**
 * Log entries (see ../log.ts for the rules): a file split into entries as
 * parallel arrays, their grouping levels and own timestamps (lazily).
 */
import { bracketTimestamp, dateMs, fieldTimestamp, textTimestamp } from '../decide.js';

export type Mode = 'markdown' | 'jsonl' | 'plain';

/** "No timestamp": sorts before every timestamp. */
export const NONE = -Infinity;

export interface Doc {
  mode: Mode;
  fileDay: number | null;
  text: string;
  /** Offset where each entry starts. */
  starts: number[];
  /** JSONL: entry starts decided after the fact (lines of a value that never closed); a parse cannot resume there. */
  unclean: Set<number>;
  /** Entry content: text without trailing blank lines and final newline. */
  bodies: string[];
  /** What follows each body: its newline and trailing blank lines ('' at EOF without newline). */
  seps: string[];
  /** Lazily computed grouping level; 0 = not computed yet. */
  levels: Uint8Array;
  /** Lazily computed own timestamp; NaN = not computed yet, NONE = none. */
  ts: Float64Array;
  /** Lazily computed effective timestamp (see effTs). */
  eff: Float64Array;
  /** Entries [0, shared) are those of `ref` (same text before them): their effective timestamps are ref's. */
  ref: Doc | null;
  shared: number;
}

export function detectMode(path: string, texts: (string | null)[]): Mode {
  const p = path.toLowerCase();
  if (p.endsWith('.jsonl') || p.endsWith('.ndjson')) return 'jsonl';
  if (p.endsWith('.md') || p.endsWith('.markdown')) return 'markdown';
  const md = /^(?:#{1,6}[ \t]|[-*+][ \t]|\d{1,9}[.)][ \t])/m;
  return texts.some((t) => t !== null && md.test(t)) ? 'markdown' : 'plain';
}

/** Midnight UTC of the date in the file name (`memory/2026-02-05.md`), or null. */
export function fileDayOf(path: string): number | null {
  const baseName = path.slice(path.lastIndexOf('/') + 1);
  for (const s of [baseName, path]) {
    const re = /(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)/g;
    for (let m = re.exec(s); m; m = re.exec(s)) {
      const t = dateMs(+m[1]!, +m[2]!, +m[3]!);
      if (t !== null) return t;
    }
  }
  return null;
}

/**
 * Split text into entries. With `ref` (another version of the file), the
 * entries of the long prefix both texts share are taken from it: the same
 * strings, so the diff compares them in constant time, and only the rest of
 * the text is scanned.
 */
export function parseDoc(text: string, mode: Mode, fileDay: number | null, ref?: Doc): Doc {
  let q = 0; // entries [0, q) come from ref
  if (ref && ref.starts.length > 1) {
    const p = commonPrefixLength(ref.text, text);
    // an entry start is safe when the lines around it are all inside the shared prefix
    let hi = ref.starts.length - 1;
    let lo = 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ref.starts[mid]! + 64 <= p) lo = mid;
      else hi = mid - 1;
    }
    q = lo;
    while (q > 0 && ref.unclean.has(ref.starts[q]!)) q--;
  }
  const find = (from: number, unclean: Set<number>): number[] =>
    mode === 'markdown' ? markdownStarts(text, from) : mode === 'jsonl' ? jsonlStarts(text, from, unclean) : plainStarts(text, from);
  let unclean = new Set<number>();
  let found = find(q > 0 ? ref!.starts[q]! : 0, unclean);
  if (q > 0 && found[0] !== ref!.starts[q]) {
    // the texts differ right after the shared prefix in a way that matters: scan it all
    q = 0;
    unclean = new Set<number>();
    found = find(0, unclean);
  }
  const starts = q > 0 ? ref!.starts.slice(0, q).concat(found) : withPreamble(found, text);
  const n = starts.length;
  const bodies: string[] = new Array<string>(n);
  const seps: string[] = new Array<string>(n);
  for (let k = 0; k < n; k++) {
    if (k < q) {
      bodies[k] = ref!.bodies[k]!;
      seps[k] = ref!.seps[k]!;
      continue;
    }
    const s = starts[k]!;
    const e = k + 1 < n ? starts[k + 1]! : text.length;
    const be = bodyEnd(text, s, e);
    bodies[k] = text.slice(s, be);
    seps[k] = e - be === 1 ? '\n' : e - be === 2 && text.charCodeAt(be + 1) === 10 ? '\n\n' : text.slice(be, e);
  }
  return {
    mode,
    fileDay,
    text,
    starts,
    unclean,
    bodies,
    seps,
    levels: new Uint8Array(n),
    ts: new Float64Array(n).fill(NaN),
    eff: new Float64Array(n).fill(NaN),
    ref: q > 0 ? ref! : null,
    shared: q,
  };
}

/** Length of the longest common prefix of two strings (compared in chunks). */
export function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  const step = 1 << 14;
  let i = 0;
  while (i + step <= n && a.slice(i, i + step) === b.slice(i, i + step)) i += step;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** End of the content of text[s, e): trailing newlines and whitespace-only lines are cut off. */
export function bodyEnd(text: string, s: number, e: number): number {
  let i = e;
  for (;;) {
    let j = i;
    while (j > s && (text.charCodeAt(j - 1) === 32 || text.charCodeAt(j - 1) === 9)) j--;
    if (j > s && text.charCodeAt(j - 1) === 10) {
      i = j - 1;
      continue;
    }
    return i;
  }
}

export const BLANK_RE = /[ \t]*(?:\n|$)/y;

export const HEADING_RE = /#{1,6}(?=[ \t\n]|$)/y;

export const ITEM_RE = /(?:[-*+]|\d{1,9}[.)])(?=[ \t\n]|$)/y;

export const DATED_RE = /(?:\[\d{4}-\d{2}-\d{2}|\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2})/y;

export const FENCE_OPEN_RE = / {0,3}(`{3,}|~{3,})/y;

export const FENCE_CLOSE_RE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;

export function sticky(re: RegExp, text: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(text);
}

/** A preamble entry starts at 0 when the first entry does not. */
export function withPreamble(starts: number[], text: string): number[] {
  if (text.length > 0 && (starts.length === 0 || starts[0] !== 0)) starts.unshift(0);
  return starts;
}

/** A markdown heading, top-level list item or dated line starts at pos (c: its first char). */
export function startsEntry(text: string, pos: number, c: number): boolean {
  if (c === 35 /* # */) return at(HEADING_RE, text, pos);
  if (c === 45 || c === 42 || c === 43 || (c >= 48 && c <= 57)) {
    if (at(ITEM_RE, text, pos)) return true;
  }
  return (c === 91 || (c >= 48 && c <= 57)) && at(DATED_RE, text, pos); // '[' or a digit
}

export function at(re: RegExp, text: string, pos: number): boolean {
  re.lastIndex = pos;
  return re.test(text);
}

/** Offsets (from `from`, a line start outside any fence) where markdown entries start. */
export function markdownStarts(text: string, from: number): number[] {
  const starts: number[] = [];
  let fence = '';
  for (let pos = from; pos < text.length; ) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    if (fence !== '') {
      const m = FENCE_CLOSE_RE.exec(text.slice(pos, end));
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length) fence = '';
    } else {
      const c = text.charCodeAt(pos);
      const f = c === 32 || c === 96 || c === 126 ? sticky(FENCE_OPEN_RE, text, pos) : null; // ' ', '`', '~'
      if (f) fence = f[1]!;
      else if (startsEntry(text, pos, c)) starts.push(pos);
    }
    pos = end + 1;
  }
  return starts;
}

/**
 * A markdown entry that ends inside a fenced code block (only the last entry
 * of a file cut short mid-write can): whatever follows it in a file reads
 * as part of it.
 */
export function leavesFenceOpen(body: string): boolean {
  if (!body.includes('```') && !body.includes('~~~')) return false;
  let fence = '';
  for (const line of body.split('\n')) {
    if (fence !== '') {
      const m = FENCE_CLOSE_RE.exec(line);
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length) fence = '';
    } else {
      const f = sticky(FENCE_OPEN_RE, line, 0);
      if (f) fence = f[1]!;
    }
  }
  return fence !== '';
}

export function plainStarts(text: string, from: number): number[] {
  const starts: number[] = [];
  for (let pos = from; pos < text.length; ) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    if (!at(BLANK_RE, text, pos)) starts.push(pos);
    pos = end + 1;
  }
  return starts;
}

/** Bracket scanner for pretty-printed JSON values: tracks depth, strings and escapes across lines. */
export class JsonScan {
  depth = 0;
  inString = false;
  escape = false;
  /** Scan text[from, to); true when the value opened so far is complete. */
  feed(text: string, from: number, to: number): boolean {
    for (let i = from; i < to; i++) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 92 /* \ */) this.escape = true;
        else if (c === 34 /* " */) this.inString = false;
      } else if (c === 34) this.inString = true;
      else if (c === 123 /* { */ || c === 91 /* [ */) this.depth++;
      else if (c === 125 /* } */ || c === 93 /* ] */) {
        this.depth--;
        if (this.depth <= 0) return true;
      }
    }
    return this.depth <= 0;
  }
}

export function jsonlStarts(text: string, from: number, unclean: Set<number>): number[] {
  const starts: number[] = [];
  // lines of an unfinished multi-line value: if it never closes, each becomes its own entry
  let pending: number[] | null = null;
  let scan = new JsonScan();
  const flushPending = (): void => {
    if (pending) {
      for (const p of pending.slice(1)) {
        if (at(BLANK_RE, text, p)) continue;
        starts.push(p);
        unclean.add(p);
      }
    }
    pending = null;
  };
  for (let pos = from; pos < text.length; ) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    const c = text.charCodeAt(pos);
    if (pending && (c === 123 || c === 91)) flushPending(); // a new value at column 0: the open one was broken
    if (pending) {
      pending.push(pos);
      if (scan.feed(text, pos, end)) pending = null;
    } else if (!at(BLANK_RE, text, pos)) {
      starts.push(pos);
      let k = pos;
      while (k < end && (text.charCodeAt(k) === 32 || text.charCodeAt(k) === 9)) k++;
      const o = text.charCodeAt(k);
      if (o === 123 || o === 91) {
        scan = new JsonScan();
        if (!scan.feed(text, k, end)) pending = [pos];
      }
    }
    pos = end + 1;
  }
  flushPending();
  return starts;
}

export function levelOf(doc: Doc, j: number): number {
  const known = doc.levels[j]!;
  if (known !== 0) return known;
  const body = doc.bodies[j]!;
  let lv = 7;
  if (doc.mode === 'markdown') {
    const m = /^#{1,6}(?=[ \t\n]|$)/.exec(body);
    if (m) lv = m[0].length;
  } else if (doc.mode === 'jsonl') {
    lv = body.trim() === '' ? 7 : 2;
  } else if (body.startsWith('§')) lv = 1;
  else if (ownTs(doc, j) !== NONE) lv = 2;
  doc.levels[j] = lv;
  return lv;
}

export function ownTs(doc: Doc, j: number): number {
  const known = doc.ts[j]!;
  if (!Number.isNaN(known)) return known;
  const body = doc.bodies[j]!;
  let t: number | null = null;
  if (doc.mode === 'jsonl') t = jsonTimestamp(body, doc.fileDay);
  else t = bracketTimestamp(body); // the common `[YYYY-MM-DD HH:MM]` line, without a regex
  if (t === null) t = textTimestamp(firstLine(body), doc.fileDay);
  const v = t === null || !Number.isFinite(t) ? NONE : t;
  doc.ts[j] = v;
  return v;
}

/** First non-blank line, at most 300 characters. */
export function firstLine(body: string): string {
  let s = 0;
  while (s < body.length && /\s/.test(body[s]!)) s++;
  const nl = body.indexOf('\n', s);
  return body.slice(s, nl < 0 ? Math.min(body.length, s + 300) : Math.min(nl, s + 300));
}

/** Timestamp fields of a JSON object entry. */
export function jsonTimestamp(body: string, fileDay: number | null): number | null {
  const t = body.trimStart();
  if (!t.startsWith('{')) return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  const ordered = [
    ...['timestamp', 'ts', 'time'].filter((k) => k in o),
    ...keys.filter((k) => k.endsWith('AtMs')),
    ...keys.filter((k) => k.endsWith('At') || k.endsWith('_at')),
  ];
  for (const k of ordered) {
    const r = fieldTimestamp(o[k], k, fileDay);
    if (r !== null) return r;
  }
  return null;
}

export function leadOf(doc: Doc, j: number): string {
  return j > 0 ? doc.seps[j - 1]! : '';
}

export function tailOf(doc: Doc): string {
  return doc.seps.length > 0 ? doc.seps[doc.seps.length - 1]! : '';
}

export const MARKER_LINE_RE = /^(?:<{7,}|={7,}|>{7,}|\|{7,})(?:[ \t].*)?$/;

/** Drop conflict-marker lines (a virtual ancestor of a criss-cross merge). */
export function stripMarkers(text: string): string {
  if (!['<<<<<<<', '=======', '>>>>>>>', '|||||||'].some((m) => text.includes(m))) return text;
  if (!/^(?:<{7,}|={7,}|>{7,}|\|{7,})/m.test(text)) return text;
  return text
    .split('\n')
    .filter((l) => !MARKER_LINE_RE.test(l))
    .join('\n');
}
