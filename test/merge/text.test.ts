import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeFile } from '../../src/merge/index.js';
import type { MergeInput } from '../../src/merge/types.js';
import { MARKER_RE } from '../../src/merge/util.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const dec = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

function text(base: string | null, ours: string, theirs: string, oc?: string, tc?: string) {
  const input: MergeInput = { path: 'SOUL.md', kind: 'text', base: base === null ? null : enc(base), ours: enc(ours), theirs: enc(theirs), oursClock: { file: oc }, theirsClock: { file: tc } };
  const swapped: MergeInput = { ...input, ours: input.theirs, theirs: input.ours, oursClock: input.theirsClock, theirsClock: input.oursClock };
  const r = mergeFile(input);
  const s = mergeFile(swapped);
  expect(dec(s.bytes)).toBe(dec(r.bytes));
  return r;
}

describe('text: 3-way line merge of curated docs', () => {
  it('merges changes to different lines from both sides', () => {
    const r = text('a\nb\nc\nd\ne\n', 'A\nb\nc\nd\ne\n', 'a\nb\nc\nd\nE\n');
    expect(dec(r.bytes)).toBe('A\nb\nc\nd\nE\n');
    expect(r.report.conflicts).toEqual([]);
  });

  it('both sides changed the same line: the later write wins, the other is reported', () => {
    const r = text('# Soul\ncalm\n', '# Soul\ncurious\n', '# Soul\nbold\n', '0000000000002.0000.a', '0000000000001.0000.b');
    expect(dec(r.bytes)).toBe('# Soul\ncurious\n');
    expect(r.report.conflicts).toHaveLength(1);
    expect(r.report.conflicts[0]!.loser.value).toBe('bold\n');
    expect(r.report.conflicts[0]!.rule).toBe('clock');
    expect(MARKER_RE.test(dec(r.bytes))).toBe(false);
  });

  it('equal clocks: decided by the values, never by the side', () => {
    const r = text('x\n', 'y\n', 'z\n');
    expect(dec(r.bytes)).toBe('z\n');
    expect(r.report.conflicts[0]!.rule).toBe('value');
  });

  it('keeps CRLF line endings and a BOM', () => {
    const r = text('\uFEFFa\r\nb\r\nc\r\n', '\uFEFFA\r\nb\r\nc\r\n', '\uFEFFa\r\nb\r\nC\r\n');
    expect(dec(r.bytes)).toBe('\uFEFFA\r\nb\r\nC\r\n');
  });

  it('a base with conflict markers (a virtual ancestor) never leaks markers', () => {
    const base = 'a\n<<<<<<< Temporary merge branch 1\nb\n=======\nc\n>>>>>>> Temporary merge branch 2\n';
    const r = text(base, 'a\nb\n', 'a\nc\nd\n');
    expect(MARKER_RE.test(dec(r.bytes))).toBe(false);
  });

  it('binary or invalid UTF-8 content: whole-file last writer wins, reported', () => {
    const input: MergeInput = { path: 'avatar.png', kind: 'text', base: new Uint8Array([1, 0, 2]), ours: new Uint8Array([1, 0, 3]), theirs: new Uint8Array([0xff, 0xfe, 0]), oursClock: { file: '2' }, theirsClock: { file: '1' } };
    const r = mergeFile(input);
    expect([...r.bytes]).toEqual([1, 0, 3]);
    expect(r.report.method).toBe('whole-file');
    expect(r.report.conflicts).toHaveLength(1);
  });

  const line = fc.constantFrom('alpha', 'beta', 'gamma', 'delta', '', '# Heading', '- item', 'x y z');
  const doc = fc.array(line, { maxLength: 12 }).map((ls) => ls.map((l) => l + '\n').join(''));
  const clock = fc.option(fc.integer({ min: 0, max: 5 }).map((n) => `000000000000${n}.0000.i`), { nil: undefined });

  it('law: commutative (byte-identical whichever side is ours)', () => {
    fc.assert(
      fc.property(doc, doc, doc, clock, clock, (o, a, b, ca, cb) => {
        const r1 = mergeFile({ path: 'D.md', kind: 'text', base: enc(o), ours: enc(a), theirs: enc(b), oursClock: { file: ca }, theirsClock: { file: cb } });
        const r2 = mergeFile({ path: 'D.md', kind: 'text', base: enc(o), ours: enc(b), theirs: enc(a), oursClock: { file: cb }, theirsClock: { file: ca } });
        expect(dec(r1.bytes)).toBe(dec(r2.bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('law: idempotent and identity; never conflict markers', () => {
    fc.assert(
      fc.property(doc, doc, doc, (o, a, b) => {
        expect(dec(mergeFile({ path: 'D.md', kind: 'text', base: enc(o), ours: enc(a), theirs: enc(a) }).bytes)).toBe(a);
        expect(dec(mergeFile({ path: 'D.md', kind: 'text', base: enc(o), ours: enc(o), theirs: enc(b) }).bytes)).toBe(b);
        expect(MARKER_RE.test(dec(mergeFile({ path: 'D.md', kind: 'text', base: enc(o), ours: enc(a), theirs: enc(b) }).bytes))).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
