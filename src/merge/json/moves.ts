/**
 * Moves: the document-wide move scope (every id-keyed array at any depth),
 * where each movable item ends up, and the race of two different moves.
 */
import type { Json, JsonObject } from '../json.js';
import { side } from '../util.js';
import { canon, isArr, isObj, own, same } from './value.js';
import { detectIdKey, identityOf, idText, idValue, indexById, type Id } from './ids.js';
import { idSeg, itemLoc, keySeg, parentLoc } from './paths.js';
import { bump, type SlotPlan, type State } from './state.js';
import { decideRace, decideTs } from './timestamps.js';

/** One id-keyed array of a move scope, in its three versions. */
interface Slot {
  name: string;
  path: string;
  cp: string[];
  idKey: string;
  b: Json[] | undefined;
  o: Json[] | undefined;
  t: Json[] | undefined;
}

interface Loc {
  slot: Slot;
  id: Id;
  item: JsonObject;
}

/** Where each identity sits in one version of the scope. */
type Where = Map<string, Loc>;

/** Each version's items by identity; identities that occur twice in one version are in `dup`. */
function locateItems(slots: readonly Slot[]): { where: [Where, Where, Where]; dup: Set<string> } {
  const where: [Where, Where, Where] = [new Map(), new Map(), new Map()];
  const dup = new Set<string>();
  for (const s of slots) {
    const versions: [Json[] | undefined, Where][] = [
      [s.b, where[0]],
      [s.o, where[1]],
      [s.t, where[2]],
    ];
    for (const [arr, map] of versions) {
      if (!arr) continue;
      for (const el of arr) {
        const id = idValue(el, s.idKey);
        if (id === undefined) continue;
        const k = identityOf(s.idKey, id);
        if (map.has(k)) dup.add(k);
        else map.set(k, { slot: s, id, item: el as JsonObject });
      }
    }
  }
  return { where, dup };
}

/**
 * Decide where every movable item of a scope ends up. An item is movable
 * when its identity occurs at most once in the scope in each version.
 * Returns plans for the arrays whose content a move changes.
 */
function computeScope(S: State, slots: Slot[]): Map<string, SlotPlan> {
  const { where, dup } = locateItems(slots);
  const plans = new Map<string, SlotPlan>();
  const plan = (name: string): SlotPlan => {
    let p = plans.get(name);
    if (!p) plans.set(name, (p = { incoming: new Map(), outgoing: new Set() }));
    return p;
  };
  const all = new Set([...where[0].keys(), ...where[1].keys(), ...where[2].keys()]);
  for (const k of [...all].sort()) {
    if (dup.has(k)) continue;
    const [lb, lo, lt] = [where[0].get(k), where[1].get(k), where[2].get(k)];
    const names = new Set([lb?.slot.name, lo?.slot.name, lt?.slot.name].filter((n) => n !== undefined));
    if (names.size <= 1) continue; // never changes array: the array merge handles it
    const dest = destination(S, lb, lo, lt);
    if (dest === null) continue;
    bump(S, 'moved');
    const any = (lb ?? lo ?? lt)!;
    const cp = new Set<string>();
    for (const l of [lb, lo, lt]) if (l) for (const p of l.slot.cp) cp.add(p + idSeg(any.id));
    plan(dest.slot.name).incoming.set(k, { b: lb?.item, o: lo?.item, t: lt?.item, cp: [...cp] });
    for (const n of names) if (n !== dest.slot.name) plan(n).outgoing.add(k);
  }
  return plans;
}

/**
 * Where an item that changed arrays ends up: the one side's move, or the
 * race of two moves. null when both sides created the id in different
 * arrays with different content: a collision, reported, both kept.
 */
function destination(S: State, lb: Loc | undefined, lo: Loc | undefined, lt: Loc | undefined): Loc | null {
  const [nb, no, nt] = [lb?.slot.name, lo?.slot.name, lt?.slot.name];
  if (no === nt) return lo!;
  if (no === nb) return lt!;
  if (nt === nb) return lo!;
  if (lo === undefined) return lt!;
  if (lt === undefined) return lo;
  if (lb !== undefined || same(lo.item, lt.item)) return raceLocation(S, lo, lt);
  const a = lo.slot.path + idSeg(lo.id);
  const c = lt.slot.path + idSeg(lt.id);
  S.collisions.push({
    path: S.file,
    key: a < c ? a : c,
    values: [canon(lo.item), canon(lt.item)].sort(),
    resolution: `both sides created ${lo.slot.idKey} ${idText(lo.id)} with different content in different arrays (${[a, c].sort().join(', ')}); kept both`,
  });
  return null;
}

