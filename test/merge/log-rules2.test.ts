/**
 * Issue #12 (merge rules II), log part: edits deep inside a changed region
 * pair with their originals, one-line edits in different places of an entry
 * both apply.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { mergeLogText } from '../../src/merge/log.js';

const WORDS = ['water plants', 'pay rent', 'call Bob', 'read PR', 'fix sink'];
const task = (i: number, done: boolean, extra = ''): string => `- [${done ? 'x' : ' '}] task ${i} ${WORDS[i % WORDS.length]}${extra}\n`;
const list = (n: number, f: (i: number) => string): string => '# Tasks\n' + Array.from({ length: n }, (_, i) => f(i)).join('');
/** Lines of each task number, indexed once per text. */
const index = new Map<string, Map<number, string[]>>();
function linesOf(text: string, i: number): string[] {
  let m = index.get(text);
  if (!m) {
    m = new Map();
    for (const l of text.split('\n')) {
      const t = /\btask (\d+)\b/.exec(l);
      if (t) m.set(+t[1]!, [...(m.get(+t[1]!) ?? []), l]);
    }
    index.clear();
    index.set(text, m);
  }
  return m.get(i) ?? [];
}

describe('log: an edit deep inside a changed region', () => {
  test('one side ticks 1,100 tasks, the other edits task 1,050 and 1,400: every task once, both edits kept', () => {
    const N = 1500;
    const base = list(N, (i) => task(i, false));
    const ours = list(N, (i) => task(i, i < 1100));
    const theirs = list(N, (i) => (i === 1050 ? task(i, false, ' (tomorrow)') : i === 1400 ? task(i, false) + '  - ask Ann first\n' : task(i, false)));
    for (const [a, b] of [[ours, theirs], [theirs, ours]] as const) {
      const r = mergeLogText('memory/tasks.md', base, a, b);
      expect(r.conflicts).toEqual([]);
      for (let i = 0; i < N; i++) expect(linesOf(r.text, i), `task ${i}`).toHaveLength(1);
      expect(linesOf(r.text, 1050)).toEqual([`- [x] task 1050 ${WORDS[0]} (tomorrow)`]);
      expect(r.text).toContain(`- [ ] task 1400 ${WORDS[0]}\n  - ask Ann first\n`);
    }
  });

  test('an agent ticks 101 tasks while another instance edits task 101 (the issue)', () => {
    const base = list(300, (i) => task(i, false));
    const ours = list(300, (i) => task(i, i <= 100));
    const theirs = base.replace(task(101, false), task(101, false, ' before noon'));
    const r = mergeLogText('memory/tasks.md', base, ours, theirs);
    expect(linesOf(r.text, 101)).toEqual([`- [ ] task 101 ${WORDS[1]} before noon`]);
    expect(linesOf(r.text, 100)).toEqual([`- [x] task 100 ${WORDS[0]}`]);
  });

  test('property: regions of up to 1,200 entries, edits anywhere on both sides, nothing doubled or lost', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 50, max: 1200 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (n, ticksFrom, editsAt, appendN) => {
          const tickEnd = ticksFrom[0]! % n;
          const edits = new Set(editsAt.map((x) => x % n));
          const base = list(n, (i) => task(i, false));
          const ours = list(n, (i) => task(i, i <= tickEnd || ticksFrom.includes(i)));
          const theirs = list(n, (i) => task(i, false, edits.has(i) ? ' (edited)' : '')) + `- new entry ${appendN % 7}\n`;
          const r = mergeLogText('memory/tasks.md', base, ours, theirs);
          expect(mergeLogText('memory/tasks.md', base, theirs, ours).text).toBe(r.text);
          for (let i = 0; i < n; i++) {
            const l = linesOf(r.text, i);
            expect(l, `task ${i}`).toHaveLength(1);
            expect(l[0]!.startsWith(i <= tickEnd || ticksFrom.includes(i) ? '- [x]' : '- [ ]')).toBe(true);
            expect(l[0]!.endsWith(' (edited)')).toBe(edits.has(i));
          }
          expect(r.text).toContain(`- new entry ${appendN % 7}\n`);
        },
      ),
      { numRuns: 25 },
    );
  });
});
