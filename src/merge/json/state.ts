/**
 * The state of one structural merge (options, clocks, report, move plans)
 * and the context of a node (its key path, clock paths, location).
 */
import type { Collision, Conflict, JsonOptions } from '../types.js';
import type { JsonObject } from '../json.js';
import type { ClockIndex } from './clocks.js';
import type { PathMatcher } from './paths.js';

export interface State {
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
export type TsDecision = 'o' | 't' | 'tie';

export interface Ctx {
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

export interface SlotPlan {
  incoming: Map<string, Incoming>;
  outgoing: Set<string>;
}

/** What a node's merge must honour: moves into/out of this array, or into/out of this item's child arrays. */
export interface NodePlan {
  slot?: SlotPlan;
}

export function planActive(np: NodePlan | undefined): boolean {
  if (!np) return false;
  return np.slot !== undefined && (np.slot.incoming.size > 0 || np.slot.outgoing.size > 0);
}

export function bump(S: State, stat: string, n = 1): void {
  S.stats[stat] = (S.stats[stat] ?? 0) + n;
}

export function childCtx(cx: Ctx, seg: string, key: string | undefined, ts: TsDecision | undefined): Ctx {
  return { path: cx.path + seg, cp: cx.cp.map((p) => p + seg), key, ts, loc: cx.loc + seg };
}
