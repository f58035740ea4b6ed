/**
 * Structural three-way merge for JSON files (the `json` kind).
 *
 * Pure and total: text in, text and a report out; it never throws and never
 * writes conflict markers. Every decision depends on the values and clocks,
 * never on which side is "ours" (during a rebase git swaps the sides; see
 * git-facts.md).
 *
 * Invariants (test/merge/json.laws.test.ts checks each):
 *  - commutative: swapping the sides and their clocks gives the same bytes;
 *  - idempotent and identity: merge(o, a, a) = a, merge(o, o, b) = b;
 *  - nothing written is lost: a value either side wrote survives unless the
 *    other side wrote the same place and won a race, which is reported;
 *  - no item is doubled by a move; ids repeat only in reported collisions;
 *  - when both sides parse, the output parses;
 *  - three replicas merged in any order hold the same content, given
 *    per-key clocks (changedKeyPaths at each write, mergeClocks). Limits:
 *    item timestamps and file clocks speak for a whole item or file, not
 *    for the key that raced, so with them the result can depend on the
 *    merge order; so can a same-id collision, a type change raced against a
 *    structure merged meanwhile, and an item kept against a delete only by
 *    a change that later loses a race (a subtask moved into a deleted task,
 *    then moved elsewhere by a later writer). The ORDER of new entries can
 *    also differ (content cannot) when a removal or a move took away the
 *    entry they were placed after: a state-based merge cannot know where
 *    that entry was. Without removals and moves the bytes agree.
 *
 * Rules, applied at every node (b = base, o/t = the sides, undefined =
 * absent):
 *  1. o equals b -> t. t equals b -> o. o equals t -> o. (Exact equality,
 *     key order included, so the output never depends on the side.)
 *  2. Deleted on one side, unchanged on the other -> deleted. Deleted on one
 *     side, changed on the other -> the change is kept (an edit beats a
 *     delete) and a note says so.
 *  3. Both objects -> merged key by key (a missing or non-object base counts
 *     as `{}`). Both arrays -> merged as below. Otherwise, both changed:
 *     counters (opts.counters) add both deltas, o + t - b (a missing base
 *     counts as 0; both sides making the same change made two increments,
 *     so rule 1's "o equals t" does not apply to them); volatile keys
 *     (opts.volatile) take the maximum, silently; anything else is a
 *     last-writer-wins race.
 *  4. A race is decided by, in order: the timestamp field (opts.timestampKeys,
 *     ISO text or epoch s/ms; the later wins) of the nearest enclosing object
 *     whose two sides both carry one; the two sides' clocks for the key (see
 *     Clocks); the values (the greater canonical JSON text wins). Every race
 *     is reported in `conflicts` with both values and clocks.
 *
 * Arrays:
 *  - Id-keyed arrays: the first id key (opts.idKeys, tried in order) that
 *    any element of the array's versions carries, with a string or number
 *    value (numbers by exact value: a bigint beyond doubles). Items merge
 *    item by item with the rules above, addressed as `@<id>` in key paths.
 *    Elements without the id, and every occurrence of an id repeated within
 *    one version (which one is "the" item cannot be told), are value
 *    entries: kept as a multiset like set arrays, inside the keyed merge; a
 *    repeated id is noted. Two sides creating different items with the same
 *    id (absent from base) is a collision: reported, and BOTH items are kept,
 *    next to each other in canonical-JSON order (later merges then treat
 *    that id's occurrences as values until someone renames one).
 *  - Moves (documentScope): one scope, the whole document. An item whose
 *    identity occurs once per version in the document and that sits in
 *    different arrays in base/ours/theirs is moved, never lost or doubled;
 *    edits the other side made to the item are applied to the moved item.
 *    Arrays are named by location (itemLoc: the enclosing item's identity
 *    plus the keys below it, or the path outside every item), so a subtask
 *    moved into a task that moved too still lands. A move counts as a change
 *    (it beats a delete). Both sides moving the item to different arrays is a
 *    race (timestamp, then the clock of each side's move, then the array
 *    location), reported with the two array paths as values.
 *  - Every other array (scalars, id-less objects, mixed) merges as a
 *    multiset of canonical-JSON values: elements added on either side are
 *    kept, elements removed on either side are removed. An edited id-less
 *    object is "removed + added", so two different edits of one element both
 *    survive. (Chosen over whole-array LWW because it loses nothing.)
 *  - Order (arrays and object keys alike): the base order, or one side's
 *    order if only that side reordered the surviving base entries; a new
 *    entry goes after its nearest preceding base entry in the side that added
 *    it. Where both sides insert at one point, each side's run keeps its own
 *    order and the runs interleave (interleave): the earlier head first, by
 *    the items' timestamp field (decide.ts, offsets honoured), else by id /
 *    value. That is a stable sort of blocks, so any merge order of any number
 *    of replicas gives the same order.
 *
 * Clocks (SideClocks): `keys` maps key paths (`/tasks/@14/status`, segments
 * escaped as in RFC 6901) to the clock of the write that last set the value
 * there, as changedKeyPaths reports them. A value's clock is the latest
 * recorded at its path, above it or below it (see ClockIndex); the root key
 * '' and `file` are the file clock, used only where nothing is recorded.
 * A move is recorded at `<item path>/~loc`, which is not an ancestor of the
 * item's fields: a move does not make the fields look newly written. Inside a
 * moved item, the item's paths in base, ours and theirs all count, so clocks
 * recorded before the move still speak for its fields. A merged side's
 * clocks are mergeClocks of the two sides' (a per-key maximum).
 *
 * Unparseable input: an unparseable base is treated as absent (noted). A
 * side that does not parse never replaces one that does: the result is the
 * valid side, byte for byte (merged against the base as if the broken side
 * were unchanged), the broken text goes to the conflict record (key '').
 * Only when neither parses is it a whole-file last-writer-wins race on the
 * file clocks (ties by text), method 'whole-file'.
 *
 * Numbers (json/value.ts): a number whose text a double does not give back
 * (big integers, 1e400, -0, 1.0, 1E2) is a LosslessNumber holding its text,
 * written back verbatim; numbers compare by decimal value; counters add
 * integers exactly (BigInt). Duplicate keys: the last occurrence is the value
 * (as JSON.parse), the dropped one goes to the conflict record with a note.
 * Containers deeper than DEPTH_LIMIT are OpaqueJson (their text): one value
 * each, so the levels above still merge key by key.
 *
 * Output: the merged value written like `JSON.stringify` (json-bytes.ts),
 * indented as both sides are (2, 4, tab or minified), else as the base, else
 * 2 spaces; the trailing newline likewise. Textual fast paths: a side equal
 * to base, or both sides equal, return a side's text untouched.
 *
 * Known limits: integer-like object keys come out first, ascending (JS
 * object order, as Node's own JSON writers do). Object keys starting with
 * '@' are not escaped, so `/a/@1` names both a key "@1" and the item with
 * id 1 (they may share a clock).
 */
