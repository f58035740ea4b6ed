/**
 * `text`: curated docs (MEMORY.md, SOUL.md). A 3-way line merge with
 * node-diff3 over line arrays. Where both sides changed the same lines the
 * later write wins that hunk (file clocks; equal clocks: the greater text)
 * and the other version goes into the report. Two insertions at the same
 * place with nothing deleted (one side adds a person, the other another) are
 * not a race: both are kept, each in its own order, lines both inserted
 * once, the rest in content order (bothInsertions). Never conflict markers.
 *
 * Invariant: the output depends on {ours, theirs} as a set with their clocks,
 * never on which one is "ours".
 */
import { diff3Merge } from 'node-diff3';
import type { Conflict, SideClocks } from './types.js';
import { pickWinner, side, splitLines } from './util.js';
import { diffMatch } from './diff/patience.js';

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
    // a region is either settled (ok) or a conflict
    const c = r.conflict;
    if (c === undefined) {
      out.push(...(r.ok ?? []));
      continue;
    }
    hunks++;
    if (base !== null && c.o.length === 0) {
      // both sides inserted lines at the same place and deleted nothing: keep both
      out.push(...bothInsertions(c.a, c.b));
      continue;
    }
    const race = pickWinner(side(c.a.join(''), oursClock.file), side(c.b.join(''), theirsClock.file));
    out.push(...splitLines(race.winner.value));
    conflicts.push({
      path,
      key: `hunk@${pre + c.oIndex + 1}`,
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
 * Two blocks inserted at one place: the lines both inserted (their common
 * subsequence, found by the patience diff) once, and between two such
 * lines what each side inserted there, the smaller text first. The diff
 * runs from the smaller block to the larger, so the result does not depend
 * on which side is ours. Lines keep their own terminators (the caller puts
 * a newline between lines), so no final newline appears that neither side
 * had.
 */
function bothInsertions(a: string[], b: string[]): string[] {
  const bare = (l: string): string => (l.endsWith('\n') ? l.slice(0, -1) : l);
  const text = (ls: string[]): string => ls.map(bare).join('\n');
  const [x, y] = text(a) <= text(b) ? [a, b] : [b, a];
  const to = diffMatch(x.map(bare), y.map(bare));
  const out: string[] = [];
  let pi = 0;
  let pj = 0;
  const both = (i: number, j: number): void => {
    const [first, second] = text(x.slice(pi, i)) <= text(y.slice(pj, j)) ? [x.slice(pi, i), y.slice(pj, j)] : [y.slice(pj, j), x.slice(pi, i)];
    out.push(...first, ...second);
  };
  for (let i = 0; i < x.length; i++) {
    const j = to[i]!;
    if (j < 0) continue;
    both(i, j);
    out.push(x[i]!.endsWith('\n') ? x[i]! : y[j]!);
    pi = i + 1;
    pj = j + 1;
  }
  both(x.length, y.length);
  return out;
}
