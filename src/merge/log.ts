/**
 * The `log` kind: an entry-aware union merge for append-mostly logs (daily
 * memory notes, HISTORY.md, JSONL event logs). Pure and total: no I/O, never
 * throws, whatever the input.
 *
 * ENTRIES (parseEntries). A file is split into entries whose texts, joined,
 * give the file back byte for byte.
 * - markdown (`.md`, `.markdown`, or any non-JSONL path whose text has
 *   headings or top-level list items): a heading (`#`..`######`), a
 *   top-level list item (`- `, `* `, `+ `, `1. `) or a top-level dated line
 *   (`[2026-02-05 ...`, as in nanobot's HISTORY.md) starts an entry; every
 *   other line (indented lines, nested bullets, paragraphs, fenced code, a
 *   heading-looking line inside a fence) continues the current one. Text
 *   before the first entry is a preamble entry.
 * - JSONL (`.jsonl`, `.ndjson`): one JSON value per entry; a pretty-printed
 *   value spans lines until its brackets balance (strings and escapes
 *   respected); a value that never closes falls apart into one entry a line.
 * - plain (anything else): one line per entry.
 * Trailing blank lines stay in their entry's text, but entries are compared
 * by their content (`key`: the text without trailing blank lines), so "E\n\n"
 * before an appended entry and "E\n" at EOF are the same entry. The blank
 * lines in front of an entry (its "lead") travel with it through the merge;
 * an entry is always put on a line of its own.
 *
 * TIMESTAMPS carried by an entry (ms, null when none), from its first line:
 * ISO date-times (offsets honoured; no offset = UTC, never the local zone),
 * `[YYYY-MM-DD HH:MM]`, `(1:40 PM)`, `HH:MM`; JSON fields `timestamp`, `ts`,
 * `time`, keys ending `AtMs`/`At`/`_at` (ISO, epoch s or epoch ms). A time of
 * day alone goes on the date in the file name (`memory/2026-02-05.md`), else
 * it is the time of day alone. For ordering, an entry's effective timestamp
 * is the running maximum of its own and those of the earlier entries of its
 * level within its section (an entry without one sorts with the entry
 * before it; a back-dated entry stays where its side put it); NONE when no
 * entry so far has one (see effTs).
 *
 * LEVELS group entries into UNITS for interleaving: markdown headings 1..6
 * (a heading owns the deeper entries after it), `§` lines 1 and timestamped
 * lines 2 in plain text (owning the untimestamped lines after them), every
 * JSONL value 2, everything else 7 (a bullet, a paragraph: a unit of its own
 * when it comes before any heading of an inserted run).
 *
 * MERGE (mergeLogText). Each side is diffed against base by entry content
 * (shared prefix taken over without a scan, common prefix and suffix
 * stripped, then a patience diff; a quadratic LCS only inside small regions
 * without anchors). In a changed region, each side entry pairs, in order,
 * with the next base entry of the same identity (timestamp and first five
 * words, found through a map over the whole region, however deep), else
 * with a similar one within 100 entries (same timestamp if any, and same
 * first line, or words added to it, or mostly the same text); a 1:1
 * replacement is always an edit. Paired entries are edits; the rest are
 * deletions and insertions.
 * - per base entry: kept by both = kept; deleted by one side and unchanged
 *   on the other = deleted; edited on one side = the edit; edited the same
 *   on both = once; edited differently = merged when both edits only append
 *   lines or a line-level diff3 is clean (the same either way round; one
 *   line changed by both in places apart, such as a ticked box and words
 *   added at the end, takes both changes), else
 *   both versions in content order plus a Conflict (key `entry`, rule
 *   `value`); deleted by one side and edited by the other = the edit.
 *   An "edit" whose new text the other side inserted is read as a deletion
 *   plus that insertion, so the two copies meet and appear once.
 * - the entries both sides inserted at one place are merged like merge
 *   sort's merge, unit by unit, each side keeping its own order. Units
 *   compare by (level: deeper first, so bullets continuing the section
 *   above come before new sections; timestamp; head text). Units with the
 *   same head (the same heading, timestamped line or value added by both
 *   sides) appear once, with what follows the head on each side merged
 *   under it the same way. Units with different heads are never fused:
 *   `## Notes\nwent to the shop` and `## Notes\nfixed the sink` are two
 *   entries and stay two sections.
 * - base null or '' (both added the file): the entries both start with are
 *   the base; everything else is a union, nothing is deleted.
 * - conflict-marker lines in base (a virtual ancestor) are dropped before
 *   the diff; output lines always come from ours or theirs.
 *
 * INVARIANTS (test/merge/log.laws.test.ts): the output never depends on
 * which side is ours (byte-identical after swapping); merge(o,a,a) = a;
 * merge(o,o,b) = b; no entry of a side is lost unless the other side
 * deleted or edited it; no entry is duplicated; when replicas only append,
 * at any times (clock jumps, back-dated entries), every merge order of any
 * number of replicas (and a git-like sequence with later merge bases) gives
 * the same bytes: a unit's order key is the same in every file that holds
 * it (effTs), merging takes the smaller head unit, and a merged run splits
 * back into the same units, so merging is associative. Known limits: the
 * same untimed entry written twice by one replica, or new entries both sides
 * have but base lacks (criss-cross, cherry-pick) next to edits or
 * deletions, may pair up differently and come out twice (never lost).
 * Cost: linear in the input apart from the changed regions.
 */
import { diff3Merge } from 'node-diff3';
import type { Conflict } from './types.js';
import { pickWinner, side as sideValue } from './util.js';
import { dateMs, fieldTimestamp, textTimestamp } from './decide.js';

// ---------------------------------------------------------------------------
// Public API

