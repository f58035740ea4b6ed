/**
 * Order of a merged sequence (object keys, id-keyed arrays, set arrays):
 * the base order or the one side's reordering, new entries after their
 * nearest preceding base entry, and where both sides inserted at one point
 * their runs interleaved with each run's own order kept. Generic over the
 * entry keys; nothing here knows about JSON values.
 */

export function seqEqual<K>(a: readonly K[], b: readonly K[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `seq` (a reordering of part of `all`) with the rest of `all` put back after their nearest predecessor. */
export function reorderWith<K>(all: readonly K[], seq: readonly K[]): K[] {
  const inSeq = new Set(seq);
  const attached = new Map<K | null, K[]>();
  let prev: K | null = null;
  for (const k of all) {
    if (inSeq.has(k)) prev = k;
    else {
      const l = attached.get(prev);
      if (l) l.push(k);
      else attached.set(prev, [k]);
    }
  }
  const out: K[] = [...(attached.get(null) ?? [])];
  for (const k of seq) {
    out.push(k);
    const l = attached.get(k);
    if (l) out.push(...l);
  }
  return out;
}

/**
 * Two sides' runs inserted at one point, each kept in its own order: the
 * earlier head (by `heads`, a total order) goes first, an entry in both runs
 * once. This is a stable sort of the runs' blocks (an entry and the smaller
 * entries after it) by their first entries, so it is the same for either
 * side first and for any order of pairwise merges of many replicas.
 */
export function interleave<K>(a: readonly K[], b: readonly K[], heads: (a: K, b: K) => number): K[] {
  const out: K[] = [];
  const seen = new Set<K>();
  const put = (k: K): void => {
    if (!seen.has(k)) {
      seen.add(k);
      out.push(k);
    }
  };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i >= a.length) put(b[j++]!);
    else if (j >= b.length) put(a[i++]!);
    else if (a[i] === b[j]) {
      put(a[i++]!);
      j++;
    } else if (heads(a[i]!, b[j]!) < 0) put(a[i++]!);
    else put(b[j++]!);
  }
  return out;
}

/**
 * Order the kept entries of a merged sequence. See the top comment: base
 * order (or the one side's reordering), new entries after their nearest
 * preceding base entry, runs of both sides at one point merged sorted.
 */
export function orderEntries<K>(
  base: readonly K[],
  ours: readonly K[],
  theirs: readonly K[],
  keep: ReadonlySet<K>,
  cmp: (a: K, b: K) => number,
  heads: (a: K, b: K) => number = cmp,
): K[] {
  // Common case: nobody added, removed or reordered anything.
  if (keep.size === base.length && seqEqual(base, ours) && seqEqual(base, theirs) && base.every((k) => keep.has(k))) return [...base];
  const order = keptBaseOrder(base, ours, theirs, keep);
  const runAt = insertedRuns(order, ours, theirs, keep, heads);
  const out = runAt(-1);
  order.forEach((k, i) => {
    out.push(k);
    for (const n of runAt(i)) out.push(n);
  });
  // Defensive: anything kept but placed nowhere goes last, sorted.
  if (out.length < keep.size) {
    const placed = new Set(out);
    out.push(...[...keep].filter((k) => !placed.has(k)).sort(cmp));
  }
  return out;
}

/** The kept base entries in the base order, or in the one side's reordering (both sides' when they agree). */
function keptBaseOrder<K>(base: readonly K[], ours: readonly K[], theirs: readonly K[], keep: ReadonlySet<K>): K[] {
  const skel = base.filter((k) => keep.has(k));
  const inSkel = new Set(skel);
  const oSet = new Set(ours);
  const tSet = new Set(theirs);
  const ko = ours.filter((k) => inSkel.has(k));
  const kt = theirs.filter((k) => inSkel.has(k));
  const oMoved = !seqEqual(ko, skel.filter((k) => oSet.has(k)));
  const tMoved = !seqEqual(kt, skel.filter((k) => tSet.has(k)));
  if (oMoved && !tMoved) return reorderWith(skel, ko);
  if (tMoved && !oMoved) return reorderWith(skel, kt);
  if (oMoved && tMoved && seqEqual(ko, kt)) return reorderWith(skel, ko);
  return skel;
}

/**
 * The new entries to put after position `a` of `order` (-1: before the
 * first): each side's run after its nearest preceding entry of `order`,
 * the two runs at one point interleaved.
 */
function insertedRuns<K>(order: readonly K[], ours: readonly K[], theirs: readonly K[], keep: ReadonlySet<K>, heads: (a: K, b: K) => number): (a: number) => K[] {
  const pos = new Map<K, number>();
  order.forEach((k, i) => pos.set(k, i));
  const anchorsOf = (list: readonly K[]): Map<K, number> => {
    const m = new Map<K, number>();
    let a = -1;
    for (const k of list) {
      const p = pos.get(k);
      if (p !== undefined) a = p;
      else if (keep.has(k) && !m.has(k)) m.set(k, a);
    }
    return m;
  };
  const ao = anchorsOf(ours);
  const at = anchorsOf(theirs);
  const anchor = (k: K): number | undefined => {
    const x = ao.get(k);
    const y = at.get(k);
    return x === undefined ? y : y === undefined ? x : Math.min(x, y);
  };
  const groups = new Map<number, { o: K[]; t: K[] }>();
  const group = (a: number): { o: K[]; t: K[] } => {
    let g = groups.get(a);
    if (!g) groups.set(a, (g = { o: [], t: [] }));
    return g;
  };
  for (const [k, a] of ao) if (anchor(k) === a) group(a).o.push(k);
  for (const [k, a] of at) if (anchor(k) === a) group(a).t.push(k);
  return (a: number): K[] => {
    const g = groups.get(a);
    if (!g) return [];
    if (g.t.length === 0) return g.o;
    if (g.o.length === 0 || seqEqual(g.o, g.t)) return g.t;
    return interleave(g.o, g.t, heads);
  };
}
