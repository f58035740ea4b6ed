/** A small deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
export function rng(seed: number): { int: (n: number) => number; pick: <T>(a: readonly T[]) => T } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { int: (n) => Math.floor(next() * n), pick: (a) => a[Math.floor(next() * a.length)]! };
}
