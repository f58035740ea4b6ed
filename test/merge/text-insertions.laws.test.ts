/**
 * Law of the text merge (src/merge/text.ts) for two insertions at the same
 * place with nothing deleted: both kept, each in its own order; lines both
 * inserted (in the same order) once; nothing lost, nothing invented (no
 * line, no final newline that neither side had); both orders give the
 * same bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeTextText } from '../../src/merge/text.js';

/** Is xs a subsequence of ys? */
function subsequence(xs: string[], ys: string[]): boolean {
  let j = 0;
  for (const x of xs) {
    while (j < ys.length && ys[j] !== x) j++;
    if (j === ys.length) return false;
    j++;
  }
  return true;
}
const lines = (s: string): string[] => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));

/** The merged text both ways round (asserting they are byte-identical). */
function merged(o: string, a: string, b: string): string {
  const r = mergeTextText('MEMORY.md', o, a, b).text;
  expect(mergeTextText('MEMORY.md', o, b, a).text).toBe(r);
  return r;
}

const baseArb = fc.array(fc.constantFrom('# People', '- Ann: sister', '', '# Places', '- Oslo'), { maxLength: 5 });
/**
 * Lines one side inserts: never equal to a line of the other side's own, a
 * shared or a base line (blank lines only on ours), so the lines both
 * sides inserted are exactly the shared ones.
 */
const own = (tag: string, blank: boolean) => fc.array(fc.constantFrom(`- ${tag}1`, `- ${tag}2`, `- ${tag}3`, blank ? '' : `- ${tag}4`, `## ${tag}`), { maxLength: 3 });

describe('text: two insertions at one place', () => {
  it('a line both inserted between different lines appears once, between what each side put around it', () => {
    const out = merged('# People\n', '# People\n- Zoe\n- Sam\n- Amy\n', '# People\n- Bob\n- Sam\n- Cy\n');
    expect(out).toBe('# People\n- Bob\n- Zoe\n- Sam\n- Amy\n- Cy\n');
  });

  it('insertions at the end of a file without a final newline get none', () => {
    expect(merged('a\n', 'a\nx', 'a\ny')).toBe('a\nx\ny');
    expect(merged('a\n', 'a\nx', 'a\ny\n')).toBe('a\nx\ny\n');
  });

  it('law: both kept in their own order, shared lines once, nothing invented, the same bytes both ways', () => {
    fc.assert(
      fc.property(
        baseArb,
        fc.nat(),
        own('Xa', true),
        own('Xb', true),
        own('Ya', false),
        own('Yb', false),
        fc.uniqueArray(fc.constantFrom('- Sam', '- Sue', '## Shared', '- Sid'), { maxLength: 3 }),
        fc.boolean(),
        fc.boolean(),
        (bl, at, x1, x2, y1, y2, shared, eolX, eolY) => {
          const k = at % (bl.length + 1);
          const atEnd = k === bl.length;
          const x = [...x1, ...shared, ...x2];
          const y = [...y1, ...shared, ...y2];
          // a last line that is blank has a newline (else it is no line)
          const xEol = eolX || x.at(-1) === '';
          const yEol = eolY || y.at(-1) === '';
          fc.pre(x.length > 0 && y.length > 0 && x.join('\n') !== y.join('\n'));
          const join = (ls: string[], eol: boolean): string => ls.map((l, i) => (i < ls.length - 1 || eol ? l + '\n' : l)).join('');
          // without a final newline only at the end of the file
          const side = (ins: string[], eol: boolean): string => join([...bl.slice(0, k), ...ins, ...bl.slice(k)], eol || !atEnd);
          const o = join(bl, true);
          const a = side(x, xEol);
          const b = side(y, yEol);
          const out = merged(o, a, b);
          const got = lines(out);
          // the base around the insertion untouched
          expect(got.slice(0, k)).toEqual(bl.slice(0, k));
          expect(got.slice(got.length - (bl.length - k))).toEqual(bl.slice(k));
          const mid = got.slice(k, got.length - (bl.length - k));
          // both kept, each in its own order (nothing lost)
          expect(subsequence(x, mid), `ours' lines in order in ${JSON.stringify(out)}`).toBe(true);
          expect(subsequence(y, mid), `theirs' lines in order in ${JSON.stringify(out)}`).toBe(true);
          // shared lines once; nothing invented: exactly the lines of both, shared ones counted once
          for (const s of shared) expect(mid.filter((l) => l === s), `${s} in ${JSON.stringify(out)}`).toHaveLength(1);
          expect(mid.length).toBe(x.length + y.length - shared.length);
          // a final newline only if a side had one
          if (atEnd && !xEol && !yEol) expect(out.endsWith('\n')).toBe(false);
          if (!atEnd || (xEol && yEol)) expect(out.endsWith('\n')).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
