/**
 * The recursive merge: a node by the rules of json.ts's top comment,
 * objects key by key, arrays as id-keyed items or as multisets, races.
 */
import type { Json, JsonObject } from '../json.js';
import { side } from '../util.js';
import { orderEntries } from './order.js';
import { addDeltas, canon, cmpStr, isArr, isNum, isObj, maxValue, own, same, valueCmp } from './value.js';
import { cmpId, detectIdKey, identityOf, idText, idValue, indexById, isValueKey, pairedIds, repeatedIds, type Id, type Indexed } from './ids.js';
import { idSeg, itemLoc, keySeg } from './paths.js';
import { bump, childCtx, planActive, type Ctx, type NodePlan, type SlotPlan, type State } from './state.js';
import { byTimestamp, decideRace, decideTs } from './timestamps.js';

/**
 * Merge one node. `undefined` means absent (deleted or never there). With an
 * active plan the equality shortcuts are skipped: a move may bring in or take
 * out an item even where one side looks unchanged.
 */
export function mergeValue(S: State, cx: Ctx, b: Json | undefined, o: Json | undefined, t: Json | undefined, np?: NodePlan): Json | undefined {
  const planned = planActive(np) || (S.forced.size > 0 && S.forced.has(cx.loc));
  // Two sides making the same change to a counter made two increments: only
  // take `same(o, t)` as "one change" where no counter can be involved.
  const counted = !S.counters.empty && (S.counters.matches(cx.path, cx.key) || S.counters.mayContain(cx.path));
  if (!planned) {
    if (same(o, b)) return t;
    if (same(t, b)) return o;
    if (!counted && same(o, t)) return o;
  }
  if (o === undefined && t === undefined) return undefined;
  if (o === undefined || t === undefined) {
    const present = o !== undefined ? o : t; // not `??`: null is a value
    if (same(present, b)) return undefined; // deleted on one side, unchanged on the other
    bump(S, 'keptEdits');
    S.notes.push(`${cx.path || '/'}: deleted on one side and changed on the other; kept the change`);
    if (!planned || (!isArr(present) && !isObj(present))) return present;
    // Apply the moves: the deleting side counts as unchanged here.
    const sub: Json = isArr(present) ? (isArr(b) ? b : []) : isObj(b) ? b : {};
    return o !== undefined ? mergeValue(S, cx, sub, o, sub, np) : mergeValue(S, cx, sub, sub, t, np);
  }
  if (isObj(o) && isObj(t)) return mergeObjects(S, cx, isObj(b) ? b : {}, o, t);
  if (isArr(o) && isArr(t)) return mergeArrays(S, cx, isArr(b) ? b : [], o, t, np?.slot);
  if (isNum(o) && isNum(t) && S.counters.matches(cx.path, cx.key)) {
    bump(S, 'counters');
    return addDeltas(o, t, isNum(b) ? b : undefined); // o + t - b: exact (BigInt) and symmetric for integers
  }
  if (same(o, t)) return o;
  if (S.volatile.matches(cx.path, cx.key)) {
    bump(S, 'volatile');
    return maxValue(o, t);
  }
  const w = race(S, cx, o, t);
  if (planned && np?.slot && isArr(w)) {
    // The array won against a non-array: still honour the moves into it.
    const bArr = isArr(b) ? b : [];
    return w === o ? mergeArrays(S, cx, bArr, o, bArr, np.slot) : mergeArrays(S, cx, bArr, bArr, w, np.slot);
  }
  return w;
}

/** Last writer wins; reported. Returns the winning value (o or t itself). */
export function race(S: State, cx: Ctx, o: Json, t: Json): Json {
  const co = S.oc.at(cx.cp);
  const ct = S.tc.at(cx.cp);
  const { oWins, rule } = decideRace(cx.ts, co, ct, () => valueCmp(o, t) >= 0);
  const [w, wc, l, lc] = oWins ? [o, co, t, ct] : [t, ct, o, co];
  S.conflicts.push({ path: S.file, key: cx.path, winner: side(canon(w), wc), loser: side(canon(l), lc), rule });
  return w;
}

function mergeObjects(S: State, cx: Ctx, b: JsonObject, o: JsonObject, t: JsonObject): JsonObject {
  const ts = decideTs(S, o, t) ?? cx.ts;
  const bKeys = Object.keys(b);
  const oKeys = Object.keys(o);
  const tKeys = Object.keys(t);
  const keys = new Set(bKeys);
  for (const k of oKeys) keys.add(k);
  for (const k of tKeys) keys.add(k);

  // Plans for child arrays: the document's move scope decided them (documentScope).
  const plans = new Map<string, SlotPlan>();
  if (S.moves.size > 0) {
    for (const k of keys) {
      const p = S.moves.get(cx.loc + keySeg(k));
      if (p) plans.set(k, p);
    }
  }

  const merged = new Map<string, Json>();
  for (const k of keys) {
    const plan = plans.get(k);
    const bk = own(b, k);
    const ok = own(o, k);
    const tk = own(t, k);
    // mergeValue's first rule, without a context: one side is the base's own
    // subtree (parseDocs shares them), so the other side's value stands.
    const free = plan === undefined && (S.forced.size === 0 || !S.forced.has(cx.loc + keySeg(k)));
    const v = free && ok === bk ? tk : free && tk === bk ? ok : mergeValue(S, childCtx(cx, keySeg(k), k, ts), bk, ok, tk, plan ? { slot: plan } : undefined);
    if (v !== undefined) merged.set(k, v);
  }
  const order = orderEntries(bKeys, oKeys, tKeys, new Set(merged.keys()), cmpStr);
  // A prototype-less object: a "__proto__" key stays an ordinary key.
  const out = Object.create(null) as JsonObject;
  for (const k of order) out[k] = merged.get(k)!;
  return out;
}

