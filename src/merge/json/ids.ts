/**
 * Identity of items in id-keyed arrays: which key is the id, an item's id
 * (numbers by exact value), and the index of an array's versions by id, with
 * id-less elements and repeated ids as value entries.
 */
import type { Json, JsonObject } from '../json.js';
import { canon, cmpStr, isLossless, isObj, own, same } from './value.js';

// ---------------------------------------------------------------------------
// Id-keyed arrays

/** An item's id: a string, or a number by its exact value (a bigint beyond doubles, so two ids above 2^53 stay two). */
export type Id = string | number | bigint;

export function identityOf(idKey: string, id: Id): string {
  return idKey + '\u0000' + (typeof id !== 'string' ? 'n' + String(id) : 's' + id);
}

/** An id as JSON text, for messages. */
export function idText(id: Id): string {
  return typeof id === 'string' ? JSON.stringify(id) : String(id);
}

export function idValue(el: Json, idKey: string): Id | undefined {
  if (!isObj(el)) return undefined;
  const v = own(el, idKey);
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
  if (isLossless(v)) {
    if (/^-?\d+$/.test(v.text)) return BigInt(v.text);
    const n = Number(v.text);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/**
 * The id key of the given arrays (the versions of one array): the first of
 * `idKeys` that any of their elements carries, or null. Elements
 * without it (id-less items, scalars) and repeats of an id within one
 * version do not turn the array into a set: they merge as plain values
 * inside the keyed merge (see indexById).
 */
export function detectIdKey(lists: readonly Json[][], idKeys: readonly string[]): string | null {
  for (const k of idKeys) for (const l of lists) for (const el of l) if (idValue(el, k) !== undefined) return k;
  return null;
}

/**
 * Entry key of an element that has no id, or repeats an id already seen in
 * its version: its canonical value and occurrence number, behind a prefix no
 * real id starts with in practice. Such entries merge as a multiset of values.
 */
export const VALUE_KEY = '\u0000\u0001v';

export function isValueKey(id: Id): id is string {
  return typeof id === 'string' && id.startsWith(VALUE_KEY);
}

export function cmpId(a: Id, b: Id): number {
  if (typeof a !== 'string' && typeof b !== 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a !== 'string') return -1;
  if (typeof b !== 'string') return 1;
  return cmpStr(a, b);
}

/** Ids that occur more than once in any one of the given versions of an array. */
export function repeatedIds(lists: readonly Json[][], idKey: string): Set<Id> {
  const out = new Set<Id>();
  for (const l of lists) {
    const seen = new Set<Id>();
    for (const el of l) {
      const id = idValue(el, idKey);
      if (id === undefined) continue;
      if (seen.has(id)) out.add(id);
      else seen.add(id);
    }
  }
  return out;
}

/**
 * The repeated ids (of `repeated`) whose occurrences pair up safely, the
 * n-th with the n-th: the id occurs equally often in every version, and
 * neither side reordered its occurrences (an occurrence of a side is the
 * base's at its place, or none of the base's others). Such occurrences
 * merge as items (see indexById), so an edit on one side and another edit
 * of the same occurrence on the other make one item, not two.
 */
export function pairedIds(lists: readonly [Json[], Json[], Json[]], idKey: string, repeated: ReadonlySet<Id>): Set<Id> {
  const occ = lists.map((l) => {
    const m = new Map<Id, Json[]>();
    for (const el of l) {
      const id = idValue(el, idKey);
      if (id === undefined || !repeated.has(id)) continue;
      const a = m.get(id);
      if (a) a.push(el);
      else m.set(id, [el]);
    }
    return m;
  });
  const out = new Set<Id>();
  for (const id of repeated) {
    const [b, o, t] = occ.map((m) => m.get(id) ?? []);
    if (b!.length < 2 || o!.length !== b!.length || t!.length !== b!.length) continue;
    const inPlace = (side: Json[]): boolean => side.every((v, k) => same(v, b![k]) || !b!.some((x, j) => j !== k && same(v, x)));
    if (inPlace(o!) && inPlace(t!)) out.add(id);
  }
  return out;
}

/** Entry key of the n-th occurrence of a paired repeated id (see pairedIds). */
const PAIR_KEY = '\u0000\u0002p';

/**
 * Elements of an id-keyed array by id. An element without an id, or whose id
 * is in `repeated` (it occurs twice in some version: which occurrence is
 * "the" item cannot be told), is entered under a value key (see VALUE_KEY)
 * in `values`; `dups` lists the repeated ids met.
 */
export function indexById(arr: Json[], idKey: string, repeated?: ReadonlySet<Id>, paired?: ReadonlySet<Id>): Indexed {
  const seq: Id[] = [];
  const items = new Map<Id, JsonObject>();
  const values = new Map<string, Json>();
  const dups: Id[] = [];
  const pairs = new Map<string, { id: Id; n: number }>();
  const seen = new Map<Id, number>();
  let count: Map<string, number> | undefined;
  for (const el of arr) {
    const id = idValue(el, idKey);
    if (id !== undefined && !items.has(id) && !(repeated !== undefined && repeated.has(id))) {
      seq.push(id);
      items.set(id, el as JsonObject);
      continue;
    }
    if (id !== undefined) dups.push(id);
    if (id !== undefined && paired !== undefined && paired.has(id)) {
      // The n-th occurrence, an item of its own (the same key in every version).
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      const k = PAIR_KEY + String(n) + '\u0001' + identityOf(idKey, id);
      seq.push(k);
      items.set(k, el as JsonObject);
      pairs.set(k, { id, n });
      continue;
    }
    const c = canon(el);
    count ??= new Map();
    const n = count.get(c) ?? 0;
    count.set(c, n + 1);
    const k = VALUE_KEY + c + '\u0001' + String(n);
    seq.push(k);
    values.set(k, el);
  }
  return { seq, items, values, dups, pairs };
}

export interface Indexed {
  seq: Id[];
  items: Map<Id, JsonObject>;
  values: Map<string, Json>;
  dups: Id[];
  /** Entry keys of paired occurrences of repeated ids: the id and which occurrence. */
  pairs: Map<string, { id: Id; n: number }>;
}
