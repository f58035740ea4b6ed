/**
 * Which items of `a` reappear in `b`: common prefix and suffix, then a
 * patience diff over interned ids, a quadratic LCS only inside small
 * regions without anchors. Shared by the merge kinds.
 */


/** For each index of `a`, the index of the same entry in `b`, or -1. Monotone. */
export function diffMatch(a: string[], b: string[]): Int32Array {
  const res = new Int32Array(a.length).fill(-1);
  let lo = 0;
  while (lo < a.length && lo < b.length && a[lo] === b[lo]) res[lo] = lo++;
  let ha = a.length;
  let hb = b.length;
  while (ha > lo && hb > lo && a[ha - 1] === b[hb - 1]) res[--ha] = --hb;
  if (lo === ha || lo === hb) return res;
  // intern the changed middle into ints
  const ids = new Map<string, number>();
  const intern = (s: string): number => {
    let id = ids.get(s);
    if (id === undefined) ids.set(s, (id = ids.size));
    return id;
  };
  const ia = new Int32Array(a.length);
  const ib = new Int32Array(b.length);
  for (let i = lo; i < ha; i++) ia[i] = intern(a[i]!);
  for (let j = lo; j < hb; j++) ib[j] = intern(b[j]!);
  patience(ia, ib, lo, ha, lo, hb, res);
  return res;
}

/** Patience diff over ranges, with an explicit stack (no recursion depth limit). */
export function patience(a: Int32Array, b: Int32Array, a0: number, a1: number, b0: number, b1: number, res: Int32Array): void {
  const stack: number[] = [a0, a1, b0, b1];
  while (stack.length > 0) {
    let hb = stack.pop()!;
    let lb = stack.pop()!;
    let ha = stack.pop()!;
    let la = stack.pop()!;
    while (la < ha && lb < hb && a[la] === b[lb]) res[la++] = lb++;
    while (la < ha && lb < hb && a[ha - 1] === b[hb - 1]) res[--ha] = --hb;
    if (la === ha || lb === hb) continue;
    // entries unique in both ranges are anchors; keep the longest increasing run of them
    const inA = new Map<number, number>();
    for (let i = la; i < ha; i++) inA.set(a[i]!, inA.has(a[i]!) ? -1 : i);
    const inB = new Map<number, number>();
    for (let j = lb; j < hb; j++) {
      const id = b[j]!;
      if (inA.has(id)) inB.set(id, inB.has(id) ? -1 : j);
    }
    const candA: number[] = [];
    const candB: number[] = [];
    for (let i = la; i < ha; i++) {
      const id = a[i]!;
      if (inA.get(id) !== i) continue;
      const j = inB.get(id);
      if (j !== undefined && j >= 0) {
        candA.push(i);
        candB.push(j);
      }
    }
    const lis = longestIncreasing(candB);
    if (lis.length > 0) {
      let pa = la;
      let pb = lb;
      for (const k of lis) {
        const i = candA[k]!;
        const j = candB[k]!;
        res[i] = j;
        if (pa < i && pb < j) stack.push(pa, i, pb, j);
        pa = i + 1;
        pb = j + 1;
      }
      if (pa < ha && pb < hb) stack.push(pa, ha, pb, hb);
    } else if ((ha - la) * (hb - lb) <= 250_000) {
      lcsSmall(a, b, la, ha, lb, hb, res);
    }
    // else: a large region without anchors is left as one replaced block
  }
}

/** Indices (into xs) of a longest strictly increasing subsequence. */
export function longestIncreasing(xs: number[]): number[] {
  const tails: number[] = []; // index into xs of the smallest tail of each length
  const prev = new Int32Array(xs.length).fill(-1);
  for (let k = 0; k < xs.length; k++) {
    const x = xs[k]!;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[tails[mid]!]! < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[k] = tails[lo - 1]!;
    tails[lo] = k;
  }
  const out: number[] = [];
  for (let k = tails.length > 0 ? tails[tails.length - 1]! : -1; k >= 0; k = prev[k]!) out.push(k);
  return out.reverse();
}

/** Quadratic LCS for small regions. */
export function lcsSmall(a: Int32Array, b: Int32Array, la: number, ha: number, lb: number, hb: number, res: Int32Array): void {
  const n = ha - la;
  const m = hb - lb;
  const w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * w + j] = a[la + i] === b[lb + j] ? L[(i + 1) * w + j + 1]! + 1 : Math.max(L[(i + 1) * w + j]!, L[i * w + j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[la + i] === b[lb + j]) {
      res[la + i] = lb + j;
      i++;
      j++;
    } else if (L[(i + 1) * w + j]! >= L[i * w + j + 1]!) i++;
    else j++;
  }
}
