/**
 * Timestamps of a JSON merge: an item's timestamp field (timestampKeys,
 * read by decide.ts, offsets honoured, no offset = UTC), the timestamp
 * decision of an object level, and the order of appended runs by it.
 */
import type { Json, JsonObject } from '../json.js';
import { instantOf } from '../decide.js';
import { isLossless, isObj, own } from './value.js';
import type { State, TsDecision } from './state.js';
import type { Clock, Conflict } from '../types.js';
import { compareClocks } from '../util.js';

/**
 * Order of appended runs where items carry timestamps (timestampKeys): the
 * earlier instant first, items with one before items without, then `cmp`.
 */
export function byTimestamp<K>(S: State, valueOf: (k: K) => Json | undefined, cmp: (a: K, b: K) => number): (a: K, b: K) => number {
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

function tsValue(v: Json | undefined, key: string): number | undefined {
  return instantOf(isLossless(v) ? Number(v.text) : v, key) ?? undefined;
}

/** The timestamp decision of an object level, or undefined when its sides do not both carry one. */
export function decideTs(S: State, o: JsonObject, t: JsonObject): TsDecision | undefined {
  for (const k of S.opts.timestampKeys) {
    const a = tsValue(own(o, k), k);
    const b = tsValue(own(t, k), k);
    if (a === undefined || b === undefined) continue;
    return a > b ? 'o' : a < b ? 't' : 'tie';
  }
  return undefined;
}

/** Who wins a race: the timestamp decision, then the two clocks, then `oByValue` (true: o wins). */
export function decideRace(ts: TsDecision | undefined, co: Clock | undefined, ct: Clock | undefined, oByValue: () => boolean): { oWins: boolean; rule: Conflict['rule'] } {
  if (ts === 'o' || ts === 't') return { oWins: ts === 'o', rule: 'updated_at' };
  const c = compareClocks(co, ct);
  if (c !== 0) return { oWins: c > 0, rule: 'clock' };
  return { oWins: oByValue(), rule: 'value' };
}
