import { describe, expect, it } from 'vitest';
import { dateMs, instantOf, textTimestamp } from '../../src/merge/decide.js';
import { mergeJsonText } from '../../src/merge/json.js';

describe('decide: one host-independent timestamp parser', () => {
  it('reads offsets, and no offset as UTC', () => {
    expect(textTimestamp('2026-11-25T10:00:00+02:00')).toBe(Date.UTC(2026, 10, 25, 8, 0, 0));
    expect(textTimestamp('2026-11-25 09:30')).toBe(Date.UTC(2026, 10, 25, 9, 30));
    expect(textTimestamp('- 14:05 did it', Date.UTC(2026, 10, 25))).toBe(Date.UTC(2026, 10, 25, 14, 5));
    expect(instantOf('2026-11-25T09:00:00.500Z')).toBe(Date.UTC(2026, 10, 25, 9, 0, 0, 500));
    expect(instantOf(1764061200)).toBe(1764061200000);
    expect(instantOf(1764061200000, 'atMs')).toBe(1764061200000);
    expect(instantOf('hello')).toBeNull();
    expect(dateMs(2026, 2, 30)).toBeNull();
  });

  it('compares instants, not strings', () => {
    expect(instantOf('2026-11-25T10:00:00+02:00')! < instantOf('2026-11-25T09:30:00Z')!).toBe(true);
    expect(instantOf('2026-11-25T09:00:00Z')! < instantOf('2026-11-25T09:00:00.500Z')!).toBe(true);
    expect(instantOf('2026-11-25T09:00:00.000001Z')! > instantOf('2026-11-25T09:00:00Z')!).toBe(true);
    expect(instantOf('x')).toBeNull();
  });

  it('volatile keys take the latest instant', () => {
    const base = '{"last_updated": "2026-11-25T08:00:00Z", "n": 1}\n';
    const o = '{"last_updated": "2026-11-25T10:00:00+02:00", "n": 1}\n';
    const t = '{"last_updated": "2026-11-25T09:30:00Z", "n": 1}\n';
    const opts = { idKeys: ['id'], volatile: ['last_updated'], counters: [], timestampKeys: ['updated_at'] };
    const a = mergeJsonText('s.json', base, o, t, opts);
    const b = mergeJsonText('s.json', base, t, o, opts);
    if (!('text' in a) || !('text' in b)) throw new Error('merge gave no text');
    expect(a.text).toBe(b.text);
    expect(JSON.parse(a.text).last_updated).toBe('2026-11-25T09:30:00Z');
  });

  it('gives the same answers in every time zone', () => {
    const saved = process.env.TZ;
    const read = () => JSON.stringify([textTimestamp('2026-11-25 09:30'), instantOf('2026-11-25T09:30:00'), instantOf('2026-11-25')]);
    try {
      const outs = ['UTC', 'Asia/Tokyo', 'America/Los_Angeles'].map((tz) => {
        process.env.TZ = tz; // Node applies a changed TZ to Date at once
        return [read(), new Date(2026, 0, 1).getTimezoneOffset()];
      });
      expect(new Set(outs.map((o) => o[1])).size).toBe(3); // the zones really changed
      expect(new Set(outs.map((o) => o[0])).size).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});