/**
 * The move scope of the whole document: every id-keyed array, in any
 * version, at any depth. An item whose identity occurs once per version in
 * the document is moved wherever it went (between sibling arrays, into
 * another item's subtasks, from `projects.home.tasks` to
 * `projects.work.tasks`), never doubled, carrying the other side's edits;
 * computeScope decides each move and each move race. Sets S.moves (plans by
 * array location, see itemLoc) and S.forced (the locations leading to those
 * arrays, through the arrays that hold their items in any version: the
 * merge takes no equality shortcut there).
 */
export function documentScope(S: State, b: Json | undefined, o: Json | undefined, t: Json | undefined): void {
  const { slots, containers } = collectSlots(S, b, o, t);
  if (slots.size < 2) return;
  const plans = computeScope(S, [...slots.values()]);
  const force = (start: string): void => {
    const todo = [start];
    while (todo.length > 0) {
      let q: string | null = todo.pop()!;
      for (; q !== null; q = parentLoc(q)) {
        if (S.forced.has(q)) break;
        S.forced.add(q);
        if (q.startsWith('#') && !q.includes('/')) for (const c of containers.get(q) ?? []) todo.push(c);
      }
    }
  };
  for (const [loc, p] of plans) {
    if (p.incoming.size === 0 && p.outgoing.size === 0) continue;
    S.moves.set(loc, p);
    force(loc);
  }
}

/**
 * Every id-keyed array of the three versions, by location, and the
 * locations of the arrays each item sits in (in any version). Subtrees
 * equal by reference in all three versions (unchanged, shared by the
 * parser) are not walked: nothing in them moved.
 */
function collectSlots(S: State, b: Json | undefined, o: Json | undefined, t: Json | undefined): { slots: Map<string, Slot>; containers: Map<string, Set<string>> } {
  const slots = new Map<string, Slot>();
  const containers = new Map<string, Set<string>>();
  const stack: [Json | undefined, Json | undefined, Json | undefined, string, string][] = [[b, o, t, '', '']];
  while (stack.length > 0) {
    const [vb, vo, vt, path, loc] = stack.pop()!;
    if (vb !== undefined && vb === vo && vb === vt) continue;
    const objs = [vb, vo, vt].map((v) => (isObj(v) ? v : undefined));
    const keys = new Set<string>();
    for (const v of objs) if (v) for (const k of Object.keys(v)) keys.add(k);
    for (const k of keys) stack.push([own(objs[0], k), own(objs[1], k), own(objs[2], k), path + keySeg(k), loc + keySeg(k)]);
    const [ab, ao, at] = [vb, vo, vt].map((v) => (isArr(v) ? v : undefined));
    const idKey = detectIdKey([ab, ao, at].filter(isArr), S.opts.idKeys);
    if (idKey === null) continue;
    // A moved item is met at its place in each version: its arrays gather their versions by location.
    const slot = slots.get(loc);
    if (!slot) slots.set(loc, { name: loc, path, cp: [path], idKey, b: ab, o: ao, t: at });
    else {
      slot.b ??= ab;
      slot.o ??= ao;
      slot.t ??= at;
    }
    const [ib, io, it] = [ab, ao, at].map((a) => (a ? indexById(a, idKey).items : undefined));
    const ids = new Set<Id>();
    for (const m of [ib, io, it]) if (m) for (const id of m.keys()) ids.add(id);
    for (const id of ids) {
      const il = itemLoc(idKey, id);
      let c = containers.get(il);
      if (!c) containers.set(il, (c = new Set()));
      c.add(loc);
      stack.push([ib?.get(id), io?.get(id), it?.get(id), path + idSeg(id), il]);
    }
  }
  return { slots, containers };
}

/** Both sides moved an item to different arrays: the later move wins. */
function raceLocation(S: State, lo: Loc, lt: Loc): Loc {
  const po = lo.slot.cp.map((p) => p + idSeg(lo.id));
  const pt = lt.slot.cp.map((p) => p + idSeg(lt.id));
  const co = S.oc.loc(po);
  const ct = S.tc.loc(pt);
  const ts = decideTs(S, lo.item, lt.item);
  // locations, not paths, break a tie: a path changes when its parent item moves
  const { oWins, rule } = decideRace(ts, co, ct, () => lo.slot.name > lt.slot.name);
  const [w, wc, l, lc] = oWins ? [lo, co, lt, ct] : [lt, ct, lo, co];
  const key = w.slot.path + idSeg(w.id);
  S.conflicts.push({
    path: S.file,
    key,
    winner: side(JSON.stringify(w.slot.path), wc),
    loser: side(JSON.stringify(l.slot.path), lc),
    rule,
  });
  S.notes.push(`${key}: moved to ${w.slot.path} on one side and to ${l.slot.path} on the other; kept the later move (${rule})`);
  return w;
}