import type { Collision, Conflict, JsonOptions, SideClocks } from './types.js';
import { indentOfBytes, parseJsonBytes, type DuplicateKey } from './json-parse.js';
import { compareClocks, MARKER_RE, pickWinner, side } from './util.js';
import { instantOf } from './decide.js';
import { jsonToBytes } from './json-bytes.js';
import { ClockIndex, LOC } from './json/clocks.js';
import { orderEntries } from './json/order.js';
import { addDeltas, canon, cmpStr, DEPTH_LIMIT, isArr, isLossless, isNum, isObj, LosslessNumber, maxValue, OpaqueJson, own, same, shareUnchanged, valueCmp } from './json/value.js';
import { cmpId, detectIdKey, identityOf, idText, idValue, indexById, isValueKey, repeatedIds, type Id, type Indexed } from './json/ids.js';

export { LosslessNumber, OpaqueJson } from './json/value.js';
export { clockOf, mergeClocks } from './json/clocks.js';

export interface JsonMergeOutput {
  text: string;
  method: 'structural' | 'whole-file';
  stats: Record<string, number>;
  conflicts: Conflict[];
  collisions: Collision[];
  notes: string[];
}

export type Json = null | boolean | number | LosslessNumber | OpaqueJson | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

// ---------------------------------------------------------------------------
// Key paths

/** Escape one key-path segment (RFC 6901: `~` -> `~0`, `/` -> `~1`). */
export function escapeSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function keySeg(k: string): string {
  return '/' + escapeSegment(k);
}

function idSeg(id: string | number | bigint): string {
  return '/@' + escapeSegment(String(id));
}

function segmentsOf(p: string): string[] {
  return p === '' ? [] : p.slice(1).split('/');
}

/** Key-name and key-path pattern matcher for `volatile` and `counters`. */
class PathMatcher {
  private readonly names = new Set<string>();
  private readonly patterns: string[][] = [];
  constructor(entries: readonly string[]) {
    for (const e of entries) {
      if (e.startsWith('/')) this.patterns.push(segmentsOf(e));
      else this.names.add(e);
    }
  }
  get empty(): boolean {
    return this.names.size === 0 && this.patterns.length === 0;
  }
  /** True when a path below `path` may match (the value at `path` may contain a match). */
  mayContain(path: string): boolean {
    if (this.names.size > 0) return true;
    if (this.patterns.length === 0) return false;
    const segs = segmentsOf(path);
    return this.patterns.some((p) => p.length > segs.length && segs.every((s, i) => p[i] === '*' || p[i] === s));
  }
  /** `key` is the object key the value sits under (undefined for array items and the root). */
  matches(path: string, key: string | undefined): boolean {
    if (key !== undefined && (this.names.has('*') || this.names.has(key))) return true;
    if (this.patterns.length === 0) return false;
    const segs = segmentsOf(path);
    return this.patterns.some((p) => p.length === segs.length && p.every((s, i) => s === '*' || s === segs[i]));
  }
}

// ---------------------------------------------------------------------------
// Clocks

// ---------------------------------------------------------------------------
// Ordering (shared by object keys, id-keyed arrays and set arrays)

/**
 * Order of appended runs where items carry timestamps (timestampKeys): the
 * earlier instant first, items with one before items without, then `cmp`.
 */
function byTimestamp<K>(S: State, valueOf: (k: K) => Json | undefined, cmp: (a: K, b: K) => number): (a: K, b: K) => number {
  if (S.opts.timestampKeys.length === 0) return cmp;
  const tsOf = (k: K): number | undefined => {
    const v = valueOf(k);
    if (!isObj(v)) return undefined;
    for (const key of S.opts.timestampKeys) {
      const t = tsValue(own(v, key), key);
      if (t !== undefined) return t;
    }
    return undefined;
  };
  return (a, b) => {
    const x = tsOf(a);
    const y = tsOf(b);
    if (x !== undefined && y !== undefined && x !== y) return x < y ? -1 : 1;
    if ((x === undefined) !== (y === undefined)) return x === undefined ? 1 : -1;
    return cmp(a, b);
  };
}

// ---------------------------------------------------------------------------
// Merge state, contexts and plans