export interface LogEntry {
  /** The exact text, trailing blank lines and line terminator included. */
  text: string;
  /** What entries are compared by: the text without trailing blank lines. */
  key: string;
  /** Timestamp carried by the entry, in ms (a time of day alone: ms since midnight); null when none. */
  ts: number | null;
  /** Nesting depth used to group entries: 1..6 for markdown headings, 1 for `§`, 2 for timestamped plain lines and JSONL values, 7 otherwise. */
  level: number;
}

export interface LogMergeOutput {
  text: string;
  stats: Record<string, number>;
  notes: string[];
  conflicts: Conflict[];
}

/**
 * base null = both sides added the file. Inputs are already BOM-stripped and
 * LF-normalised by the caller (see util.normalizeText); output is LF text
 * (caller re-applies framing).
 */
export function mergeLogText(path: string, base: string | null, ours: string, theirs: string): LogMergeOutput {
  if (ours === theirs) return fast(ours);
  if (base !== null && base === ours) return fast(theirs);
  if (base !== null && base === theirs) return fast(ours);
  return mergeSafely(path, base, ours, theirs);
}

/** Split a log into entries (exported for the sync engine's guard and tests). Joining entry texts reproduces the input exactly. */
export function parseEntries(path: string, text: string): LogEntry[] {
  try {
    const doc = parseDoc(text, detectMode(path, [text]), fileDayOf(path));
    return doc.bodies.map((body, j) => {
      const t = ownTs(doc, j);
      return { text: body + doc.seps[j]!, key: body, ts: t === NONE ? null : t, level: levelOf(doc, j) };
    });
  } catch {
    return text === '' ? [] : [{ text, key: text, ts: null, level: 7 }];
  }
}

/**
 * For the commit guard: which entries of `before` (the committed version) are
 * gone from `after` (the work tree), not counting in-place edits. An entry
 * replaced at the same position by a different entry is an edit, not a loss;
 * entries removed outright are lost, and so is an entry cut short (its text
 * replaced by a strict prefix of itself, as a truncated write leaves it).
 * Entries that only moved are neither lost nor added. Strings are entry keys.
 * `failed` is set when the check itself failed (the lists are then empty).
 */
export function lostEntries(path: string, before: string, after: string): { lost: string[]; added: string[]; edited: number; failed?: string } {
  try {
    if (before === after) return { lost: [], added: [], edited: 0 };
    const mode = detectMode(path, [before, after]);
    const day = fileDayOf(path);
    const b = parseDoc(before, mode, day);
    const a = parseDoc(after, mode, day, b);
    const al = align(b, a);
    const lost: string[] = [];
    let edited = 0;
    const used = new Uint8Array(a.bodies.length);
    for (let i = 0; i < b.bodies.length; i++) {
      const j = al.baseTo[i]!;
      if (j < 0) {
        lost.push(b.bodies[i]!);
        continue;
      }
      used[j] = 1;
      if (!al.edited[i]) continue;
      if (isTruncation(b.bodies[i]!, a.bodies[j]!, j === a.bodies.length - 1)) lost.push(b.bodies[i]!);
      else edited++;
    }
    const added: string[] = [];
    for (let j = 0; j < a.bodies.length; j++) if (!used[j]) added.push(a.bodies[j]!);
    // an entry that moved is both "lost" and "added": it is neither
    const addedCount = new Map<string, number>();
    for (const s of added) addedCount.set(s, (addedCount.get(s) ?? 0) + 1);
    const moved = new Map<string, number>();
    const realLost = lost.filter((s) => {
      const n = addedCount.get(s) ?? 0;
      if (n === 0) return true;
      addedCount.set(s, n - 1);
      moved.set(s, (moved.get(s) ?? 0) + 1);
      return false;
    });
    const realAdded = added.filter((s) => {
      const n = moved.get(s) ?? 0;
      if (n === 0) return true;
      moved.set(s, n - 1);
      return false;
    });
    return { lost: realLost, added: realAdded, edited };
  } catch (e) {
    // never read as "nothing lost": the guard holds a file whose check failed
    return { lost: [], added: [], edited: 0, failed: `the loss check failed: ${(e as Error).message}` };
  }
}

/**
 * For a held (truncated) log: the committed text plus what the work tree
 * added (new entries at their places, in-place edits), with every lost or
 * cut-short entry restored at its place.
 */
export function restoreLost(path: string, before: string, after: string): string {
  try {
    if (before === after) return after;
    return mergeCore(path, before, before, after, { restore: true }).text;
  } catch {
    return before;
  }
}

/** Internals exposed for the tests only. */
export const __testing = {
  /** mergeLogText without its fast paths, so the laws exercise the real algorithm. */
  mergeWithoutFastPaths(path: string, base: string | null, ours: string, theirs: string): LogMergeOutput {
    return mergeSafely(path, base, ours, theirs);
  },
  parseTimestamp(text: string, path = ''): number | null {
    const t = textTimestamp(firstLine(text), fileDayOf(path));
    return t;
  },
};

function fast(text: string): LogMergeOutput {
  return { text, stats: emptyStats(), notes: [], conflicts: [] };
}

function emptyStats(): Record<string, number> {
  return { fromOurs: 0, fromTheirs: 0, both: 0, deleted: 0, edited: 0, conflicts: 0 };
}

function mergeSafely(path: string, base: string | null, ours: string, theirs: string): LogMergeOutput {
  try {
    return mergeCore(path, base, ours, theirs, { restore: false });
  } catch (e) {
    // Unreachable by design; still, never throw and never lose a side.
    const [x, y] = ours <= theirs ? [ours, theirs] : [theirs, ours];
    const text = x === '' ? y : y === '' ? x : x.endsWith('\n') ? x + y : x + '\n' + y;
    return { text, stats: emptyStats(), notes: [`log merge failed (${(e as Error).message}); kept both sides whole`], conflicts: [] };
  }
}

