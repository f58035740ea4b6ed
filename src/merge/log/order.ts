/**
 * Order of inserted entries (see ../log.ts): effective timestamps and the
 * units that are interleaved, compared and fused.
 */
import { NONE, levelOf, ownTs } from './entries.js';
import type { Doc } from './entries.js';

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
export function effTs(doc: Doc, j: number): number {
  const known = doc.eff[j]!;
  if (!Number.isNaN(known)) return known;
  if (j < doc.shared) return (doc.eff[j] = effTs(doc.ref!, j));
  const level = levelOf(doc, j);
  // back to the nearest entry of this level whose value is known (or the section's start) ...
  let start = NONE;
  let from = 0;
  for (let k = j - 1; k >= 0; k--) {
    if (k < doc.shared) {
      start = siblingEff(doc.ref!, k, level); // the same entries as ref's from here back
      from = k + 1;
      break;
    }
    const lk = levelOf(doc, k);
    if (lk > level) continue;
    if (lk < level || !Number.isNaN(doc.eff[k]!)) {
      if (lk === level) start = doc.eff[k]!;
      from = k + 1;
      break;
    }
  }
  // ... then forward, no allocation (a 10 MB log walks its whole base once)
  let cur = start;
  for (let k = from; k <= j; k++) {
    if (levelOf(doc, k) !== level) continue;
    const t = ownTs(doc, k);
    if (t > cur) cur = t;
    doc.eff[k] = cur;
  }
  return cur;
}

/** The effective timestamp of the nearest entry at or before k of the given level, within its section; NONE when none. */
export function siblingEff(doc: Doc, k: number, level: number): number {
  for (; k >= 0; k--) {
    const lk = levelOf(doc, k);
    if (lk === level) return effTs(doc, k);
    if (lk < level) return NONE;
  }
  return NONE;
}

export interface Unit {
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
export function splitUnits(doc: Doc, s: number, e: number): Unit[] {
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
export function compareUnits(da: Doc, ua: Unit, db: Doc, ub: Unit): number {
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
export function headLength(d: Doc, u: Unit): number {
  return u.end - u.start > 1 && !/[\p{L}\p{N}]/u.test(d.bodies[u.start]!) ? 2 : 1;
}

/** Number of leading entries two units have in common. */
export function commonEntries(da: Doc, ua: Unit, db: Doc, ub: Unit): number {
  const len = Math.min(ua.end - ua.start, ub.end - ub.start);
  let t = 0;
  while (t < len && da.bodies[ua.start + t] === db.bodies[ub.start + t]) t++;
  return t;
}
