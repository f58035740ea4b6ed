/**
 * Issue #12 (merge rules II), text part: two insertions at the same place
 * keep both, in an order independent of the sides; only overlapping edits race.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeFile } from '../../src/merge/index.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const dec = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
function both(base: string | null, a: string, b: string, ca?: string, cb?: string) {
  const r = mergeFile({ path: 'MEMORY.md', kind: 'text', base: base === null ? null : enc(base), ours: enc(a), theirs: enc(b), oursClock: { file: ca }, theirsClock: { file: cb } });
  const s = mergeFile({ path: 'MEMORY.md', kind: 'text', base: base === null ? null : enc(base), ours: enc(b), theirs: enc(a), oursClock: { file: cb }, theirsClock: { file: ca } });
  expect(dec(s.bytes)).toBe(dec(r.bytes));
  return r;
}

describe('text: insert/insert', () => {
  it('one side adds a person, the other another: both kept, no conflict record', () => {
    const base = '# People\n- Ann: sister\n\n# Places\n- Oslo\n';
    const ours = '# People\n- Ann: sister\n- Zoe: neighbour, has our spare key\n\n# Places\n- Oslo\n';
    const theirs = '# People\n- Ann: sister\n- Bob: colleague at the lab\n\n# Places\n- Oslo\n';
    const r = both(base, ours, theirs, '0000000000002.0000.a', '0000000000001.0000.b');
    expect(dec(r.bytes)).toBe('# People\n- Ann: sister\n- Bob: colleague at the lab\n- Zoe: neighbour, has our spare key\n\n# Places\n- Oslo\n');
    expect(r.report.conflicts).toEqual([]);
  });

  it('blocks that start alike share their common lines once', () => {
    const r = both('# A\n', '# A\n## People\n- Zoe\n', '# A\n## People\n- Bob\n');
    expect(dec(r.bytes)).toBe('# A\n## People\n- Bob\n- Zoe\n');
  });

  it('overlapping edits (both changed the same base line) still race, the loser recorded', () => {
    const r = both('# People\n- Ann: sister\n', '# People\n- Ann: older sister\n', '# People\n- Ann: sister, lives in Oslo\n', '0000000000002.0000.a', '0000000000001.0000.b');
    expect(dec(r.bytes)).toBe('# People\n- Ann: older sister\n');
    expect(r.report.conflicts).toHaveLength(1);
  });

  it('law: two insertions at one place keep every inserted line, whichever side is ours', () => {
    const line = fc.constantFrom('- Ann', '- Bob', '- Cy', 'note', '', '## More');
    const block = fc.array(line, { minLength: 1, maxLength: 4 }).map((ls) => ls.map((l) => l + '\n').join(''));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 6 }), fc.nat(), block, block, (bl, at, x, y) => {
        const lines = bl.map((l) => l + '\n');
        const k = at % (lines.length + 1);
        const base = lines.join('');
        const ins = (s: string): string => [...lines.slice(0, k), s, ...lines.slice(k)].join('');
        const out = dec(both(base, ins(x), ins(y)).bytes);
        const count = (t: string): Map<string, number> => t.split('\n').reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
        const have = count(out);
        // every line of each side is there at least as often as that side has it
        for (const side of [ins(x), ins(y)]) for (const [l, n] of count(side)) expect(have.get(l) ?? 0).toBeGreaterThanOrEqual(n);
      }),
      { numRuns: 300 },
    );
  });
});
