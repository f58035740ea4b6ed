/**
 * The log merge itself (see ../log.ts): per base entry, then the gaps of
 * inserted entries merged unit by unit.
 */
import { diff3Merge } from 'node-diff3';
import type { Conflict } from '../types.js';
import { pickWinner, side as sideValue } from '../util.js';
import { textTimestamp } from '../decide.js';
import { align, insertedBodies, isTruncation, keepsEntry, withGaps } from './align.js';
import type { Alignment } from './align.js';
import { NONE, detectMode, fileDayOf, firstLine, leadOf, leavesFenceOpen, levelOf, parseDoc, stripMarkers, tailOf } from './entries.js';
import type { Doc } from './entries.js';
import { commonEntries, compareUnits, splitUnits } from './order.js';

export interface LogMergeOutput {
  text: string;
  stats: Record<string, number>;
  notes: string[];
  conflicts: Conflict[];
}

export function emptyStats(): Record<string, number> {
  return { fromOurs: 0, fromTheirs: 0, both: 0, deleted: 0, edited: 0, conflicts: 0 };
}

/** The longer separator (more blank lines), ties by content: a choice independent of sides. */
export function maxSep(x: string, y: string): string {
  if (x.length !== y.length) return x.length > y.length ? x : y;
  return x >= y ? x : y;
}

/** Three-way choice of a separator; base null = no base. */
export function merge3(o: string | null, x: string, y: string): string {
  if (x === y) return x;
  if (o !== null && x === o) return y;
  if (o !== null && y === o) return x;
  return maxSep(x, y);
}

/** A separator cut after its last newline (a file's tail may end in spaces), at least one newline. */
export function lineBreaks(sep: string): string {
  return sep.slice(0, sep.lastIndexOf('\n') + 1) || '\n';
}

export interface CoreOptions {
  /** restoreLost: ours = base; theirs' deletions and truncations are undone. */
  restore: boolean;
}

export function mergeCore(path: string, baseText: string | null, ours: string, theirs: string, opts: CoreOptions): LogMergeOutput {
  const m = prepare(path, baseText, ours, theirs, opts);
  const n = m.O.bodies.length;
  for (let k = 0; k <= n; k++) {
    mergeGap(m, k);
    if (k < n) mergeBaseEntry(m, k);
  }
  if (m.O.mode === 'markdown') openFencesLast(m);
  return { text: render(m), stats: m.stats, notes: m.notes, conflicts: m.conflicts };
}

/**
 * An entry cut short inside a code fence goes after every other entry: in
 * front of them it would swallow them (they would read as its text, and
 * restoreLost's restored entries as still lost).
 */
function openFencesLast(m: Merge): void {
  const open: number[] = [];
  for (let t = 0; t < m.outBodies.length - 1; t++) if (leavesFenceOpen(m.outBodies[t]!)) open.push(t);
  if (open.length === 0) return;
  const order = [...m.outBodies.keys()].filter((t) => !open.includes(t)).concat(open);
  const pick = (xs: string[]): string[] => order.map((t) => xs[t]!);
  m.outBodies = pick(m.outBodies);
  m.outLeads = pick(m.outLeads);
  m.outTrails = pick(m.outTrails);
}

/** One merge in progress: the documents, their alignments with base, and the output so far. */
interface Merge {
  path: string;
  day: number | null;
  opts: CoreOptions;
  O: Doc;
  A: Doc;
  B: Doc;
  /** false: both sides added the file; O is their common leading entries. */
  realBase: boolean;
  alA: Alignment;
  alB: Alignment;
  outBodies: string[];
  outLeads: string[];
  /** The separator that followed each output entry in its source: used in front of an entry that starts its own file but not the output. */
  outTrails: string[];
  stats: Record<string, number>;
  notes: string[];
  conflicts: Conflict[];
}

/** Parse the three versions and align each side with base. */
function prepare(path: string, baseText: string | null, ours: string, theirs: string, opts: CoreOptions): Merge {
  const notes: string[] = [];
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
  if (refDoc === null) {
    let p = 0;
    while (p < A.bodies.length && p < B.bodies.length && A.bodies[p] === B.bodies[p]) p++;
    O = { ...A, bodies: A.bodies.slice(0, p), seps: A.seps.slice(0, p) };
  } else O = refDoc;
  const [alA0, alB0] = unpairInserted(O, A, align(O, A), B, align(O, B, opts.restore), opts.restore);
  const [alA, alB] = unpairReplaced(O, A, alA0, B, alB0, opts.restore);
  return { path, day, opts, O, A, B, realBase: refDoc !== null, alA, alB, outBodies: [], outLeads: [], outTrails: [], stats: emptyStats(), notes, conflicts: [] };
}

/**
 * An "edit" whose new text the other side inserted is really a deletion
 * plus that insertion (both have an entry base lacks, and one side also
 * dropped a base entry next to it): unpair it so the two copies meet.
 */
