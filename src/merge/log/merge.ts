/**
 * The log merge itself (see ../log.ts): per base entry, then the gaps of
 * inserted entries merged unit by unit.
 */
import { diff3Merge } from 'node-diff3';
import type { Conflict } from '../types.js';
import { pickWinner, side as sideValue } from '../util.js';
import { textTimestamp } from '../decide.js';
import { align, insertedBodies, isTruncation, withGaps } from './align.js';
import type { Alignment } from './align.js';
import { NONE, detectMode, fileDayOf, firstLine, leadOf, parseDoc, stripMarkers, tailOf } from './entries.js';
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
