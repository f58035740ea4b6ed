/**
 * Alignment of a side with base (see ../log.ts): kept, edited, deleted
 * entries and insertions.
 */
import { NONE, firstLine, ownTs } from './entries.js';
import type { Doc } from './entries.js';
import { diffMatch } from '../diff/patience.js';

export interface Alignment {
  /** base index → index of the same or edited entry in the side; -1 = deleted. */
  baseTo: Int32Array;
  /** 1 where baseTo points at an edited version (different content). */
  edited: Uint8Array;
  /** Entries the side inserted before base entry k (k = base length: at the end): side range [start, end); start -1 = none. */
  gapStart: Int32Array;
  gapEnd: Int32Array;
}

export function align(base: Doc, side: Doc, early = false): Alignment {
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
export function withGaps(baseTo: Int32Array, edited: Uint8Array, m: number, early = false): Alignment {
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
export function pairEdits(base: Doc, i0: number, i1: number, side: Doc, j0: number, j1: number, baseTo: Int32Array, edited: Uint8Array): void {
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
export const WINDOW = 100;

/** The base entry (index >= i) that side entry j edits, or -1. byId lists are newest-first stacks. */
export function partnerOf(base: Doc, i: number, i1: number, side: Doc, j: number, byId: Map<string, number[]>): number {
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
export function identityOf(doc: Doc, j: number): string | null {
  const words = headWords(doc.bodies[j]!);
  if (!words.some((w) => w.length >= 3)) return null;
  const t = ownTs(doc, j);
  return `${t === NONE ? '' : t}|${words.slice(0, 5).join(' ')}`;
}

/**
 * Two versions of one entry: the same timestamp if both carry one (an edit
 * of a log entry keeps its time), and the same first line (with some words
 * in it, perhaps with words added at its end) or mostly the same characters.
 */
export function similar(dx: Doc, i: number, dy: Doc, j: number): boolean {
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

/**
 * Side entry j still is base entry i, strictly enough to be merged with
 * the other side's edit of it: the same timestamp if both carry one, and
 * the words of the first line (list marker and task box left out) of one
 * start the other's (a box ticked, words added at the end). Entries whose
 * first lines have no word fall back to similar. A mere resemblance (the
 * next JSONL event, another id) is a different entry put in its place.
 */
export function keepsEntry(base: Doc, i: number, side: Doc, j: number): boolean {
  const ti = ownTs(base, i);
  const tj = ownTs(side, j);
  if (ti !== NONE && tj !== NONE && ti !== tj) return false;
  const x = headWords(base.bodies[i]!);
  const y = headWords(side.bodies[j]!);
  if (x.length === 0 || y.length === 0) return similar(base, i, side, j);
  const [short, long] = x.length <= y.length ? [x, y] : [y, x];
  return short.every((w, t) => long[t] === w);
}

/** The words of an entry's first line, without its list marker, heading marks and task box. */
function headWords(body: string): string[] {
  const line = firstLine(body).replace(/^(?:#{1,6}|[-*+]|\d{1,9}[.)])?[ \t]*(?:\[[ xX~-]\][ \t]*)?/, '');
  return line.match(/[\p{L}\p{N}_]+/gu) ?? [];
}

/** Dice coefficient of the character bigrams of two strings. */
export function dice(x: string, y: string): number {
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
export function isTruncation(before: string, after: string, atEnd: boolean): boolean {
  return atEnd && after.length < before.length && before.startsWith(after);
}

/** Bodies of the entries a side inserted (not matched or paired with a base entry). */
export function insertedBodies(d: Doc, al: Alignment): Set<string> {
  const out = new Set<string>();
  for (let k = 0; k < al.gapStart.length; k++) {
    const s = al.gapStart[k]!;
    if (s >= 0) for (let j = s; j < al.gapEnd[k]!; j++) out.add(d.bodies[j]!);
  }
  return out;
}
