/**
 * jsonToBytes writes a merged document straight to bytes (issue #2: no
 * whole-document string). It must give exactly the bytes of JSON.stringify
 * with the file's indentation, final newline and framing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonToBytes } from '../../src/merge/json-bytes.js';
import type { Json } from '../../src/merge/json.js';
import { applyFraming, type Framing } from '../../src/merge/util.js';

function expected(v: Json, indent: string, newline: boolean, f: Framing): Buffer {
  return Buffer.from(applyFraming(JSON.stringify(v, null, indent) + (newline ? '\n' : ''), f), 'utf8');
}

const framing = fc.record({ bom: fc.boolean(), eol: fc.constantFrom<'\n' | '\r\n'>('\n', '\r\n') });
const indent = fc.constantFrom('', ' ', '  ', '    ', '\t', '          ');

describe('jsonToBytes', () => {
  it('equals JSON.stringify with the indentation, newline and framing, on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), indent, fc.boolean(), framing, fc.nat(64), (v, ind, nl, f, hint) => {
        const got = Buffer.from(jsonToBytes(v as Json, ind, nl, f, hint));
        expect(got.equals(expected(v as Json, ind, nl, f))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('handles strings outside the BMP, lone surrogates and escapes', () => {
    const v: Json = { 'k\u2028"': ['😀', '\ud800', 'a\nb\t"\\', -0, 1e21, 5e-324], '': {}, '10': [], '2': null };
    for (const ind of ['', '  ']) {
      const f: Framing = { bom: true, eol: '\r\n' };
      expect(Buffer.from(jsonToBytes(v, ind, true, f, 1)).equals(expected(v, ind, true, f))).toBe(true);
    }
  });

  it('grows past a too-small size hint on a document of several MB', () => {
    const doc: Json = { items: Array.from({ length: 40_000 }, (_, i) => ({ id: i, title: `task ${i} ✓ 😀`, tags: ['a', 'b'], done: i % 2 === 0 })) };
    const f: Framing = { bom: false, eol: '\n' };
    const got = Buffer.from(jsonToBytes(doc, '  ', true, f, 100));
    const want = expected(doc, '  ', true, f);
    expect(want.length).toBeGreaterThan(3_000_000);
    expect(got.equals(want)).toBe(true);
  });
});
