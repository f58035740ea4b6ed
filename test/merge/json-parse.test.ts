/**
 * parseJsonBytes must agree with JSON.parse on every input (value, and
 * failure exactly when JSON.parse fails), and with a guide it must hand back
 * the guide's own subtrees wherever they are equal (issue #2: the unchanged
 * bulk of a side is never built twice).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { indentOfBytes, parseJsonBytes } from '../../src/merge/json-parse.js';
import { rewritesNumbers } from '../../src/merge/json/input.js';
import { DEFAULT_JSON_OPTIONS, mergeFile } from '../../src/merge/index.js';
import { detectIndent, LosslessNumber, mergeJsonText, type Json } from '../../src/merge/json.js';

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

function viaJsonParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text.replace(/^\uFEFF/, '')) };
  } catch {
    return { ok: false };
  }
}

/**
 * Deep equality that tells -0 from 0 and checks key order. A LosslessNumber
 * (a number whose text a double does not give back) counts as the double
 * JSON.parse makes of its text.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a instanceof LosslessNumber) a = Number(a.text);
  if (b instanceof LosslessNumber) b = Number(b.text);
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function agrees(text: string): void {
  const want = viaJsonParse(text);
  const got = parseJsonBytes(enc(text));
  expect(got.ok, `ok for ${JSON.stringify(text)}`).toBe(want.ok);
  if (got.ok && want.ok) expect(sameJson(got.value, want.value), `value for ${JSON.stringify(text)}`).toBe(true);
}

/** JSON texts with random whitespace between tokens. */
const spaced = fc
  .tuple(fc.jsonValue(), fc.constantFrom(undefined, 0, 1, 2, '\t'), fc.constantFrom('', ' ', '\r\n', '\n\t '))
  .map(([v, indent, around]) => around + JSON.stringify(v, null, indent) + around);