interface State {
  file: string;
  opts: JsonOptions;
  oc: ClockIndex;
  tc: ClockIndex;
  volatile: PathMatcher;
  counters: PathMatcher;
  conflicts: Conflict[];
  collisions: Collision[];
  notes: string[];
  stats: Record<string, number>;
  /** The document's move plans, by array path (see documentScope). */
  moves: Map<string, SlotPlan>;
  /** Paths on the way to an array a move changes: no equality shortcut there. */
  forced: Set<string>;
}

/** Which side's timestamp field is later for the nearest enclosing object ('tie' = both carry one, equal). */
type TsDecision = 'o' | 't' | 'tie';

interface Ctx {
  /** Key path in the result (for the report and pattern matching). */
  path: string;
  /** Key paths whose clocks speak for this value (more than one inside a moved item). */
  cp: string[];
  /** Object key the value sits under; undefined for array items and the root. */
  key: string | undefined;
  ts: TsDecision | undefined;
  /** Location (see itemLoc): the key of move plans and of the no-shortcut set. */
  loc: string;
}

/** An item arriving in an array from another array of its move scope. */
interface Incoming {
  b: JsonObject | undefined;
  o: JsonObject | undefined;
  t: JsonObject | undefined;
  cp: string[];
}

interface SlotPlan {
  incoming: Map<string, Incoming>;
  outgoing: Set<string>;
}

/** What a node's merge must honour: moves into/out of this array, or into/out of this item's child arrays. */
interface NodePlan {
  slot?: SlotPlan;
}

function planActive(np: NodePlan | undefined): boolean {
  if (!np) return false;
  return np.slot !== undefined && (np.slot.incoming.size > 0 || np.slot.outgoing.size > 0);
}

function bump(S: State, stat: string, n = 1): void {
  S.stats[stat] = (S.stats[stat] ?? 0) + n;
}

function childCtx(cx: Ctx, seg: string, key: string | undefined, ts: TsDecision | undefined): Ctx {
  return { path: cx.path + seg, cp: cx.cp.map((p) => p + seg), key, ts, loc: cx.loc + seg };
}

/**
 * Location of an item, independent of where it sits: `#<escaped identity>`.
 * A value inside it is `#<identity>/<keys>`; outside every item, its path.
 * Move plans and the no-shortcut set are keyed by location, so a plan for a
 * subtask list still applies when the task holding it moved too.
 */
function itemLoc(idKey: string, id: Id): string {
  return '#' + escapeSegment(identityOf(idKey, id));
}

/** The enclosing location inside the same item (or path), null at an item or the root. */
function parentLoc(loc: string): string | null {
  const i = loc.lastIndexOf('/');
  return i < 0 ? (loc === '' || loc.startsWith('#') ? null : '') : loc.slice(0, i);
}

// ---------------------------------------------------------------------------
// Timestamps

function tsValue(v: Json | undefined, key: string): number | undefined {
  return instantOf(isLossless(v) ? Number(v.text) : v, key) ?? undefined;
}