function unpairInserted(O: Doc, A: Doc, alA: Alignment, B: Doc, alB: Alignment, restore: boolean): [Alignment, Alignment] {
  const insA = insertedBodies(A, alA);
  const insB = insertedBodies(B, alB);
  return [
    insB.size === 0 ? alA : unpairWhere(O, alA, A, false, (k) => alA.edited[k] === 1 && insB.has(A.bodies[alA.baseTo[k]!]!)),
    insA.size === 0 ? alB : unpairWhere(O, alB, B, restore, (k) => alB.edited[k] === 1 && insA.has(B.bodies[alB.baseTo[k]!]!)),
  ];
}

/**
 * A base entry both sides changed, where a side's version does not keep it
 * (keepsEntry: a 1:1 replacement or a resemblance pairs whatever stands in
 * its place, such as the next event with another time or id): that side
 * deleted the entry and inserted its own, so the other side's edit is kept
 * whole next to it, never fused line by line with another entry.
 */
function unpairReplaced(O: Doc, A: Doc, alA: Alignment, B: Doc, alB: Alignment, restore: boolean): [Alignment, Alignment] {
  const both = (k: number): boolean => alA.edited[k] === 1 && alB.edited[k] === 1 && A.bodies[alA.baseTo[k]!] !== B.bodies[alB.baseTo[k]!];
  const keeps = (d: Doc, al: Alignment, k: number): boolean => keepsEntry(O, k, d, al.baseTo[k]!) && sameParent(O, k, d, al);
  return [
    unpairWhere(O, alA, A, false, (k) => both(k) && !keeps(A, alA, k)),
    unpairWhere(O, alB, B, restore, (k) => both(k) && !keeps(B, alB, k)),
  ];
}

/**
 * The side's version of base entry k sits under the side's version of the
 * heading k sits under (a `## Conversation Summary` of another session is
 * another entry). Headings looked for up to PARENT_SCAN entries back; none
 * found on either side: true.
 */
function sameParent(O: Doc, k: number, d: Doc, al: Alignment): boolean {
  const po = parentOf(O, k);
  const pd = parentOf(d, al.baseTo[k]!);
  if (po === -2 || pd === -2) return true;
  return po < 0 ? pd < 0 : al.baseTo[po] === pd;
}

const PARENT_SCAN = 1000;

/** The nearest entry before j of a shallower level; -1 = none, -2 = not within PARENT_SCAN entries. */
function parentOf(d: Doc, j: number): number {
  const level = levelOf(d, j);
  for (let k = j - 1; k >= 0; k--) {
    if (j - k > PARENT_SCAN) return -2;
    if (levelOf(d, k) < level) return k;
  }
  return -1;
}

/** The alignment with the pairs of the base entries `drop` picks undone (those side entries become insertions). */
function unpairWhere(O: Doc, al: Alignment, d: Doc, early: boolean, drop: (k: number) => boolean): Alignment {
  const ks: number[] = [];
  for (let k = 0; k < O.bodies.length; k++) if (drop(k)) ks.push(k);
  if (ks.length === 0) return al;
  const baseTo = al.baseTo.slice();
  const edited = al.edited.slice();
  for (const k of ks) {
    baseTo[k] = -1;
    edited[k] = 0;
  }
  return withGaps(baseTo, edited, d.bodies.length, early);
}

function emit(m: Merge, body: string, lead: string, trail: string): void {
  m.outBodies.push(body);
  m.outLeads.push(lead);
  m.outTrails.push(trail);
}

function emitOneSide(m: Merge, d: Doc, side: 0 | 1, s: number, e: number): void {
  if (side === 0) m.stats.fromOurs! += e - s;
  else m.stats.fromTheirs! += e - s;
  for (let j = s; j < e; j++) emit(m, d.bodies[j]!, leadOf(d, j), d.seps[j]!);
}

/** Merge the runs A[as, ae) and B[bs, be) inserted at one place, unit by unit (see compareUnits). */
function mergeRuns(m: Merge, as: number, ae: number, bs: number, be: number): void {
  const { A, B } = m;
  if (bs >= be) return emitOneSide(m, A, 0, as, ae);
  if (as >= ae) return emitOneSide(m, B, 1, bs, be);
  const ua = splitUnits(A, as, ae);
  const ub = splitUnits(B, bs, be);
  let x = 0;
  let y = 0;
  while (x < ua.length || y < ub.length) {
    const u = ua[x];
    const v = ub[y];
    const c = u === undefined ? 1 : v === undefined ? -1 : compareUnits(A, u, B, v);
    if (c < 0) {
      emitOneSide(m, A, 0, u!.start, u!.end);
      x++;
    } else if (c > 0) {
      emitOneSide(m, B, 1, v!.start, v!.end);
      y++;
    } else {
      // the same unit from both sides: common entries once, then what each added
      const t = commonEntries(A, u!, B, v!);
      for (let k = 0; k < t; k++) {
        const ja = u!.start + k;
        const jb = v!.start + k;
        emit(m, A.bodies[ja]!, maxSep(leadOf(A, ja), leadOf(B, jb)), maxSep(A.seps[ja]!, B.seps[jb]!));
      }
      m.stats.both! += t;
      mergeRuns(m, u!.start + t, u!.end, v!.start + t, v!.end);
      x++;
      y++;
    }
  }
}

