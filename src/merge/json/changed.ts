/**
 * Changed key paths of a JSON document, for stamping per-key clocks.
 */
import type { JsonOptions } from '../types.js';
import type { Json, JsonObject } from '../json.js';
import { LOC } from './clocks.js';
import { isArr, isObj, own, same } from './value.js';
import { detectIdKey, identityOf, idValue, indexById, isValueKey, repeatedIds } from './ids.js';
import { idSeg, keySeg } from './paths.js';
import { parse } from './input.js';

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