function mergeArrays(S: State, cx: Ctx, b: Json[], o: Json[], t: Json[], slot: SlotPlan | undefined): Json[] {
  const idKey = detectIdKey([b, o, t], S.opts.idKeys);
  return idKey === null ? mergeSet(S, b, o, t) : mergeKeyed(S, cx, idKey, b, o, t, slot);
}

/** Arrays without ids: a multiset of canonical values (see top comment). */
function mergeSet(S: State, b: Json[], o: Json[], t: Json[]): Json[] {
  const keyed = (arr: Json[]): { keys: string[]; vals: Map<string, Json> } => {
    const count = new Map<string, number>();
    const keys: string[] = [];
    const vals = new Map<string, Json>();
    for (const v of arr) {
      const c = canon(v);
      const n = count.get(c) ?? 0;
      count.set(c, n + 1);
      const k = c + '\u0001' + String(n);
      keys.push(k);
      vals.set(k, v);
    }
    return { keys, vals };
  };
  const kb = keyed(b);
  const ko = keyed(o);
  const kt = keyed(t);
  const keep = new Set<string>();
  const value = new Map<string, Json>();
  for (const k of new Set([...kb.keys, ...ko.keys, ...kt.keys])) {
    const v = multisetEntry(kb.vals, ko.vals, kt.vals, k);
    if (v === undefined) continue;
    keep.add(k);
    value.set(k, v);
  }
  return orderEntries(kb.keys, ko.keys, kt.keys, keep, cmpStr, byTimestamp(S, (k: string) => value.get(k), cmpStr)).map((k) => value.get(k)!);
}

/**
 * A multiset entry's merged value: kept when both sides hold it or one side
 * added it, undefined when a side removed it. Of two values equal up to key
 * order the representative does not depend on the side.
 */
function multisetEntry(b: Map<string, Json>, o: Map<string, Json>, t: Map<string, Json>, k: string): Json | undefined {
  const inB = b.has(k);
  const inO = o.has(k);
  const inT = t.has(k);
  if (!((inO && inT) || (inO && !inB) || (inT && !inB))) return undefined;
  if (inB) return b.get(k)!;
  const vo = o.get(k);
  const vt = t.get(k);
  if (inO && inT) return valueCmp(vo!, vt!) <= 0 ? vo! : vt!;
  return (inO ? vo : vt)!;
}

export interface Member {
  b: JsonObject | undefined;
  o: JsonObject | undefined;
  t: JsonObject | undefined;
  /** Clock paths when they are not simply `<array cp>/@id` (moved-in items). */
  cp: string[] | undefined;
  incoming: boolean;
}

/** The value entries of a keyed array (id-less items, repeated ids): kept as a multiset, as in mergeSet. */
function mergeValueEntries(ib: Indexed, io: Indexed, it: Indexed, results: Map<Id, Json[]>): void {
  for (const k of new Set([...ib.values.keys(), ...io.values.keys(), ...it.values.keys()])) {
    const v = multisetEntry(ib.values, io.values, it.values, k);
    if (v !== undefined) results.set(k, [v]);
  }
}

/** Ids repeated within one array, reported: paired ones merge occurrence by occurrence, the others as plain values. */
function noteRepeatedIds(S: State, cx: Ctx, idKey: string, io: Indexed, it: Indexed, paired: ReadonlySet<Id>): void {
  const ids = [...new Set([...io.dups, ...it.dups])];
  if (ids.length === 0) return;
  bump(S, 'duplicateIds', ids.length);
  const list = (xs: Id[]): string => xs.map(idText).sort().join(', ');
  const inPairs = ids.filter((id) => paired.has(id));
  const asValues = ids.filter((id) => !paired.has(id));
  const fix = `give each item its own ${idKey}`;
  const where = cx.path || '/';
  if (inPairs.length > 0) S.notes.push(`${where}: ${idKey} ${list(inPairs)} occurs more than once in one array; its occurrences merged in order, the first with the first (none was added, removed or reordered): ${fix}`);
  if (asValues.length > 0) S.notes.push(`${where}: ${idKey} ${list(asValues)} occurs more than once in one array; every occurrence merges as a plain value (edits of one become a new value next to the old): ${fix}`);
}

