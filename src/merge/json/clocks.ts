/**
 * Per-key write clocks of a JSON merge (SideClocks): the clock of a value at
 * a key path, of an item's placement, and the clocks of a merged side. See
 * the top comment of json.ts ("Clocks").
 */
import type { Clock, SideClocks } from '../types.js';
import { compareClocks } from '../util.js';

/** The key path above `p` (`/a/b` -> `/a`, `/a` -> ``). */
export function parentPath(p: string): string {
  return p.slice(0, p.lastIndexOf('/'));
}

/**
 * Last segment of the key path that records where an item was moved to
 * (`/done/@k1/~loc`). `~l` is not an escape, so no object key yields it, and
 * it is not an ancestor of the item's fields: a move does not make the
 * item's fields look newly written.
 */
export const LOC = '/~loc';

export function maxClock(a: Clock | undefined, b: Clock | undefined): Clock | undefined {
  return compareClocks(a, b) >= 0 ? a : b;
}

/**
 * Fast lookups over one side's clocks.
 *
 * A recorded path means "the value at this path was (re)written as a whole at
 * that time" (changedKeyPaths reports the most specific changed paths), so a
 * value's clock is the latest clock recorded at its path, at any ancestor
 * (an ancestor rewrite rewrote it too) or below it (a write inside it). That
 * equals "the most specific recorded ancestor" whenever later writes are
 * recorded deeper, and stays right when an older clock lingers below a newer
 * whole-value write. Two paths are not writes of the value: the root ''
 * (the sync engine stamps it on every write of the file: it is the file
 * clock) and `<item>/~loc` (a move). With nothing recorded, the file clock
 * (max of `file` and the '' key) applies.
 */
export class ClockIndex {
  readonly file: Clock | undefined;
  private readonly keys: Map<string, Clock>;
  private readonly sorted: string[];
  constructor(c: SideClocks | undefined) {
    this.keys = new Map();
    if (c?.keys) for (const [k, v] of Object.entries(c.keys)) if (typeof v === 'string') this.keys.set(k, v);
    this.file = maxClock(c?.file, this.keys.get(''));
    this.keys.delete('');
    this.sorted = [...this.keys.keys()].sort();
  }
  /** Latest clock recorded at the path or any ancestor (root excluded). */
  private above(path: string): Clock | undefined {
    let best: Clock | undefined;
    for (let p = path; p !== ''; p = parentPath(p)) best = maxClock(best, this.keys.get(p));
    return best;
  }
  /** Latest clock recorded strictly below the path (moves into it included). */
  private under(path: string): Clock | undefined {
    const lo = path + '/';
    const hi = path + '0'; // '0' is the code unit after '/'
    let a = 0;
    let z = this.sorted.length;
    while (a < z) {
      const m = (a + z) >> 1;
      if (this.sorted[m]! < lo) a = m + 1;
      else z = m;
    }
    let best: Clock | undefined;
    for (let i = a; i < this.sorted.length && this.sorted[i]! < hi; i++) best = maxClock(best, this.keys.get(this.sorted[i]!));
    return best;
  }
  /** Clock of a value found at any of `paths` (its paths in base/ours/theirs inside a moved item). */
  at(paths: readonly string[]): Clock | undefined {
    if (this.keys.size === 0) return this.file;
    let best: Clock | undefined;
    for (const p of paths) best = maxClock(best, maxClock(this.above(p), this.under(p)));
    return best ?? this.file;
  }
  /** Clock of an item's placement: its move marker, or the clock of the item (or array) itself. */
  loc(itemPaths: readonly string[]): Clock | undefined {
    if (this.keys.size === 0) return this.file;
    let best: Clock | undefined;
    for (const p of itemPaths) best = maxClock(best, maxClock(this.keys.get(p + LOC), this.above(p)));
    return best ?? this.file;
  }
}

/** The clock the merge uses for the value at one key path (see ClockIndex). */
export function clockOf(clocks: SideClocks | undefined, path: string): Clock | undefined {
  return new ClockIndex(clocks).at([path]);
}

/**
 * Clocks of a merged side: every recorded path with the later of the two
 * sides' clocks for it, and the later file clock. (The same as merging the
 * synced clock files with every key volatile.) Because a value's clock is a
 * maximum over recorded paths, the merged side's clock for any value is the
 * later of the two sides' recorded clocks for it.
 */
export function mergeClocks(a: SideClocks | undefined, b: SideClocks | undefined): SideClocks {
  const keys: Record<string, Clock> = {};
  for (const c of [a?.keys, b?.keys]) {
    if (c) for (const [k, v] of Object.entries(c)) if (typeof v === 'string') keys[k] = maxClock(keys[k], v)!;
  }
  const out: SideClocks = { keys };
  const file = maxClock(a?.file, b?.file);
  if (file !== undefined) out.file = file;
  return out;
}
