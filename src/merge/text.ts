/**
 * `text`: curated docs (MEMORY.md, SOUL.md). A 3-way line merge with
 * node-diff3 over line arrays. Where both sides changed the same lines the
 * later write wins that hunk (file clocks; equal clocks: the greater text)
 * and the other version goes into the report. Two insertions at the same
 * place with nothing deleted (one side adds a person, the other another) are
 * not a race: both are kept, lines they share once, the rest in content
 * order. Never conflict markers.
 *
 * Invariant: the output depends on {ours, theirs} as a set with their clocks,
 * never on which one is "ours".
 */
import { diff3Merge } from 'node-diff3';
import type { Conflict, SideClocks } from './types.js';
import { pickWinner, side, splitLines } from './util.js';

export interface TextMergeOutput {
  text: string;
  stats: Record<string, number>;
  conflicts: Conflict[];
}

export function mergeTextText(
  path: string,
  base: string | null,
  ours: string,
  theirs: string,
  oursClock: SideClocks = {},
  theirsClock: SideClocks = {},
): TextMergeOutput {
  const a = splitLines(ours);
  const b = splitLines(theirs);
  const o = splitLines(base ?? '');
  // Lines shared at both ends are settled; diff only the middle (keeps big docs fast).
  let pre = 0;
  while (pre < a.length && pre < b.length && pre < o.length && a[pre] === b[pre] && a[pre] === o[pre]) pre++;
  let post = 0;
  while (
    post < a.length - pre && post < b.length - pre && post < o.length - pre &&
    a[a.length - 1 - post] === b[b.length - 1 - post] && a[a.length - 1 - post] === o[o.length - 1 - post]
  ) post++;
  const mid = (x: string[]): string[] => x.slice(pre, x.length - post);
  const regions = diff3Merge(mid(a), mid(o), mid(b), { excludeFalseConflicts: true });

  const out: string[] = a.slice(0, pre);
  const conflicts: Conflict[] = [];
  let hunks = 0;
  for (const r of regions) {
    if (r.ok) {
      out.push(...r.ok);
      continue;
    }
    if (!r.conflict) continue;
    if (base !== null && r.conflict.o.length === 0) {
      // both sides inserted lines at the same place and deleted nothing: keep both
      out.push(...bothInsertions(r.conflict.a, r.conflict.b));
      hunks++;
      continue;
    }
    hunks++;
    const aText = r.conflict.a.join('');
    const bText = r.conflict.b.join('');
    const race = pickWinner(side(aText, oursClock.file), side(bText, theirsClock.file));
    const lines = race.winner === undefined ? [] : splitLines(race.winner.value);
    out.push(...lines);
    conflicts.push({
      path,
      key: `hunk@${pre + r.conflict.oIndex + 1}`,
      winner: race.winner,
      loser: race.loser,
      rule: race.rule,
    });
  }
  out.push(...a.slice(a.length - post));
  // A winning hunk that ended without a newline must not fuse with the next line.
  for (let i = 0; i < out.length - 1; i++) if (!out[i]!.endsWith('\n')) out[i] += '\n';
  return { text: out.join(''), stats: { hunks, conflicts: conflicts.length }, conflicts };
}

/**
 * Two blocks inserted at one place: their common leading and trailing lines
 * once, the differing middles both, the smaller text first (a choice that
 * does not depend on which side is ours).
 */
function bothInsertions(a: string[], b: string[]): string[] {
  const nl = (l: string): string => (l.endsWith('\n') ? l : l + '\n');
  const x = a.map(nl);
  const y = b.map(nl);
  let p = 0;
  while (p < x.length && p < y.length && x[p] === y[p]) p++;
  let q = 0;
  while (q < x.length - p && q < y.length - p && x[x.length - 1 - q] === y[y.length - 1 - q]) q++;
  const mx = x.slice(p, x.length - q);
  const my = y.slice(p, y.length - q);
  const [first, second] = mx.join('') <= my.join('') ? [mx, my] : [my, mx];
  return [...x.slice(0, p), ...first, ...second, ...x.slice(x.length - q)];
}