describe('parseJsonBytes', () => {
  it('gives what JSON.parse gives on generated documents', () => {
    fc.assert(fc.property(spaced, (text) => agrees(text)), { numRuns: 1000 });
  });

  it('fails exactly where JSON.parse fails on mutated documents', () => {
    const bytes = fc.constantFrom(...'{}[]",:\\ \n0123456789-+.eEtrufalsn\u0001\u00e9x/'.split(''));
    const mutated = fc.tuple(spaced, fc.nat(), bytes, fc.constantFrom('insert', 'replace', 'delete')).map(([t, at, c, how]) => {
      const i = t.length === 0 ? 0 : at % t.length;
      return how === 'insert' ? t.slice(0, i) + c + t.slice(i) : how === 'replace' ? t.slice(0, i) + c + t.slice(i + 1) : t.slice(0, i) + t.slice(i + 1);
    });
    fc.assert(fc.property(mutated, (text) => agrees(text)), { numRuns: 3000 });
  });

  it('agrees on the edge cases of numbers, strings and keys', () => {
    const cases = [
      '0', '-0', '-0.0', '01', '-', '1.', '.5', '1e', '1e+', '1E-2', '1e400', '-1e400', '123456789012345', '1234567890123456789',
      '9007199254740993', '0.1', '5e-324', '1.5.3', '[1-2]', '[1,]', '[,1]', '{"a":1,}', '{"a" 1}', '{a:1}', "'a'",
      '"\\u00e9\\ud83d\\ude00\\ud800"', '"\\x"', '"\\u12"', '"\\u12G4"', '"a\tb"', '"é😀"', '"\\/\\b\\f\\n\\r\\t\\"\\\\"',
      '{"__proto__":{"x":1},"a":[]}', '{"a":1,"a":2}', '{"b":1,"a":2,"1":3,"0":4}', 'true', 'truex', 'nul', ' null ', '',
      '\uFEFF{"a":1}', '[]', '{}', '[ ]', '{ }', '[[[]]]', '{"":""}', '"', '"abc', '[1 2]', '\u00a0[]',
    ];
    for (const c of cases) agrees(c);
  });

  it('returns the guide itself wherever the document equals it, and new values elsewhere', () => {
    const base = { a: { x: [1, 2, { y: 'z' }], w: 'keep' }, b: [{ id: 1, t: 'one' }, { id: 2, t: 'two' }], c: 5 };
    const side = { a: { x: [1, 2, { y: 'z' }], w: 'keep' }, b: [{ id: 1, t: 'one' }, { id: 2, t: 'TWO' }], c: 5, d: true };
    const r = parseJsonBytes(enc(JSON.stringify(side, null, 2)), base as Json);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const v = r.value as typeof side;
    expect(sameJson(v, side)).toBe(true);
    expect(v).not.toBe(base);
    expect(v.a).toBe(base.a);
    expect(v.b).not.toBe(base.b);
    expect(v.b[0]).toBe(base.b[0]);
    expect(v.b[1]).not.toBe(base.b[1]);
    // unchanged as a whole: the guide itself
    expect(parseJsonBytes(enc(JSON.stringify(base)), base as Json)).toEqual({ ok: true, value: base });
    expect((parseJsonBytes(enc(JSON.stringify(base)), base as Json) as { value: unknown }).value).toBe(base);
  });

  it('with any guide, gives the same value as without one, sharing only equal subtrees', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (g, v) => {
        const text = JSON.stringify(v);
        const r = parseJsonBytes(enc(text), g as Json);
        expect(r.ok).toBe(true);
        if (r.ok) expect(sameJson(r.value, JSON.parse(text))).toBe(true);
        // a document's own text gives back the document itself (as JSON.parse
        // reads it: a -0 in the generated value is written as 0)
        const doc = JSON.parse(JSON.stringify(g)) as Json;
        const again = parseJsonBytes(enc(JSON.stringify(doc)), doc);
        expect(again.ok && again.value === doc).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('-0 is not the guide\'s 0, and a document nested too deep for recursion merges as with JSON.parse', () => {
    const r = parseJsonBytes(enc('{"a":-0,"b":[-0]}'), { a: 0, b: [0] } as Json);
    const v = r.ok ? (r.value as { a: unknown; b: unknown[] }) : null;
    expect(v !== null && v.a instanceof LosslessNumber && v.a.text === '-0' && v.b[0] instanceof LosslessNumber).toBe(true);
    const deep = (n: number, inner: string): string => '['.repeat(n) + inner + ']'.repeat(n);
    const base = enc(deep(200_000, '1'));
    const ours = enc(deep(200_000, '2'));
    const theirs = enc(deep(200_000, '3'));
    const viaBytes = mergeFile({ path: 'deep.json', kind: 'json', base, ours, theirs });
    const viaText = mergeJsonText('deep.json', base.toString(), ours.toString(), theirs.toString(), DEFAULT_JSON_OPTIONS);
    expect(Buffer.from(viaBytes.bytes).toString()).toBe(viaText.text);
    expect(viaBytes.report.method).toBe(viaText.method);
  });

  it('a removed trailing member or element is a change, not the guide', () => {
    const g = { a: 1, b: 2, l: [1, 2, 3] } as Json;
    const r = parseJsonBytes(enc('{"a":1,"b":2,"l":[1,2]}'), g);
    expect(r.ok && sameJson(r.value, { a: 1, b: 2, l: [1, 2] })).toBe(true);
    const r2 = parseJsonBytes(enc('{"a":1}'), g);
    expect(r2.ok && sameJson(r2.value, { a: 1 })).toBe(true);
  });
});

describe('indentOfBytes and rewritesNumbers', () => {
  it('indentOfBytes finds what detectIndent finds in the text', () => {
    const doc = fc.tuple(fc.jsonValue(), fc.constantFrom(undefined, 1, 2, 4, 12, '\t', ' \t'), fc.constantFrom('', '\n', '\r\n', ' \n '));
    fc.assert(
      fc.property(doc, ([v, indent, end]) => {
        const text = JSON.stringify(v, null, indent) + end;
        expect(indentOfBytes(enc(text))).toBe(detectIndent(text));
      }),
      { numRuns: 1000 },
    );
    for (const t of ['{}', '[ ]', '[1]', '"x"', '{\n}', '{\n  "a": 1\n}', '[\n\t1\n]', '\uFEFF{"a":1}', '1234567890123456', '{"a":123456789012345}']) {
      expect(indentOfBytes(enc(t)), t).toBe(detectIndent(t.replace(/^\uFEFF/, '')));
    }
  });

  it('rewritesNumbers: exactly the numbers JSON.parse does not give back, never text inside strings', () => {
    for (const t of ['12345678901234567890', '1e400', '-0', '1.0', '1E2', '1e2', '[1, 2.5, 9007199254740993]', '{"a": 0.1000000000000000000001}']) expect(rewritesNumbers(t), t).toBe(true);
    for (const t of ['{"name": "Eve", "e": "1.0 12345678901234567890 -0"}', '[1, 2.5, -3, 100, 9007199254740992]', '{"k\\"": "1e400\\""}', '[]']) expect(rewritesNumbers(t), t).toBe(false);
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        // JSON.stringify writes every number as a double gives it back
        expect(rewritesNumbers(JSON.stringify(v))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