// ---------------------------------------------------------------------------
// Documents: entries as parallel arrays (bodies and the separators after them)

type Mode = 'markdown' | 'jsonl' | 'plain';

/** "No timestamp": sorts before every timestamp. */
const NONE = -Infinity;

interface Doc {
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

function detectMode(path: string, texts: (string | null)[]): Mode {
  const p = path.toLowerCase();
  if (p.endsWith('.jsonl') || p.endsWith('.ndjson')) return 'jsonl';
  if (p.endsWith('.md') || p.endsWith('.markdown')) return 'markdown';
  const md = /^(?:#{1,6}[ \t]|[-*+][ \t]|\d{1,9}[.)][ \t])/m;
  return texts.some((t) => t !== null && md.test(t)) ? 'markdown' : 'plain';
}

/** Midnight UTC of the date in the file name (`memory/2026-02-05.md`), or null. */
function fileDayOf(path: string): number | null {
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
function parseDoc(text: string, mode: Mode, fileDay: number | null, ref?: Doc): Doc {
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
function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  const step = 1 << 14;
  let i = 0;
  while (i + step <= n && a.slice(i, i + step) === b.slice(i, i + step)) i += step;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** End of the content of text[s, e): trailing newlines and whitespace-only lines are cut off. */
function bodyEnd(text: string, s: number, e: number): number {
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

const BLANK_RE = /[ \t]*(?:\n|$)/y;
const HEADING_RE = /#{1,6}(?=[ \t\n]|$)/y;
const ITEM_RE = /(?:[-*+]|\d{1,9}[.)])(?=[ \t\n]|$)/y;
const DATED_RE = /(?:\[\d{4}-\d{2}-\d{2}|\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2})/y;
const FENCE_OPEN_RE = / {0,3}(`{3,}|~{3,})/y;
const FENCE_CLOSE_RE = /^ {0,3}(`{3,}|~{3,})[ \t]*$/;

function sticky(re: RegExp, text: string, pos: number): RegExpExecArray | null {
  re.lastIndex = pos;
  return re.exec(text);
}

/** A preamble entry starts at 0 when the first entry does not. */
function withPreamble(starts: number[], text: string): number[] {
  if (text.length > 0 && (starts.length === 0 || starts[0] !== 0)) starts.unshift(0);
  return starts;
}

/** A markdown heading, top-level list item or dated line starts at pos (c: its first char). */
function startsEntry(text: string, pos: number, c: number): boolean {
  if (c === 35 /* # */) return at(HEADING_RE, text, pos);
  if (c === 45 || c === 42 || c === 43 || (c >= 48 && c <= 57)) {
    if (at(ITEM_RE, text, pos)) return true;
  }
  return (c === 91 || (c >= 48 && c <= 57)) && at(DATED_RE, text, pos); // '[' or a digit
}

function at(re: RegExp, text: string, pos: number): boolean {
  re.lastIndex = pos;
  return re.test(text);
}

/** Offsets (from `from`, a line start outside any fence) where markdown entries start. */
function markdownStarts(text: string, from: number): number[] {
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

function plainStarts(text: string, from: number): number[] {
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
class JsonScan {
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

function jsonlStarts(text: string, from: number, unclean: Set<number>): number[] {
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

// ---------------------------------------------------------------------------
// Levels and timestamps (computed lazily: most entries of a big log are in
// the unchanged prefix and never need them)

function levelOf(doc: Doc, j: number): number {
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

function ownTs(doc: Doc, j: number): number {
  const known = doc.ts[j]!;
  if (!Number.isNaN(known)) return known;
  const body = doc.bodies[j]!;
  let t: number | null = null;
  if (doc.mode === 'jsonl') t = jsonTimestamp(body, doc.fileDay);
  if (t === null) t = textTimestamp(firstLine(body), doc.fileDay);
  const v = t === null || !Number.isFinite(t) ? NONE : t;
  doc.ts[j] = v;
  return v;
}

/**
 * The effective timestamp, what entries are ordered by: the running maximum
 * of the own timestamps of the entry and of the earlier entries of its level
 * within its section (back to the enclosing, shallower entry), NONE when
 * none of them has one. So an entry without a time sorts with the entry
 * before it, a back-dated entry sorts where its side put it, and every
 * side's inserted run is in order. The value is the same in every merged
 * file that holds the entry: an entry of another side merged in between
 * has a value between the two (the merge takes the smaller head), which
 * makes merging associative (any merge order of any number of replicas
 * gives the same file). Memoised per entry; the walk back stops at the
 * first entry already known.
 */
function effTs(doc: Doc, j: number): number {
  const known = doc.eff[j]!;
  if (!Number.isNaN(known)) return known;
  if (j < doc.shared) return (doc.eff[j] = effTs(doc.ref!, j));
  const level = levelOf(doc, j);
  const chain = [j]; // entries of this level whose value is not known yet, newest first
  let start = NONE;
  for (let k = j - 1; k >= 0; k--) {
    if (k < doc.shared) {
      start = siblingEff(doc.ref!, k, level); // the same entries as ref's from here back
      break;
    }
    const lk = levelOf(doc, k);
    if (lk > level) continue;
    if (lk < level) break;
    const e = doc.eff[k]!;
    if (!Number.isNaN(e)) {
      start = e;
      break;
    }
    chain.push(k);
  }
  let cur = start;
  for (let c = chain.length - 1; c >= 0; c--) {
    const k = chain[c]!;
    const t = ownTs(doc, k);
    if (t > cur) cur = t;
    doc.eff[k] = cur;
  }
  return cur;
}

/** The effective timestamp of the nearest entry at or before k of the given level, within its section; NONE when none. */
function siblingEff(doc: Doc, k: number, level: number): number {
  for (; k >= 0; k--) {
    const lk = levelOf(doc, k);
    if (lk === level) return effTs(doc, k);
    if (lk < level) return NONE;
  }
  return NONE;
}

/** First non-blank line, at most 300 characters. */
function firstLine(body: string): string {
  let s = 0;
  while (s < body.length && /\s/.test(body[s]!)) s++;
  const nl = body.indexOf('\n', s);
  return body.slice(s, nl < 0 ? Math.min(body.length, s + 300) : Math.min(nl, s + 300));
}

/** Timestamp fields of a JSON object entry. */
function jsonTimestamp(body: string, fileDay: number | null): number | null {
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


// ---------------------------------------------------------------------------
// Diff: which entries of `a` reappear in `b`

/** For each index of `a`, the index of the same entry in `b`, or -1. Monotone. */
function diffMatch(a: string[], b: string[]): Int32Array {
  const res = new Int32Array(a.length).fill(-1);
  let lo = 0;
  while (lo < a.length && lo < b.length && a[lo] === b[lo]) res[lo] = lo++;
  let ha = a.length;
  let hb = b.length;
  while (ha > lo && hb > lo && a[ha - 1] === b[hb - 1]) res[--ha] = --hb;
  if (lo === ha || lo === hb) return res;
  // intern the changed middle into ints
  const ids = new Map<string, number>();
  const intern = (s: string): number => {
    let id = ids.get(s);
    if (id === undefined) ids.set(s, (id = ids.size));
    return id;
  };
  const ia = new Int32Array(a.length);
  const ib = new Int32Array(b.length);
  for (let i = lo; i < ha; i++) ia[i] = intern(a[i]!);
  for (let j = lo; j < hb; j++) ib[j] = intern(b[j]!);
  patience(ia, ib, lo, ha, lo, hb, res);
  return res;
}

/** Patience diff over ranges, with an explicit stack (no recursion depth limit). */
function patience(a: Int32Array, b: Int32Array, a0: number, a1: number, b0: number, b1: number, res: Int32Array): void {
  const stack: number[] = [a0, a1, b0, b1];
  while (stack.length > 0) {
    let hb = stack.pop()!;
    let lb = stack.pop()!;
    let ha = stack.pop()!;
    let la = stack.pop()!;
    while (la < ha && lb < hb && a[la] === b[lb]) res[la++] = lb++;
    while (la < ha && lb < hb && a[ha - 1] === b[hb - 1]) res[--ha] = --hb;
    if (la === ha || lb === hb) continue;
    // entries unique in both ranges are anchors; keep the longest increasing run of them
    const inA = new Map<number, number>();
    for (let i = la; i < ha; i++) inA.set(a[i]!, inA.has(a[i]!) ? -1 : i);
    const inB = new Map<number, number>();
    for (let j = lb; j < hb; j++) {
      const id = b[j]!;
      if (inA.has(id)) inB.set(id, inB.has(id) ? -1 : j);
    }
    const candA: number[] = [];
    const candB: number[] = [];
    for (let i = la; i < ha; i++) {
      const id = a[i]!;
      if (inA.get(id) !== i) continue;
      const j = inB.get(id);
      if (j !== undefined && j >= 0) {
        candA.push(i);
        candB.push(j);
      }
    }
    const lis = longestIncreasing(candB);
    if (lis.length > 0) {
      let pa = la;
      let pb = lb;
      for (const k of lis) {
        const i = candA[k]!;
        const j = candB[k]!;
        res[i] = j;
        if (pa < i && pb < j) stack.push(pa, i, pb, j);
        pa = i + 1;
        pb = j + 1;
      }
      if (pa < ha && pb < hb) stack.push(pa, ha, pb, hb);
    } else if ((ha - la) * (hb - lb) <= 250_000) {
      lcsSmall(a, b, la, ha, lb, hb, res);
    }
    // else: a large region without anchors is left as one replaced block
  }
}

/** Indices (into xs) of a longest strictly increasing subsequence. */
function longestIncreasing(xs: number[]): number[] {
  const tails: number[] = []; // index into xs of the smallest tail of each length
  const prev = new Int32Array(xs.length).fill(-1);
  for (let k = 0; k < xs.length; k++) {
    const x = xs[k]!;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[tails[mid]!]! < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[k] = tails[lo - 1]!;
    tails[lo] = k;
  }
  const out: number[] = [];
  for (let k = tails.length > 0 ? tails[tails.length - 1]! : -1; k >= 0; k = prev[k]!) out.push(k);
  return out.reverse();
}

/** Quadratic LCS for small regions. */
function lcsSmall(a: Int32Array, b: Int32Array, la: number, ha: number, lb: number, hb: number, res: Int32Array): void {
  const n = ha - la;
  const m = hb - lb;
  const w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * w + j] = a[la + i] === b[lb + j] ? L[(i + 1) * w + j + 1]! + 1 : Math.max(L[(i + 1) * w + j]!, L[i * w + j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[la + i] === b[lb + j]) {
      res[la + i] = lb + j;
      i++;
      j++;
    } else if (L[(i + 1) * w + j]! >= L[i * w + j + 1]!) i++;
    else j++;
  }
}

// ---------------------------------------------------------------------------
// Alignment of a side with base: kept, edited, deleted entries and insertions

interface Alignment {
  /** base index → index of the same or edited entry in the side; -1 = deleted. */
  baseTo: Int32Array;
  /** 1 where baseTo points at an edited version (different content). */
  edited: Uint8Array;
  /** Entries the side inserted before base entry k (k = base length: at the end): side range [start, end); start -1 = none. */
  gapStart: Int32Array;
  gapEnd: Int32Array;
}

function align(base: Doc, side: Doc, early = false): Alignment {
  const n = base.bodies.length;
  const m = side.bodies.length;
  const baseTo = diffMatch(base.bodies, side.bodies);
  const edited = new Uint8Array(n);
  // pair up the entries of each changed region: similar ones are edits
  let pi = -1;
  let pj = -1;
  for (let i = 0; i <= n; i++) {
    const j = i < n ? baseTo[i]! : m;
    if (j < 0) continue;
    if (i - pi > 1 && j - pj > 1) pairEdits(base, pi + 1, i, side, pj + 1, j, baseTo, edited);
    pi = i;
    pj = j;
  }
  return withGaps(baseTo, edited, m, early);
}

/**
 * Unmatched side entries go in the gap before the next surviving base entry
 * (after the base entries the side deleted there, so they meet the other
 * side's insertions after those entries), or with `early` right after the
 * previous one (restoreLost puts lost entries back after the new ones).
 */
function withGaps(baseTo: Int32Array, edited: Uint8Array, m: number, early = false): Alignment {
  const n = baseTo.length;
  const gapStart = new Int32Array(n + 1).fill(-1);
  const gapEnd = new Int32Array(n + 1).fill(-1);
  let prev = -1;
  for (let i = 0; i <= n; i++) {
    const j = i < n ? baseTo[i]! : m;
    if (j < 0) continue;
    if (j > prev + 1) {
      let g = i;
      if (early) while (g > 0 && baseTo[g - 1]! < 0) g--;
      gapStart[g] = prev + 1;
      gapEnd[g] = j;
    }
    prev = j;
  }
  return { baseTo, edited, gapStart, gapEnd };
}

/**
 * Pair base[i0,i1) with side[j0,j1) as edits: a 1:1 replacement always;
 * otherwise each side entry, in order, with the next unpaired base entry
 * that has the same identity (timestamp and first words, see identityOf;
 * looked up in a map over the whole region, so an entry 1,000 entries deep
 * pairs as well as the first), else with the next similar base entry within
 * WINDOW entries. Pairs stay in order on both sides; a side entry with no
 * partner is an insertion, a base entry left over a deletion (which loses
 * nothing: the other side's edit of it is kept).
 */
function pairEdits(base: Doc, i0: number, i1: number, side: Doc, j0: number, j1: number, baseTo: Int32Array, edited: Uint8Array): void {
  if (i1 - i0 === 1 && j1 - j0 === 1) {
    baseTo[i0] = j0;
    edited[i0] = base.bodies[i0] === side.bodies[j0] ? 0 : 1;
    return;
  }
  const byId = new Map<string, number[]>();
  for (let k = i1 - 1; k >= i0; k--) {
    const id = identityOf(base, k);
    if (id === null) continue;
    const list = byId.get(id);
    if (list) list.push(k);
    else byId.set(id, [k]);
  }
  let i = i0;
  let lastPaired = false;
  for (let j = j0; j < j1 && i < i1; j++) {
    const k = partnerOf(base, i, i1, side, j, byId);
    if (k < 0) continue;
    baseTo[k] = j;
    edited[k] = base.bodies[k] === side.bodies[j] ? 0 : 1;
    i = k + 1;
    lastPaired = j === j1 - 1;
  }
  // a file cut short mid-entry: its last entry is the start of a base entry
  const last = side.bodies.length - 1;
  if (j1 - 1 === last && !lastPaired) {
    const cut = side.bodies[last]!;
    for (let k = i; k < i1 && cut !== ''; k++) {
      if (base.bodies[k]!.startsWith(cut)) {
        baseTo[k] = last;
        edited[k] = 1;
        break;
      }
    }
  }
}

/** How far from the last pair a similar-but-not-identical entry is looked for. */
const WINDOW = 100;

/** The base entry (index >= i) that side entry j edits, or -1. byId lists are newest-first stacks. */
function partnerOf(base: Doc, i: number, i1: number, side: Doc, j: number, byId: Map<string, number[]>): number {
  const id = identityOf(side, j);
  const list = id === null ? undefined : byId.get(id);
  if (list) {
    while (list.length > 0 && list[list.length - 1]! < i) list.pop();
    if (list.length > 0) return list.pop()!;
  }
  for (let k = i; k < i1 && k - i < WINDOW; k++) if (similar(base, k, side, j)) return k;
  return -1;
}

/**
 * What identifies an entry across edits: its timestamp and the first five
 * words of its first line, with the list marker, a task box and heading
 * marks left out (ticking `- [ ]` or adding words at the end keeps it).
 * null when the line has no word of three letters (too weak to pair on).
 */
function identityOf(doc: Doc, j: number): string | null {
  const line = firstLine(doc.bodies[j]!).replace(/^(?:#{1,6}|[-*+]|\d{1,9}[.)])?[ \t]*(?:\[[ xX~-]\][ \t]*)?/, '');
  const words = line.match(/[\p{L}\p{N}_]+/gu);
  if (!words || !words.some((w) => w.length >= 3)) return null;
  const t = ownTs(doc, j);
  return `${t === NONE ? '' : t}|${words.slice(0, 5).join(' ')}`;
}

/**
 * Two versions of one entry: the same timestamp if both carry one (an edit
 * of a log entry keeps its time), and the same first line (with some words
 * in it, perhaps with words added at its end) or mostly the same characters.
 */
function similar(dx: Doc, i: number, dy: Doc, j: number): boolean {
  const tx = ownTs(dx, i);
  const ty = ownTs(dy, j);
  if (tx !== NONE && ty !== NONE && tx !== ty) return false;
  const x = dx.bodies[i]!;
  const y = dy.bodies[j]!;
  const fx = firstLine(x);
  const fy = firstLine(y);
  const [short, long] = fx.length <= fy.length ? [fx, fy] : [fy, fx];
  if (/\w{3}/.test(short) && long.startsWith(short)) return true; // same first line, or words added to it
  return dice(x.slice(0, 256), y.slice(0, 256)) >= 0.6;
}

/** Dice coefficient of the character bigrams of two strings. */
function dice(x: string, y: string): number {
  if (x.length < 2 || y.length < 2) return x === y ? 1 : 0;
  const counts = new Map<string, number>();
  for (let i = 0; i < x.length - 1; i++) {
    const g = x.slice(i, i + 2);
    counts.set(g, (counts.get(g) ?? 0) + 1);
  }
  let common = 0;
  for (let i = 0; i < y.length - 1; i++) {
    const g = y.slice(i, i + 2);
    const c = counts.get(g) ?? 0;
    if (c > 0) {
      common++;
      counts.set(g, c - 1);
    }
  }
  return (2 * common) / (x.length - 1 + y.length - 1);
}

/** `after` is `before` cut short (a truncated write), at the end of the file. */
function isTruncation(before: string, after: string, atEnd: boolean): boolean {
  return atEnd && after.length < before.length && before.startsWith(after);
}

// ---------------------------------------------------------------------------
// Merge

interface Unit {
  start: number;
  end: number;
  level: number;
  eff: number;
}

/**
 * Split a run of inserted entries into units: entries before the first
 * starter stand alone (level 7); a starter (level < 7 and not deeper than
 * the shallowest starter so far) takes every deeper entry after it. Levels
 * never increase from unit to unit within a run, so a merged run splits back
 * into the same units.
 */
function splitUnits(doc: Doc, s: number, e: number): Unit[] {
  const units: Unit[] = [];
  let min = 8;
  for (let j = s; j < e; j++) {
    const lv = levelOf(doc, j);
    if ((lv < 7 && lv <= min) || min === 8) {
      units.push({ start: j, end: j + 1, level: lv, eff: effTs(doc, j) });
      if (lv < 7) min = lv;
    } else units[units.length - 1]!.end = j + 1;
  }
  return units;
}

/**
 * Order of units: deeper first, then timestamp, then by the text of their
 * head (the first entry; with the next one too when the first is a bare
 * separator such as `§`). 0 = the same unit: both sides added the same head
 * (a heading, a timestamped line, a value), so it appears once and what
 * follows it on each side is merged under it. Units with different heads (a
 * heading with different paragraph text is a different entry) are never
 * fused.
 */
function compareUnits(da: Doc, ua: Unit, db: Doc, ub: Unit): number {
  if (ua.level !== ub.level) return ub.level - ua.level;
  if (ua.eff !== ub.eff) return ua.eff < ub.eff ? -1 : 1;
  const len = Math.max(headLength(da, ua), headLength(db, ub));
  for (let t = 0; t < len; t++) {
    const x = ua.start + t < ua.end ? da.bodies[ua.start + t]! : '';
    const y = ub.start + t < ub.end ? db.bodies[ub.start + t]! : '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Entries that identify a unit: its first, plus the next when the first has no word in it (`§`, `---`). */
function headLength(d: Doc, u: Unit): number {
  return u.end - u.start > 1 && !/[\p{L}\p{N}]/u.test(d.bodies[u.start]!) ? 2 : 1;
}

/** Number of leading entries two units have in common. */
function commonEntries(da: Doc, ua: Unit, db: Doc, ub: Unit): number {
  const len = Math.min(ua.end - ua.start, ub.end - ub.start);
  let t = 0;
  while (t < len && da.bodies[ua.start + t] === db.bodies[ub.start + t]) t++;
  return t;
}

/** The longer separator (more blank lines), ties by content: a choice independent of sides. */
function maxSep(x: string, y: string): string {
  if (x.length !== y.length) return x.length > y.length ? x : y;
  return x >= y ? x : y;
}

/** Three-way choice of a separator; base null = no base. */
function merge3(o: string | null, x: string, y: string): string {
  if (x === y) return x;
  if (o !== null && x === o) return y;
  if (o !== null && y === o) return x;
  return maxSep(x, y);
}

/** A separator cut after its last newline (a file's tail may end in spaces), at least one newline. */
function lineBreaks(sep: string): string {
  return sep.slice(0, sep.lastIndexOf('\n') + 1) || '\n';
}

function leadOf(doc: Doc, j: number): string {
  return j > 0 ? doc.seps[j - 1]! : '';
}

function tailOf(doc: Doc): string {
  return doc.seps.length > 0 ? doc.seps[doc.seps.length - 1]! : '';
}

const MARKER_LINE_RE = /^(?:<{7,}|={7,}|>{7,}|\|{7,})(?:[ \t].*)?$/;

/** Drop conflict-marker lines (a virtual ancestor of a criss-cross merge). */
function stripMarkers(text: string): string {
  if (!['<<<<<<<', '=======', '>>>>>>>', '|||||||'].some((m) => text.includes(m))) return text;
  if (!/^(?:<{7,}|={7,}|>{7,}|\|{7,})/m.test(text)) return text;
  return text
    .split('\n')
    .filter((l) => !MARKER_LINE_RE.test(l))
    .join('\n');
}

interface CoreOptions {
  /** restoreLost: ours = base; theirs' deletions and truncations are undone. */
  restore: boolean;
}

function mergeCore(path: string, baseText: string | null, ours: string, theirs: string, opts: CoreOptions): LogMergeOutput {
  const notes: string[] = [];
  const conflicts: Conflict[] = [];
  const stats = emptyStats();
  let cleanBase = baseText;
  if (baseText !== null) {
    cleanBase = stripMarkers(baseText);
    if (cleanBase !== baseText) notes.push('base had conflict markers (a virtual ancestor); ignored them');
  }
  const mode = detectMode(path, [cleanBase, ours, theirs]);
  const day = fileDayOf(path);
  const refDoc = cleanBase === null || cleanBase === '' ? null : parseDoc(cleanBase, mode, day);
  const A = parseDoc(ours, mode, day, refDoc ?? undefined);
  const B = parseDoc(theirs, mode, day, refDoc ?? A);

  // Base: the real one, or for a file both sides added, their common leading entries.
  let O: Doc;
  let realBase = true;
  if (cleanBase === null || cleanBase === '') {
    realBase = false;
    let p = 0;
    while (p < A.bodies.length && p < B.bodies.length && A.bodies[p] === B.bodies[p]) p++;
    O = { ...A, bodies: A.bodies.slice(0, p), seps: A.seps.slice(0, p) };
  } else O = refDoc!;
  const n = O.bodies.length;
  let alA = align(O, A);
  let alB = align(O, B, opts.restore);
  // An "edit" whose new text the other side inserted is really a deletion
  // plus that insertion (both have an entry base lacks, and one side also
  // dropped a base entry next to it): unpair it so the two copies meet.
  {
    const insA = insertedBodies(A, alA);
    const insB = insertedBodies(B, alB);
    const unpair = (al: Alignment, d: Doc, other: Set<string>, m: number, early: boolean): Alignment => {
      if (other.size === 0) return al;
      let changed = false;
      const baseTo = al.baseTo.slice();
      const edited = al.edited.slice();
      for (let k = 0; k < n; k++) {
        if (edited[k] && other.has(d.bodies[baseTo[k]!]!)) {
          baseTo[k] = -1;
          edited[k] = 0;
          changed = true;
        }
      }
      return changed ? withGaps(baseTo, edited, m, early) : al;
    };
    const nA = unpair(alA, A, insB, A.bodies.length, false);
    const nB = unpair(alB, B, insA, B.bodies.length, opts.restore);
    alA = nA;
    alB = nB;
  }

  const outBodies: string[] = [];
  const outLeads: string[] = [];
  // the separator that followed each output entry in its source: used in front
  // of an entry that starts its own file but not the output
  const outTrails: string[] = [];
  const emit = (body: string, lead: string, trail: string): void => {
    outBodies.push(body);
    outLeads.push(lead);
    outTrails.push(trail);
  };
  const baseLead = (i: number): string | null => (realBase ? leadOf(O, i) : null);

  const emitRun = (d: Doc, s: number, e: number): void => {
    for (let j = s; j < e; j++) emit(d.bodies[j]!, leadOf(d, j), d.seps[j]!);
  };

  const emitOneSide = (d: Doc, side: 0 | 1, s: number, e: number): void => {
    if (side === 0) stats.fromOurs! += e - s;
    else stats.fromTheirs! += e - s;
    emitRun(d, s, e);
  };

  /** Merge the runs A[as, ae) and B[bs, be) inserted at one place, unit by unit (see compareUnits). */
  const mergeRuns = (as: number, ae: number, bs: number, be: number): void => {
    if (bs >= be) return emitOneSide(A, 0, as, ae);
    if (as >= ae) return emitOneSide(B, 1, bs, be);
    const ua = splitUnits(A, as, ae);
    const ub = splitUnits(B, bs, be);
    let x = 0;
    let y = 0;
    while (x < ua.length || y < ub.length) {
      const u = ua[x];
      const v = ub[y];
      if (v === undefined || (u !== undefined && compareUnits(A, u, B, v) < 0)) {
        emitOneSide(A, 0, u!.start, u!.end);
        x++;
      } else if (u === undefined || compareUnits(A, u, B, v) > 0) {
        emitOneSide(B, 1, v.start, v.end);
        y++;
      } else {
        // the same unit from both sides: common entries once, then what each added
        const t = commonEntries(A, u, B, v);
        for (let k = 0; k < t; k++) {
          const ja = u.start + k;
          const jb = v.start + k;
          emit(A.bodies[ja]!, maxSep(leadOf(A, ja), leadOf(B, jb)), maxSep(A.seps[ja]!, B.seps[jb]!));
        }
        stats.both! += t;
        mergeRuns(u.start + t, u.end, v.start + t, v.end);
        x++;
        y++;
      }
    }
  };

  const mergeGap = (k: number): void => {
    const as = alA.gapStart[k]!;
    const bs = alB.gapStart[k]!;
    if (as < 0 && bs < 0) return;
    mergeRuns(as < 0 ? 0 : as, as < 0 ? 0 : alA.gapEnd[k]!, bs < 0 ? 0 : bs, bs < 0 ? 0 : alB.gapEnd[k]!);
  };

  for (let k = 0; k <= n; k++) {
    mergeGap(k);
    if (k === n) break;
    const body = O.bodies[k]!;
    const ja = alA.baseTo[k]!;
    const jb = alB.baseTo[k]!;
    if (opts.restore && (jb < 0 || (alB.edited[k] && isTruncation(body, B.bodies[jb]!, jb === B.bodies.length - 1)))) {
      emit(body, leadOf(O, k), O.seps[k]!); // lost or cut short in the work tree: restore the committed entry
      continue;
    }
    const aBody = ja < 0 ? null : A.bodies[ja]!;
    const bBody = jb < 0 ? null : B.bodies[jb]!;
    if (aBody === null && bBody === null) {
      stats.deleted!++;
      continue;
    }
    const aLead = aBody === null ? leadOf(O, k) : leadOf(A, ja);
    const bLead = bBody === null ? leadOf(O, k) : leadOf(B, jb);
    const lead = merge3(baseLead(k), aLead, bLead);
    const trail = merge3(realBase ? O.seps[k]! : null, aBody === null ? O.seps[k]! : A.seps[ja]!, bBody === null ? O.seps[k]! : B.seps[jb]!);
    const aEdit = aBody !== null && alA.edited[k] === 1;
    const bEdit = bBody !== null && alB.edited[k] === 1;
    if (aBody === null || bBody === null) {
      const kept = aBody ?? bBody!;
      if (!aEdit && !bEdit) {
        stats.deleted!++; // deleted on one side, unchanged on the other
      } else {
        emit(kept, lead, trail);
        stats.edited!++;
        notes.push(`an entry deleted on one side was edited on the other; kept the edit: ${preview(kept)}`);
      }
      continue;
    }
    if (!aEdit && !bEdit) emit(body, lead, trail);
    else if (!aEdit || !bEdit || aBody === bBody) {
      emit(aEdit ? aBody : bBody, lead, trail);
      stats.edited!++;
    } else {
      const merged = mergeEdits(body, aBody, bBody, day);
      if (merged !== null) {
        emit(merged, lead, trail);
        stats.edited!++;
      } else {
        // edited differently on both sides: keep both versions, report it
        const [first, second] = aBody < bBody ? [aBody, bBody] : [bBody, aBody];
        emit(first, lead, trail);
        emit(second, lead || '\n', trail);
        const r = pickWinner(sideValue(aBody, undefined), sideValue(bBody, undefined));
        conflicts.push({ path, key: 'entry', winner: r.winner, loser: r.loser, rule: r.rule });
        stats.conflicts!++;
        notes.push(`an entry was edited differently on both sides; kept both versions: ${preview(first)}`);
      }
    }
  }

  let text = '';
  if (outBodies.length > 0) {
    const tail = opts.restore ? maxSep(tailOf(O), tailOf(B)) : merge3(realBase ? tailOf(O) : null, tailOf(A), tailOf(B));
    const parts: string[] = [];
    for (let t = 0; t < outBodies.length; t++) {
      if (t > 0) parts.push(outLeads[t] || lineBreaks(outTrails[t - 1]!));
      parts.push(outBodies[t]!);
    }
    parts.push(tail);
    text = parts.join('');
  }
  return { text, stats, notes, conflicts };
}

/** Bodies of the entries a side inserted (not matched or paired with a base entry). */
function insertedBodies(d: Doc, al: Alignment): Set<string> {
  const out = new Set<string>();
  for (let k = 0; k < al.gapStart.length; k++) {
    const s = al.gapStart[k]!;
    if (s >= 0) for (let j = s; j < al.gapEnd[k]!; j++) out.add(d.bodies[j]!);
  }
  return out;
}

function preview(s: string): string {
  return JSON.stringify(firstLine(s).slice(0, 60));
}

/**
 * Two different edits of one base entry, merged when that is safe: both only
 * appended lines (the shorter kept once if it is a prefix of the other, else
 * both extensions, ordered by timestamp then content), or a line-level
 * three-way merge is clean and the same in both directions. null = keep both.
 */
function mergeEdits(base: string, a: string, b: string, fileDay: number | null): string | null {
  const pre = base + '\n';
  if (base !== '' && a.startsWith(pre) && b.startsWith(pre)) {
    const ea = a.slice(pre.length);
    const eb = b.slice(pre.length);
    if (ea.startsWith(eb + '\n')) return a;
    if (eb.startsWith(ea + '\n')) return b;
    const ta = textTimestamp(firstLine(ea), fileDay) ?? NONE;
    const tb = textTimestamp(firstLine(eb), fileDay) ?? NONE;
    const aFirst = ta !== tb ? ta < tb : ea < eb;
    return pre + (aFirst ? ea + '\n' + eb : eb + '\n' + ea);
  }
  const lo = base.split('\n');
  const la = a.split('\n');
  const lb = b.split('\n');
  if (lo.length + la.length + lb.length > 3000) return null;
  const run = (x: string[], y: string[]): string | null => {
    const out: string[] = [];
    for (const region of diff3Merge(x, lo, y)) {
      const c = region.conflict;
      if (c) {
        const line = c.a.length === 1 && c.o.length === 1 && c.b.length === 1 ? mergeSpans(c.o[0]!, c.a[0]!, c.b[0]!) : null;
        if (line === null) return null;
        out.push(line);
      } else if (region.ok) out.push(...region.ok);
    }
    return out.join('\n');
  };
  const r1 = run(la, lb);
  return r1 !== null && r1 === run(lb, la) ? r1 : null;
}

/**
 * One line changed on both sides in different places (a task ticked on one,
 * words added at its end on the other): each side's change is one span of
 * the base line; when the spans are apart, both are applied. null otherwise.
 */
function mergeSpans(o: string, a: string, b: string): string | null {
  const span = (x: string): [number, number] => {
    let p = 0;
    while (p < o.length && p < x.length && o[p] === x[p]) p++;
    let q = 0;
    while (q < o.length - p && q < x.length - p && o[o.length - 1 - q] === x[x.length - 1 - q]) q++;
    return [p, o.length - q];
  };
  const [as, ae] = span(a);
  const [bs, be] = span(b);
  if (ae < bs) return a.slice(0, a.length - (o.length - ae)) + o.slice(ae, bs) + b.slice(bs);
  if (be < as) return b.slice(0, b.length - (o.length - be)) + o.slice(be, as) + a.slice(as);
  return null;
}
