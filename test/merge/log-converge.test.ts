/**
 * Issue #12: convergence of any number of replicas in any merge order, with
 * writes not in time order (a clock that jumps back, entries back-dated).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { mergeLogText, parseEntries } from '../../src/merge/log.js';

const RUNS = Number(process.env.LOG_LAW_RUNS ?? 100);
const DAY = '2026-02-05';
const WORDS = ['call Bob', 'buy milk', 'fix sink', 'read PR', 'plan trip', 'email Ann'];
const pad = (n: number): string => String(n).padStart(2, '0');
const hhmm = (min: number): string => `${pad(Math.floor(min / 60) % 24)}:${pad(min % 60)}`;

type Fmt = 'md' | 'plain' | 'jsonl';
const PATHS: Record<Fmt, string> = { md: `memory/${DAY}.md`, plain: 'logs/history.log', jsonl: 'sessions/events.jsonl' };

interface Ev { kind: number; t: number; word: number }
const evArb = fc.record({ kind: fc.integer({ min: 0, max: 5 }), t: fc.integer({ min: 0, max: 30 }), word: fc.integer({ min: 0, max: 5 }) });

function render(fmt: Fmt, tag: string, ev: Ev): string {
  const w = WORDS[ev.word]!;
  const t = 9 * 60 + ev.t * 7;
  if (fmt === 'plain') return ev.kind < 4 ? `[${DAY} ${hhmm(t)}] ${w} ${tag}\n` : ev.kind === 4 ? `[${DAY} ${hhmm(t)}] ${w} ${tag}\n  detail of ${tag}\n` : `note ${w} ${tag}\n`;
  if (fmt === 'jsonl') return ev.kind < 4 ? `{"ts":"${DAY}T${hhmm(t)}:00Z","msg":"${w} ${tag}"}\n` : `{"msg":"${w} ${tag}","note":"no time"}\n`;
  if (ev.kind < 3) return `- ${hhmm(t)} ${w} ${tag}\n`;
  if (ev.kind === 3) return `\n## ${w} (${hhmm(t)})\n- [ ] ${w} ${tag}\n`;
  if (ev.kind === 4) return `- [ ] ${w} ${tag}\n  - nested ${tag}\n`;
  return `- note ${w} ${tag}\n`;
}

/** A base and 3..5 replicas that each append events at any times (not in time order). */
const replicasArb = fc
  .record({ fmt: fc.constantFrom<Fmt>('md', 'plain', 'jsonl'), base: fc.array(evArb, { maxLength: 4 }), reps: fc.array(fc.array(evArb, { maxLength: 4 }), { minLength: 3, maxLength: 5 }) })
  .map((r) => {
    const o = (r.fmt === 'md' ? `# ${DAY}\n` : '') + r.base.map((e, i) => render(r.fmt, `o${i}`, e)).join('');
    const reps = r.reps.map((evs, k) => o + evs.map((e, i) => render(r.fmt, `${'ABCDE'[k]}${i}`, e)).join(''));
    return { path: PATHS[r.fmt], o, reps };
  });

/** Every way to merge the replicas pairwise (all merges with base o), as a fold in the given order or a pairwise tree. */
function mergeAll(path: string, o: string, xs: string[], order: number[], tree: boolean): string {
  const m = (a: string, b: string): string => mergeLogText(path, o, a, b).text;
  let items = order.map((i) => xs[i]!);
  if (!tree) return items.reduce((acc, x) => m(acc, x));
  while (items.length > 1) {
    const next: string[] = [];
    for (let i = 0; i < items.length; i += 2) next.push(i + 1 < items.length ? m(items[i]!, items[i + 1]!) : items[i]!);
    items = next;
  }
  return items[0]!;
}

function permutations(xs: number[]): number[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

function shuffle(xs: number[], seed: number): number[] {
  const order = xs.slice();
  for (let i = order.length - 1; i > 0; i--) {
    const j = (seed + i * 7919) % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

describe('log: convergence of 3 to 5 replicas in any merge order', () => {
  test('writes at any times: every merge order gives the same bytes, every entry once', () => {
    fc.assert(
      fc.property(replicasArb, fc.array(fc.nat(), { minLength: 12, maxLength: 12 }), ({ path, o, reps }, seeds) => {
        const ident = reps.map((_, i) => i);
        const ref = mergeAll(path, o, reps, ident, false);
        // every order for up to 4 replicas, as a fold and as a pairwise tree; 5: a sample
        const orders = reps.length <= 4 ? permutations(ident) : seeds.map((seed) => shuffle(ident, seed));
        for (const order of orders) {
          for (const tree of [false, true]) expect(mergeAll(path, o, reps, order, tree), `order ${order.join(',')}${tree ? ' (tree)' : ''}`).toBe(ref);
        }
        const keys = new Set(parseEntries(path, ref).map((e) => e.key));
        for (const r of reps) for (const e of parseEntries(path, r)) expect(keys.has(e.key), e.key).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