/** The entries both sides inserted before base entry k (k = base length: at the end). */
function mergeGap(m: Merge, k: number): void {
  const as = m.alA.gapStart[k]!;
  const bs = m.alB.gapStart[k]!;
  if (as < 0 && bs < 0) return;
  mergeRuns(m, as < 0 ? 0 : as, as < 0 ? 0 : m.alA.gapEnd[k]!, bs < 0 ? 0 : bs, bs < 0 ? 0 : m.alB.gapEnd[k]!);
}

/** Base entry k: kept, deleted, edited on one side or on both (see the rules in ../log.ts). */
function mergeBaseEntry(m: Merge, k: number): void {
  const { O, A, B, alA, alB } = m;
  const body = O.bodies[k]!;
  const ja = alA.baseTo[k]!;
  const jb = alB.baseTo[k]!;
  if (m.opts.restore && (jb < 0 || (alB.edited[k] && isTruncation(body, B.bodies[jb]!, jb === B.bodies.length - 1)))) {
    emit(m, body, leadOf(O, k), O.seps[k]!); // lost or cut short in the work tree: restore the committed entry
    return;
  }
  const aBody = ja < 0 ? null : A.bodies[ja]!;
  const bBody = jb < 0 ? null : B.bodies[jb]!;
  if (aBody === null && bBody === null) {
    m.stats.deleted!++;
    return;
  }
  const aLead = aBody === null ? leadOf(O, k) : leadOf(A, ja);
  const bLead = bBody === null ? leadOf(O, k) : leadOf(B, jb);
  const lead = merge3(m.realBase ? leadOf(O, k) : null, aLead, bLead);
  const trail = merge3(m.realBase ? O.seps[k]! : null, aBody === null ? O.seps[k]! : A.seps[ja]!, bBody === null ? O.seps[k]! : B.seps[jb]!);
  const aEdit = aBody !== null && alA.edited[k] === 1;
  const bEdit = bBody !== null && alB.edited[k] === 1;
  if (aBody === null || bBody === null) {
    const kept = aBody ?? bBody!;
    if (!aEdit && !bEdit) {
      m.stats.deleted!++; // deleted on one side, unchanged on the other
    } else {
      emit(m, kept, lead, trail);
      m.stats.edited!++;
      m.notes.push(`an entry deleted on one side was edited on the other; kept the edit: ${preview(kept)}`);
    }
    return;
  }
  if (!aEdit && !bEdit) emit(m, body, lead, trail);
  else if (!aEdit || !bEdit || aBody === bBody) {
    emit(m, aEdit ? aBody : bBody, lead, trail);
    m.stats.edited!++;
  } else mergeBothEdited(m, body, aBody, bBody, lead, trail);
}

/** A base entry edited differently on both sides: merged when safe (mergeEdits), else both versions kept and reported. */
function mergeBothEdited(m: Merge, body: string, aBody: string, bBody: string, lead: string, trail: string): void {
  const merged = mergeEdits(body, aBody, bBody, m.day);
  if (merged !== null) {
    emit(m, merged, lead, trail);
    m.stats.edited!++;
    return;
  }
  const [first, second] = aBody < bBody ? [aBody, bBody] : [bBody, aBody];
  emit(m, first, lead, trail);
  emit(m, second, lead || '\n', trail);
  const r = pickWinner(sideValue(aBody, undefined), sideValue(bBody, undefined));
  m.conflicts.push({ path: m.path, key: 'entry', winner: r.winner, loser: r.loser, rule: r.rule });
  m.stats.conflicts!++;
  m.notes.push(`an entry was edited differently on both sides; kept both versions: ${preview(first)}`);
}

/** The output text: entries with their leads, then the file's tail. */
function render(m: Merge): string {
  const { O, A, B } = m;
  if (m.outBodies.length === 0) return '';
  const tail = m.opts.restore ? maxSep(tailOf(O), tailOf(B)) : merge3(m.realBase ? tailOf(O) : null, tailOf(A), tailOf(B));
  const parts: string[] = [];
  for (let t = 0; t < m.outBodies.length; t++) {
    if (t > 0) parts.push(m.outLeads[t] || lineBreaks(m.outTrails[t - 1]!));
    parts.push(m.outBodies[t]!);
  }
  parts.push(tail);
  return parts.join('');
}

export function preview(s: string): string {
  return JSON.stringify(firstLine(s).slice(0, 60));
}

/**
 * Two different edits of one base entry, merged when that is safe: both only
 * appended lines (the shorter kept once if it is a prefix of the other, else
 * both extensions, ordered by timestamp then content), or a line-level
 * three-way merge is clean and the same in both directions. null = keep both.
 */
export function mergeEdits(base: string, a: string, b: string, fileDay: number | null): string | null {
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
export function mergeSpans(o: string, a: string, b: string): string | null {
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
