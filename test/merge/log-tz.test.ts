/**
 * Issue #12: merges never depend on the host's time zone. The same log and
 * JSON merges under TZ=UTC and TZ=Asia/Tokyo (set in-process) give the same
 * bytes, on timestamps without an offset, with one, and times of day alone.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { mergeFile } from '../../src/merge/index.js';
import type { Kind } from '../../src/merge/types.js';

const saved = process.env.TZ;
afterAll(() => {
  if (saved === undefined) delete process.env.TZ;
  else process.env.TZ = saved;
});

/** Run f under each zone; every result must be the same. */
function sameInZones<T>(f: () => T): T {
  const out: T[] = [];
  for (const tz of ['UTC', 'Asia/Tokyo', 'America/Los_Angeles']) {
    process.env.TZ = tz;
    expect(new Date(2026, 0, 1).getTimezoneOffset() === 0).toBe(tz === 'UTC'); // the zone really changed
    out.push(f());
  }
  for (const x of out.slice(1)) expect(x).toEqual(out[0]);
  return out[0]!;
}

const enc = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const run = (path: string, kind: Kind, o: string, a: string, b: string): string =>
  Buffer.from(mergeFile({ path, kind, base: enc(o), ours: enc(a), theirs: enc(b) }).bytes).toString('utf8');

// timestamps in every shape the log merge reads, around midnight in Tokyo and in UTC
const stamp = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 47 })).map(([shape, half]) => {
  const h = Math.floor(half / 2);
  const m = half % 2 ? '30' : '00';
  const hh = String(h).padStart(2, '0');
  switch (shape) {
    case 0: return `2026-02-05T${hh}:${m}:00`; // no offset: UTC
    case 1: return `2026-02-05T${hh}:${m}:00+09:00`;
    case 2: return `[2026-02-05 ${hh}:${m}]`;
    case 3: return `${hh}:${m}`;
    case 4: return `(${h % 12 === 0 ? 12 : h % 12}:${m} ${h < 12 ? 'AM' : 'PM'})`;
    case 5: return `2026-02-04 ${hh}:${m}`;
    default: return `${Date.UTC(2026, 1, 5, h, +m)}`;
  }
});
const entries = (tag: string) => fc.array(stamp, { maxLength: 6 }).map((ss) => ss.map((s, i) => `- ${s} ${tag}${i}\n`).join(''));

describe('merges are the same bytes in every time zone', () => {
  test('log: markdown and JSONL entries with every timestamp shape', () => {
    fc.assert(
      fc.property(entries('o'), entries('a'), entries('b'), (o, a, b) => {
        sameInZones(() => run('memory/2026-02-05.md', 'log', o, o + a, o + b));
        const jl = (s: string) => s.split('\n').filter(Boolean).map((l) => JSON.stringify({ time: l.slice(2, l.lastIndexOf(' ')), msg: l.slice(l.lastIndexOf(' ') + 1) }) + '\n').join('');
        sameInZones(() => run('events.jsonl', 'log', jl(o), jl(o + a), jl(o + b)));
      }),
      { numRuns: 60 },
    );
  });

  test('json: updated_at races and volatile keys', () => {
    fc.assert(
      fc.property(stamp, stamp, (x, y) => {
        const doc = (s: string, v: string) => JSON.stringify({ tasks: [{ id: 1, status: v, updated_at: s }], last_updated: s }, null, 2) + '\n';
        const clean = (s: string) => s.replace(/^\[|\]$|^\(|\)$/g, '');
        sameInZones(() => run('tasks.json', 'json', doc('2026-02-05T00:00:00Z', 'todo'), doc(clean(x), 'done'), doc(clean(y), 'blocked')));
      }),
      { numRuns: 60 },
    );
  });
});

describe('bracketTimestamp: the fast reading of `[YYYY-MM-DD HH:MM]` lines', () => {
  test('gives what textTimestamp gives, or null', async () => {
    const { bracketTimestamp, textTimestamp } = await import('../../src/merge/decide.js');
    const digit = fc.constantFrom(...'0123456789');
    const line = fc.tuple(fc.constantFrom('[', ' ', '('), fc.array(digit, { minLength: 4, maxLength: 4 }), fc.constantFrom('-', '/'), fc.array(digit, { minLength: 2, maxLength: 2 }), fc.array(digit, { minLength: 2, maxLength: 2 }), fc.constantFrom(' ', 'T', '_'), fc.array(digit, { minLength: 2, maxLength: 2 }), fc.array(digit, { minLength: 2, maxLength: 2 }), fc.constantFrom(']', ':', ' ', ']x'))
      .map(([o, y, s, m, d, t, h, mi, c]) => `${o}${y.join('')}${s}${m.join('')}${s}${d.join('')}${t}${h.join('')}:${mi.join('')}${c} text`);
    fc.assert(
      fc.property(fc.oneof(line, fc.string()), (s) => {
        const fast = bracketTimestamp(s);
        if (fast !== null) expect(fast).toBe(textTimestamp(s));
      }),
      { numRuns: 2000 },
    );
    expect(bracketTimestamp('[2026-02-05 10:30] x')).toBe(Date.UTC(2026, 1, 5, 10, 30));
    expect(bracketTimestamp('[2026-02-30 10:30] x')).toBeNull();
  });
});