function mergeKeyed(S: State, cx: Ctx, idKey: string, b: Json[], o: Json[], t: Json[], slot: SlotPlan | undefined): Json[] {
  const rep = repeatedIds([b, o, t], idKey);
  const paired = rep.size > 0 ? pairedIds([b, o, t], idKey, rep) : rep;
  const ib = indexById(b, idKey, rep, paired);
  const io = indexById(o, idKey, rep, paired);
  const it = indexById(t, idKey, rep, paired);
  const results = new Map<Id, Json[]>();
  const members = keyedMembers(S, idKey, [ib, io, it], slot, results);
  if (ib.values.size + io.values.size + it.values.size > 0) mergeValueEntries(ib, io, it, results);
  if (rep.size > 0) noteRepeatedIds(S, cx, idKey, io, it, paired);
  takeCollisions(S, cx, idKey, members, results);
  for (const [id, m] of members) {
    // A paired occurrence is addressed by its id; its location is its own (no move plan names it).
    const pair = ib.pairs.get(id as string);
    const seg = idSeg(pair ? pair.id : id);
    const loc = pair ? itemLoc(idKey, pair.id) + '~' + String(pair.n) : itemLoc(idKey, id);
    const v = mergeMember(S, { path: cx.path + seg, cp: m.cp ?? cx.cp.map((p) => p + seg), key: undefined, ts: cx.ts, loc }, m);
    if (v !== undefined) results.set(id, [v]);
  }
  const cmp = (x: Id, y: Id): number => cmpId(x, y) || cmpStr(typeof x, typeof y);
  const heads = byTimestamp(S, (id: Id) => results.get(id)?.[0], cmp);
  const order = orderEntries(ib.seq, io.seq, it.seq, new Set(results.keys()), cmp, heads);
  const out: Json[] = [];
  for (const id of order) out.push(...results.get(id)!);
  return out;
}

/**
 * The items of a keyed array that need a merge, by id: those changed on a
 * side, and those the move plan brings in. Items untouched on all sides go
 * straight to `results`; items the plan moves out are left out.
 */
function keyedMembers(S: State, idKey: string, [ib, io, it]: [Indexed, Indexed, Indexed], slot: SlotPlan | undefined, results: Map<Id, Json[]>): Map<Id, Member> {
  const planned = slot !== undefined && (slot.incoming.size > 0 || slot.outgoing.size > 0);
  const members = new Map<Id, Member>();
  const consider = (id: Id): void => {
    if (members.has(id) || results.has(id) || isValueKey(id)) return;
    if (planned) {
      const k = identityOf(idKey, id);
      if (slot.outgoing.has(k) || slot.incoming.has(k)) return;
    }
    const mb = ib.items.get(id);
    const mo = io.items.get(id);
    const mt = it.items.get(id);
    // Untouched on both sides: nothing can move in or out of it either.
    if (mb !== undefined && same(mb, mo) && same(mb, mt) && (S.forced.size === 0 || !S.forced.has(itemLoc(idKey, id)))) results.set(id, [mb]);
    else members.set(id, { b: mb, o: mo, t: mt, cp: undefined, incoming: false });
  };
  for (const id of ib.seq) consider(id);
  for (const id of io.seq) consider(id);
  for (const id of it.seq) consider(id);
  if (planned) {
    for (const inc of slot.incoming.values()) {
      members.set(idValue((inc.o ?? inc.t ?? inc.b)!, idKey)!, { b: inc.b, o: inc.o, t: inc.t, cp: inc.cp, incoming: true });
    }
  }
  return members;
}

/** Collisions: both sides created the id with different content. Both kept, reported; taken out of `members`. */
function takeCollisions(S: State, cx: Ctx, idKey: string, members: Map<Id, Member>, results: Map<Id, Json[]>): void {
  for (const [id, m] of members) {
    if (m.b !== undefined || m.o === undefined || m.t === undefined || same(m.o, m.t)) continue;
    const pair = valueCmp(m.o, m.t) <= 0 ? [m.o, m.t] : [m.t, m.o];
    results.set(id, pair);
    members.delete(id);
    S.collisions.push({
      path: S.file,
      key: cx.path + idSeg(id),
      values: pair.map(canon),
      resolution: `both sides created ${idKey} ${idText(id)} with different content; kept both items, in canonical order, under the same ${idKey}: give one a new ${idKey}`,
    });
  }
}

/** One item of a keyed array, merged; an item the move plan placed here is present whatever its content says. */
function mergeMember(S: State, icx: Ctx, m: Member): Json | undefined {
  if (!m.incoming) return mergeValue(S, icx, m.b, m.o, m.t);
  if (m.o !== undefined && m.t !== undefined) return mergeValue(S, icx, m.b, m.o, m.t) ?? m.o;
  const sub: JsonObject = m.b ?? {};
  return (m.o !== undefined ? mergeValue(S, icx, sub, m.o, sub) : mergeValue(S, icx, sub, sub, m.t)) ?? m.o ?? m.t;
}