/** The timestamp decision of an object level, or undefined when its sides do not both carry one. */
function decideTs(S: State, o: JsonObject, t: JsonObject): TsDecision | undefined {
  for (const k of S.opts.timestampKeys) {
    const a = tsValue(own(o, k), k);
    const b = tsValue(own(t, k), k);
    if (a === undefined || b === undefined) continue;
    return a > b ? 'o' : a < b ? 't' : 'tie';
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// The recursive merge

/**
 * Merge one node. `undefined` means absent (deleted or never there). With an
 * active plan the equality shortcuts are skipped: a move may bring in or take
 * out an item even where one side looks unchanged.
 */
function mergeValue(S: State, cx: Ctx, b: Json | undefined, o: Json | undefined, t: Json | undefined, np?: NodePlan): Json | undefined {
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
function race(S: State, cx: Ctx, o: Json, t: Json): Json {
  const co = S.oc.at(cx.cp);
  const ct = S.tc.at(cx.cp);
  let oWins: boolean;
  let rule: Conflict['rule'];
  if (cx.ts === 'o' || cx.ts === 't') {
    oWins = cx.ts === 'o';
    rule = 'updated_at';
  } else {
    const c = compareClocks(co, ct);
    if (c !== 0) {
      oWins = c > 0;
      rule = 'clock';
    } else {
      oWins = valueCmp(o, t) >= 0;
      rule = 'value';
    }
  }
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
    const inB = kb.vals.has(k);
    const vo = ko.vals.get(k);
    const vt = kt.vals.get(k);
    const inO = ko.vals.has(k);
    const inT = kt.vals.has(k);
    if (!((inO && inT) || (inO && !inB) || (inT && !inB))) continue;
    keep.add(k);
    // Side-independent representative for values equal up to key order.
    if (inB) value.set(k, kb.vals.get(k)!);
    else if (inO && inT) value.set(k, valueCmp(vo!, vt!) <= 0 ? vo! : vt!);
    else value.set(k, (inO ? vo : vt)!);
  }
  return orderEntries(kb.keys, ko.keys, kt.keys, keep, cmpStr, byTimestamp(S, (k: string) => value.get(k), cmpStr)).map((k) => value.get(k)!);
}

interface Member {
  b: JsonObject | undefined;
  o: JsonObject | undefined;
  t: JsonObject | undefined;
  /** Clock paths when they are not simply `<array cp>/@id` (moved-in items). */
  cp: string[] | undefined;
  incoming: boolean;
}

/** The value entries of a keyed array (id-less items, repeated ids): kept as a multiset, as in mergeSet. */
function mergeValueEntries(S: State, cx: Ctx, idKey: string, ib: Indexed, io: Indexed, it: Indexed, results: Map<Id, Json[]>): void {
  for (const k of new Set([...ib.values.keys(), ...io.values.keys(), ...it.values.keys()])) {
    const inB = ib.values.has(k);
    const vo = io.values.get(k);
    const vt = it.values.get(k);
    const inO = io.values.has(k);
    const inT = it.values.has(k);
    if (!((inO && inT) || (inO && !inB) || (inT && !inB))) continue;
    results.set(k, [inB ? ib.values.get(k)! : inO && inT ? (valueCmp(vo!, vt!) <= 0 ? vo! : vt!) : (inO ? vo : vt)!]);
  }
  const dups = [...new Set([...io.dups, ...it.dups].map(idText))].sort();
  if (dups.length > 0) {
    bump(S, 'duplicateIds', dups.length);
    S.notes.push(`${cx.path || '/'}: ${idKey} ${dups.join(', ')} occurs more than once in one array; every occurrence merges as a plain value (edits of one become a new value next to the old): give each item its own ${idKey}`);
  }
}

function mergeKeyed(S: State, cx: Ctx, idKey: string, b: Json[], o: Json[], t: Json[], slot: SlotPlan | undefined): Json[] {
  const rep = repeatedIds([b, o, t], idKey);
  const ib = indexById(b, idKey, rep);
  const io = indexById(o, idKey, rep);
  const it = indexById(t, idKey, rep);
  const planned = slot !== undefined && (slot.incoming.size > 0 || slot.outgoing.size > 0);
  const results = new Map<Id, Json[]>();
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
  if (ib.values.size + io.values.size + it.values.size > 0) mergeValueEntries(S, cx, idKey, ib, io, it, results);
  if (planned) {
    for (const inc of slot.incoming.values()) {
      members.set(idValue((inc.o ?? inc.t ?? inc.b)!, idKey)!, { b: inc.b, o: inc.o, t: inc.t, cp: inc.cp, incoming: true });
    }
  }
  const itemCp = (id: Id, m: Member): string[] => {
    if (m.cp) return m.cp;
    const seg = idSeg(id);
    return (m.cp = cx.cp.map((p) => p + seg));
  };

  // Collisions: both sides created the id with different content. Both kept.
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

  for (const [id, m] of members) {
    const icx: Ctx = { path: cx.path + idSeg(id), cp: itemCp(id, m), key: undefined, ts: cx.ts, loc: itemLoc(idKey, id) };
    let v: Json | undefined;
    if (m.incoming) {
      // Placed here by the move plan: present whatever the content says.
      if (m.o !== undefined && m.t !== undefined) v = mergeValue(S, icx, m.b, m.o, m.t) ?? m.o;
      else {
        const sub: JsonObject = m.b ?? {};
        v = (m.o !== undefined ? mergeValue(S, icx, sub, m.o, sub) : mergeValue(S, icx, sub, sub, m.t)) ?? m.o ?? m.t;
      }
    } else v = mergeValue(S, icx, m.b, m.o, m.t);
    if (v !== undefined) results.set(id, [v]);
  }

  const cmp = (x: Id, y: Id): number => cmpId(x, y) || cmpStr(typeof x, typeof y);
  const heads = byTimestamp(S, (id: Id) => results.get(id)?.[0], cmp);
  const order = orderEntries(ib.seq, io.seq, it.seq, new Set(results.keys()), cmp, heads);
  const out: Json[] = [];
  for (const id of order) out.push(...results.get(id)!);
  return out;
}

// ---------------------------------------------------------------------------
// Move scopes

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

/**
 * Decide where every movable item of a scope ends up. An item is movable
 * when its identity occurs at most once in the scope in each version (and
 * no outer scope has decided it). Returns plans for the arrays whose content
 * a move changes, and the set of movable identities.
 */
function computeScope(S: State, slots: Slot[]): { plans: Map<string, SlotPlan>; movable: Set<string> } {
  const where: [Map<string, Loc>, Map<string, Loc>, Map<string, Loc>] = [new Map(), new Map(), new Map()];
  const dup = new Set<string>();
  for (const s of slots) {
    const versions: [Json[] | undefined, Map<string, Loc>][] = [
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
  const movable = new Set<string>();
  const plans = new Map<string, SlotPlan>();
  const plan = (name: string): SlotPlan => {
    let p = plans.get(name);
    if (!p) plans.set(name, (p = { incoming: new Map(), outgoing: new Set() }));
    return p;
  };
  const all = new Set([...where[0].keys(), ...where[1].keys(), ...where[2].keys()]);
  for (const k of [...all].sort()) {
    if (dup.has(k)) continue;
    movable.add(k);
    const lb = where[0].get(k);
    const lo = where[1].get(k);
    const lt = where[2].get(k);
    const nb = lb?.slot.name;
    const no = lo?.slot.name;
    const nt = lt?.slot.name;
    const names = new Set([nb, no, nt].filter((n) => n !== undefined));
    if (names.size <= 1) continue; // never changes array: the array merge handles it
    const any = (lb ?? lo ?? lt)!;
    let dest: Loc;
    if (no === nt) dest = lo!;
    else if (no === nb) dest = lt!;
    else if (nt === nb) dest = lo!;
    else if (lo === undefined) dest = lt!;
    else if (lt === undefined) dest = lo;
    else if (lb === undefined && !same(lo.item, lt.item)) {
      // Both sides created this id, in different arrays, with different content.
      const a = lo.slot.path + idSeg(lo.id);
      const c = lt.slot.path + idSeg(lt.id);
      const vals = [canon(lo.item), canon(lt.item)].sort();
      S.collisions.push({
        path: S.file,
        key: a < c ? a : c,
        values: vals,
        resolution: `both sides created ${lo.slot.idKey} ${idText(lo.id)} with different content in different arrays (${[a, c].sort().join(', ')}); kept both`,
      });
      continue;
    } else dest = raceLocation(S, lo, lt);
    bump(S, 'moved');
    const cp = new Set<string>();
    for (const l of [lb, lo, lt]) if (l) for (const p of l.slot.cp) cp.add(p + idSeg(any.id));
    plan(dest.slot.name).incoming.set(k, { b: lb?.item, o: lo?.item, t: lt?.item, cp: [...cp] });
    for (const n of names) if (n !== dest.slot.name) plan(n).outgoing.add(k);
  }
  return { plans, movable };
}

/**
 * The move scope of the whole document: every id-keyed array, in any
 * version, at any depth. An item whose identity occurs once per version in
 * the document is moved wherever it went (between sibling arrays, into
 * another item's subtasks, from `projects.home.tasks` to
 * `projects.work.tasks`), never doubled, carrying the other side's edits;
 * computeScope decides each move and each move race. Subtrees equal by
 * reference in all three versions (unchanged, shared by the parser) are not
 * walked: nothing in them moved. Sets S.moves (plans by array location, see
 * itemLoc) and S.forced (the locations leading to those arrays, through the
 * arrays that hold their items in any version: the merge takes no equality
 * shortcut there).
 */
function documentScope(S: State, b: Json | undefined, o: Json | undefined, t: Json | undefined): void {
  const slots = new Map<string, Slot>();
  /** Locations of the arrays an item sits in, in any version. */
  const containers = new Map<string, Set<string>>();
  const stack: [Json | undefined, Json | undefined, Json | undefined, string, string][] = [[b, o, t, '', '']];
  while (stack.length > 0) {
    const [vb, vo, vt, path, loc] = stack.pop()!;
    if (vb !== undefined && vb === vo && vb === vt) continue;
    const ob = isObj(vb) ? vb : undefined;
    const oo = isObj(vo) ? vo : undefined;
    const ot = isObj(vt) ? vt : undefined;
    if (ob || oo || ot) {
      const keys = new Set<string>();
      for (const v of [ob, oo, ot]) if (v) for (const k of Object.keys(v)) keys.add(k);
      for (const k of keys) stack.push([own(ob, k), own(oo, k), own(ot, k), path + keySeg(k), loc + keySeg(k)]);
    }
    const ab = isArr(vb) ? vb : undefined;
    const ao = isArr(vo) ? vo : undefined;
    const at = isArr(vt) ? vt : undefined;
    if (!ab && !ao && !at) continue;
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
    const ib = ab ? indexById(ab, idKey).items : undefined;
    const io = ao ? indexById(ao, idKey).items : undefined;
    const it = at ? indexById(at, idKey).items : undefined;
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
  if (slots.size < 2) return;
  const { plans } = computeScope(S, [...slots.values()]);
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

/** Both sides moved an item to different arrays: the later move wins. */
function raceLocation(S: State, lo: Loc, lt: Loc): Loc {
  const po = lo.slot.cp.map((p) => p + idSeg(lo.id));
  const pt = lt.slot.cp.map((p) => p + idSeg(lt.id));
  const co = S.oc.loc(po);
  const ct = S.tc.loc(pt);
  const ts = decideTs(S, lo.item, lt.item);
  let oWins: boolean;
  let rule: Conflict['rule'];
  if (ts === 'o' || ts === 't') {
    oWins = ts === 'o';
    rule = 'updated_at';
  } else {
    const c = compareClocks(co, ct);
    if (c !== 0) {
      oWins = c > 0;
      rule = 'clock';
    } else {
      oWins = lo.slot.name > lt.slot.name; // locations, not paths: a path changes when its parent item moves
      rule = 'value';
    }
  }
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

// ---------------------------------------------------------------------------
// Text level: parsing, formatting, whole-file fallback

/** Parse a text losslessly (json-parse.ts); JSON.parse only for a document too deep for that parser's recursion. */
function parse(text: string, guide?: Json): { ok: true; value: Json; lossy?: true; dups?: DuplicateKey[]; opaque?: true } | { ok: false } {
  try {
    return parseJsonBytes(Buffer.from(text, 'utf8'), guide);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
  }
  try {
    return { ok: true, value: JSON.parse(text) as Json, lossy: true };
  } catch {
    return { ok: false };
  }
}

/** Indentation unit of a JSON text: '' for minified, null when the text does not tell. */
export function detectIndent(text: string): string | null {
  const trimmed = text.trim();
  if (!trimmed.includes('\n')) {
    // `{}`, `[]` or a scalar say nothing about how the file is formatted.
    return /^[[{]/.test(trimmed) && !/^[[{]\s*[\]}]$/.test(trimmed) ? '' : null;
  }
  const m = /\n([ \t]+)\S/.exec(trimmed);
  if (!m) return null;
  const ws = m[1]!;
  return ws.startsWith('\t') ? '\t' : ' '.repeat(Math.min(ws.length, 10));
}

/** What a side's text says about its format; `indent` null when it does not tell. */
interface TextFormat {
  indent: string | null;
  newline: boolean;
}

function formatOf(text: string): TextFormat {
  return { indent: detectIndent(text), newline: text.endsWith('\n') };
}

function chooseFormat(base: TextFormat | null, ours: TextFormat, theirs: TextFormat): { indent: string; newline: boolean } {
  const io = ours.indent;
  const it = theirs.indent;
  const ib = base === null ? null : base.indent;
  const indent = io !== null && io === it ? io : (ib ?? (io === null ? it : it === null ? io : null) ?? '  ');
  const no = ours.newline;
  const nt = theirs.newline;
  const newline = no === nt ? no : base !== null ? base.newline : true;
  return { indent, newline };
}

function emptyOutput(): Omit<JsonMergeOutput, 'text' | 'method'> {
  return { stats: {}, conflicts: [], collisions: [], notes: [] };
}

/** Whole-file last writer wins: file clocks, then text; a side with conflict markers never wins over one without. */
function wholeFile(path: string, ours: string, theirs: string, oc: SideClocks | undefined, tc: SideClocks | undefined, why: string): JsonMergeOutput {
  const out = emptyOutput();
  const so = side(ours, new ClockIndex(oc).file);
  const st = side(theirs, new ClockIndex(tc).file);
  const mo = MARKER_RE.test(ours);
  const mt = MARKER_RE.test(theirs);
  let pick: ReturnType<typeof pickWinner>;
  if (mo !== mt) {
    pick = mo ? { winner: st, loser: so, rule: 'value' } : { winner: so, loser: st, rule: 'value' };
    out.notes.push('one side holds conflict markers; kept the other');
  } else pick = pickWinner(so, st);
  out.notes.push(why);
  out.conflicts.push({ path, key: '', winner: pick.winner, loser: pick.loser, rule: pick.rule });
  out.stats.conflicts = 1;
  return { text: pick.winner.value, method: 'whole-file', ...out };
}

/**
 * Merge three versions of a JSON file. Inputs are BOM-stripped, LF-normalised
 * text (the caller re-applies framing). `base` null = both sides added the
 * file: everything is an add. Never throws.
 */
export function mergeJsonText(
  path: string,
  base: string | null,
  ours: string,
  theirs: string,
  opts: JsonOptions,
  oursClock?: SideClocks,
  theirsClock?: SideClocks,
): JsonMergeOutput {
  const src: JsonSources = { base: base === null ? null : () => base, ours: () => ours, theirs: () => theirs };
  const r = mergeJson(path, src, opts, oursClock, theirsClock);
  if (!('doc' in r)) return r;
  const { doc, indent, newline, ...rest } = r;
  const bytes = jsonToBytes(doc, indent, newline, { bom: false, eol: '\n' }, Math.max(ours.length, theirs.length));
  return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), ...rest };
}

/**
 * The three inputs of mergeJson, each read when needed (BOM-stripped,
 * LF-normalised text, as for mergeJsonText). A caller holding bytes decodes
 * afresh on each call, so no text outlives its parse: on a 5 MB file the
 * three texts would otherwise stay alive through the whole merge (issue #2).
 */
export interface JsonSources {
  base: (() => string) | null;
  ours: () => string;
  theirs: () => string;
  /** The caller has found the texts pairwise different (e.g. by their bytes): no need to read them for the fast paths. */
  distinct?: boolean;
  /** The sides' UTF-8 bytes: parsed directly, sharing the base's unchanged subtrees (json-parse.ts), with no text made. */
  bytes?: { ours: Uint8Array; theirs: Uint8Array; base?: Uint8Array };
}

/** A structural merge's document, left for the caller to write (`jsonToBytes`): no whole-document string. */
export interface JsonMergeDoc extends Omit<JsonMergeOutput, 'text'> {
  doc: Json;
  indent: string;
  newline: boolean;
}

/** mergeJsonText over JsonSources, with a structural result given as the merged value and its format. */
export function mergeJson(path: string, src: JsonSources, opts: JsonOptions, oursClock?: SideClocks, theirsClock?: SideClocks): JsonMergeOutput | JsonMergeDoc {
  const fast = src.distinct === true ? null : fastPath(src);
  if (fast !== null) return fast;
  try {
    const docs = parseDocs(src);
    if ('broken' in docs) return validSideWins(path, src, docs.broken, oursClock, theirsClock);
    if ('fallback' in docs) return wholeFile(path, src.ours(), src.theirs(), oursClock, theirsClock, docs.fallback);
    return structural(path, docs, opts, oursClock, theirsClock);
  } catch (e) {
    // Defensive: a bug or an absurdly deep document must not stop a sync.
    return wholeFile(path, src.ours(), src.theirs(), oursClock, theirsClock, `structural merge failed (${e instanceof Error ? e.message : String(e)}); whole file, last writer wins`);
  }
}

/**
 * Exactly one side parses: a side that does not parse never replaces one that
 * does (a file cut off mid-write by a crashed agent must not beat a valid
 * edit). The valid side is merged against the base as if the broken side
 * were unchanged, which is the valid side itself, kept byte for byte; the
 * broken bytes go to the conflict record (key '') and a note names the file.
 */
function validSideWins(path: string, src: JsonSources, broken: 'o' | 't', oc: SideClocks | undefined, tc: SideClocks | undefined): JsonMergeOutput {
  const out = emptyOutput();
  const [good, bad] = broken === 't' ? [src.ours(), src.theirs()] : [src.theirs(), src.ours()];
  const [gc, bc] = broken === 't' ? [oc, tc] : [tc, oc];
  out.conflicts.push({ path, key: '', winner: side(good, new ClockIndex(gc).file), loser: side(bad, new ClockIndex(bc).file), rule: 'value' });
  out.notes.push(`${path}: one side does not parse as JSON (cut off mid-write, or hand-edited); kept the side that parses, the broken text is in the conflict record (agentgit conflicts): repair the file from there if it held anything new`);
  out.stats.conflicts = 1;
  return { text: good, method: 'structural', ...out };
}

/** Equal sides, or one side unchanged: that side's text as it is. */
function fastPath(src: JsonSources): JsonMergeOutput | null {
  const ours = src.ours();
  const theirs = src.theirs();
  if (ours === theirs) return { text: ours, method: 'structural', ...emptyOutput(), notes: ['both sides are identical'] };
  const base = src.base === null ? null : src.base();
  if (base !== null && ours === base) return { text: theirs, method: 'structural', ...emptyOutput(), notes: ['only one side changed'] };
  if (base !== null && theirs === base) return { text: ours, method: 'structural', ...emptyOutput(), notes: ['only one side changed'] };
  return null;
}

interface Docs {
  b: Json | undefined;
  o: Json;
  t: Json;
  fmt: { indent: string; newline: boolean };
  notes: string[];
  /** Duplicate keys in each side (the earlier occurrence was dropped). */
  dups: { o: DuplicateKey[]; t: DuplicateKey[] };
}

/**
 * Parse base, then each side with its unchanged subtrees replaced by the
 * base's own (shareUnchanged): the copies become garbage, and `same()` on an
 * unchanged subtree is one reference compare (most of a big document).
 */
function parseDocs(src: JsonSources): Docs | { fallback: string } | { broken: 'o' | 't' } {
  const notes: string[] = [];
  let b: Json | undefined;
  let bf: TextFormat | null = null;
  if (src.base !== null) {
    // Losslessly, like the sides: a number's text must compare equal to the same text in a side.
    const bytes = src.bytes?.base;
    let pb: ReturnType<typeof parse> | null = null;
    if (bytes !== undefined) {
      try {
        pb = parseJsonBytes(bytes);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
      if (pb?.ok === true) bf = { indent: indentOfBytes(bytes), newline: bytes[bytes.length - 1] === 10 };
    }
    if (pb === null) {
      const text = src.base();
      pb = parse(text);
      if (pb.ok) bf = formatOf(text);
    }
    if (pb.ok) b = pb.value;
    else notes.push('base does not parse as JSON (e.g. conflict markers from a virtual ancestor); merged as if both sides added the file');
  }
  let longNumbers = false;
  const side = (read: () => string, bytes: Uint8Array | undefined): { parsed: ReturnType<typeof parse>; fmt: TextFormat } => {
    if (bytes !== undefined) {
      let parsed: ReturnType<typeof parse> | null = null;
      try {
        parsed = parseJsonBytes(bytes, b);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e; // nested too deep for its recursion: JSON.parse decides, as before
      }
      if (parsed !== null) return { parsed, fmt: { indent: indentOfBytes(bytes), newline: bytes[bytes.length - 1] === 10 } };
    }
    const text = read();
    const parsed = parse(text, b);
    if (parsed.ok && parsed.lossy === true) {
      if (b !== undefined) parsed.value = shareUnchanged(b, parsed.value);
      longNumbers ||= /\d{16}|\de\d{3}|-0\b|\.\d*0\b/i.test(text);
    }
    return { parsed, fmt: formatOf(text) };
  };
  const so = side(src.ours, src.bytes?.ours);
  const st = side(src.theirs, src.bytes?.theirs);
  const po = so.parsed;
  const pt = st.parsed;
  if (po.ok !== pt.ok) return { broken: po.ok ? 't' : 'o' };
  if (!po.ok || !pt.ok) {
    const which = !po.ok && !pt.ok ? 'neither side parses' : !po.ok ? 'ours does not parse' : 'theirs does not parse';
    return { fallback: `${which} as JSON; whole file, last writer wins` };
  }
  if (po.opaque === true || pt.opaque === true) notes.push(`nested deeper than ${DEPTH_LIMIT} levels: each subtree below that depth merged as one value (different edits inside one race as a unit, reported)`);
  if (longNumbers) notes.push('a document nested too deep for the lossless parser was read with JSON.parse: numbers that a 64-bit float cannot hold exactly may have lost digits');
  return { b, o: po.value, t: pt.value, fmt: chooseFormat(bf, so.fmt, st.fmt), notes, dups: { o: po.dups ?? [], t: pt.dups ?? [] } };
}

function structural(path: string, docs: Docs, opts: JsonOptions, oursClock: SideClocks | undefined, theirsClock: SideClocks | undefined): JsonMergeDoc {
  const S: State = {
    file: path,
    opts,
    oc: new ClockIndex(oursClock),
    tc: new ClockIndex(theirsClock),
    volatile: new PathMatcher(opts.volatile),
    counters: new PathMatcher(opts.counters),
    conflicts: [],
    collisions: [],
    notes: [],
    stats: {},
    moves: new Map(),
    forced: new Set(),
  };
  reportDuplicates(S, docs.o, docs.dups.o);
  reportDuplicates(S, docs.t, docs.dups.t);
  documentScope(S, docs.b, docs.o, docs.t);
  const rootSlot = S.moves.get('');
  const doc = mergeValue(S, { path: '', cp: [''], key: undefined, ts: undefined, loc: '' }, docs.b, docs.o, docs.t, rootSlot ? { slot: rootSlot } : undefined) ?? null;
  S.notes.unshift(...docs.notes.filter((n) => n.startsWith('base ')));
  S.notes.push(...docs.notes.filter((n) => !n.startsWith('base ')));
  S.stats.conflicts = S.conflicts.length;
  S.stats.collisions = S.collisions.length;
  return { doc, ...docs.fmt, method: 'structural', stats: S.stats, conflicts: S.conflicts, collisions: S.collisions, notes: S.notes };
}

/** Key path of every object of a document (index segments in arrays), found without recursion. */
function objectPaths(doc: Json, wanted: ReadonlySet<JsonObject>): Map<JsonObject, string> {
  const found = new Map<JsonObject, string>();
  const stack: [Json, string][] = [[doc, '']];
  while (stack.length > 0 && found.size < wanted.size) {
    const [v, p] = stack.pop()!;
    if (isArr(v)) v.forEach((el, i) => stack.push([el, p + '/' + String(i)]));
    else if (isObj(v)) {
      if (wanted.has(v)) found.set(v, p);
      for (const k of Object.keys(v)) stack.push([v[k]!, p + keySeg(k)]);
    }
  }
  return found;
}

/**
 * A key twice in one object: the last occurrence is the value (as JSON.parse
 * reads it); the dropped one goes to the conflict record, so an edit made to
 * either occurrence is never lost silently, and a note names the key.
 */
function reportDuplicates(S: State, doc: Json, dups: readonly DuplicateKey[]): void {
  if (dups.length === 0) return;
  const paths = objectPaths(doc, new Set(dups.map((d) => d.object)));
  for (const d of dups) {
    const key = (paths.get(d.object) ?? '') + keySeg(d.key);
    S.notes.push(`${key}: the key occurs more than once in one object; kept the last occurrence, the earlier one is in the conflict record: remove the duplicate`);
    S.conflicts.push({ path: S.file, key, winner: side(canon(d.object[d.key]!), undefined), loser: side(canon(d.dropped), undefined), rule: 'value' });
  }
}

// ---------------------------------------------------------------------------
// Changed key paths (for stamping per-key clocks)

/**
 * Key paths whose values differ between two documents, in the notation the
 * merge uses for clock lookups: the most specific changed paths (a key, an
 * `@id` item that is new at its path, a whole non-id array, a value whose
 * type changed). An item that moved to another array (its id unique in both
 * documents) is reported as `<new item path>/~loc` plus its changed fields,
 * not as a whole new item, so the move does not make its fields look newly
 * written. Deleted keys and items are NOT reported: a deletion never wins a
 * race (an edit beats a delete), and stamping it would only make the clock
 * of a value another side writes there look newer than it is. Reorders
 * alone are not reported. `before` null (file added) reports '' (the whole
 * document). Returns [] if either side does not parse.
 */
export function changedKeyPaths(before: string | null, after: string, opts: JsonOptions): string[] {
  try {
    const a = parse(after);
    if (!a.ok) return [];
    let b: Json | undefined;
    if (before !== null) {
      const pb = parse(before);
      if (!pb.ok) return [];
      b = pb.value;
    }
    const out: string[] = [];
    const d: Differ = { opts, out, before: b, after: a.value, bi: undefined, ai: undefined };
    diffPaths(d, b, a.value, '');
    return out;
  } catch {
    return [];
  }
}

interface Differ {
  opts: JsonOptions;
  out: string[];
  before: Json | undefined;
  after: Json;
  /** Items of every id-keyed array of a document, by identity (null = occurs more than once); built on first need. */
  bi: Map<string, JsonObject | null> | undefined;
  ai: Map<string, JsonObject | null> | undefined;
}

function indexItems(v: Json | undefined, opts: JsonOptions, into: Map<string, JsonObject | null>): Map<string, JsonObject | null> {
  if (isArr(v)) {
    const idKey = detectIdKey([v], opts.idKeys);
    for (const el of v) {
      const id = idKey === null ? undefined : idValue(el, idKey);
      if (id !== undefined) {
        const k = identityOf(idKey!, id);
        into.set(k, into.has(k) ? null : (el as JsonObject));
      }
      indexItems(el, opts, into);
    }
  } else if (isObj(v)) for (const k of Object.keys(v)) indexItems(v[k], opts, into);
  return into;
}

function diffPaths(d: Differ, b: Json | undefined, a: Json, path: string): void {
  if (b === undefined) {
    d.out.push(path);
    return;
  }
  if (same(a, b)) return;
  if (isObj(a) && isObj(b)) {
    for (const k of Object.keys(a)) diffPaths(d, own(b, k), a[k]!, path + keySeg(k));
    return;
  }
  if (isArr(a) && isArr(b)) {
    const idKey = detectIdKey([b, a], d.opts.idKeys);
    if (idKey !== null) {
      const rep = repeatedIds([b, a], idKey);
      const bi = indexById(b, idKey, rep);
      const before = bi.items;
      const ai = indexById(a, idKey, rep);
      // Value entries (id-less items, repeated ids) are not addressable: a new one rewrites the array.
      for (const k of ai.values.keys()) {
        if (!bi.values.has(k)) {
          d.out.push(path);
          return;
        }
      }
      for (const id of ai.seq) {
        if (isValueKey(id)) continue;
        const el = ai.items.get(id)!;
        const itemPath = path + idSeg(id);
        const prev = before.get(id);
        if (prev !== undefined) {
          diffPaths(d, prev, el, itemPath);
          continue;
        }
        // New here: moved from another array, or created?
        const k = identityOf(idKey, id);
        d.bi ??= indexItems(d.before, d.opts, new Map());
        d.ai ??= indexItems(d.after, d.opts, new Map());
        const from = d.bi.get(k);
        if (from && d.ai.get(k)) {
          d.out.push(itemPath + LOC);
          diffPaths(d, from, el, itemPath);
        } else d.out.push(itemPath);
      }
      return;
    }
  }
  d.out.push(path);
}
