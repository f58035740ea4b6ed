/**
 * Issue #12: the commit guard's loss check on logs that are not valid UTF-8,
 * and a loss check that fails (throws) holds the file instead of passing it.
 */
import { describe, expect, it, vi } from 'vitest';
import { Policy } from '../../src/policy/policy.js';

const failing = { on: false };
vi.mock('../../src/merge/log.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/merge/log.js')>();
  return {
    ...real,
    lostEntries: (...a: Parameters<typeof real.lostEntries>) => {
      if (failing.on) throw new Error('boom');
      return real.lostEntries(...a);
    },
  };
});
const { checkFile } = await import('../../src/sync/guard.js');

const policy = Policy.fromText(null);
const day = 'memory/2026-11-25.md';
const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
const check = (before: Uint8Array, after: Uint8Array) => checkFile(policy, { path: day, before, after, size: after.length });

describe('guard: undecodable logs and failing checks', () => {
  const full = enc('# log\n- 09:00 café\n- 09:05 paid 12 €\n');

  it('a log cut inside a UTF-8 character is held, and what it commits instead is the committed log', () => {
    for (let k = 1; k <= 2; k++) {
      const h = check(full, full.subarray(0, full.length - 1 - k));
      expect(h?.reason).toBe('log-rewrite');
      expect(Buffer.from(h!.commitInstead!).equals(full)).toBe(true);
    }
  });

  it('new entries before the cut still go out, byte for byte', () => {
    const withNew = Buffer.concat([enc('# log\n- 08:00 tea ☕\n'), full.subarray(6, full.length - 2)]);
    const h = check(full, withNew);
    expect(h?.reason).toBe('log-rewrite');
    expect(Buffer.from(h!.commitInstead!).toString('utf8')).toBe('# log\n- 08:00 tea ☕\n- 09:00 café\n- 09:05 paid 12 €\n');
  });

  it('a log with a stray byte that lost nothing passes', () => {
    const after = Buffer.concat([full, Buffer.from([0xff, 0x0a])]);
    expect(check(full, after)).toBeNull();
  });

  it('a loss check that throws holds the file and commits nothing of it', () => {
    failing.on = true;
    try {
      const h = check(full, enc('# log\n- 09:00 café\n'));
      expect(h?.reason).toBe('log-rewrite');
      expect(h?.detail).toMatch(/could not check it for lost entries \(boom\)/);
      expect(Buffer.from(h!.commitInstead!).equals(full)).toBe(true);
    } finally {
      failing.on = false;
    }
  });
});
