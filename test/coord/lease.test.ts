/** Lease decisions (src/coord/lease.ts): pure, no clock read, no git. */
import { describe, expect, it } from 'vitest';
import { decide, holderDeadlineNs, leaseMessage, mergeObservations, observe, parseLeaseRecord, timing, validName, type LeaseRecord, type LeaseView } from '../../src/coord/lease.js';

const ms = (n: number): bigint => BigInt(n) * 1_000_000n;
const rec = (over: Partial<LeaseRecord> = {}): LeaseRecord => ({ v: 1, name: 'job', agent: 'kevin', instance: 'b', generation: 7, ttlMs: 2000, state: 'held', at: 0, ...over });
const held = (over: Partial<LeaseRecord> = {}): LeaseView => ({ kind: 'verified', oid: 'o1', record: rec(over) });

describe('decide', () => {
  it('takes an absent lease by creation, one generation above any it knew', () => {
    expect(decide({ kind: 'absent' }, null, ms(5), 2000, 0)).toMatchObject({ take: true, expected: null, generation: 1 });
    expect(decide({ kind: 'absent' }, null, ms(5), 2000, 41)).toMatchObject({ take: true, expected: null, generation: 42 });
  });

  it('takes a released lease at once, expecting the release commit', () => {
    expect(decide(held({ state: 'released' }), null, ms(0), 2000, 0)).toMatchObject({ take: true, expected: 'o1', generation: 8 });
  });

  it('waits for a held lease until it has been seen unchanged for ttl + margin of the holder', () => {
    const t = timing(2000);
    const obs = observe(null, 'o1', ms(1000));
    const early = decide(held(), obs, ms(1000 + t.ttlMs + t.marginMs - 1), 60_000, 0);
    expect(early).toMatchObject({ take: false, holder: 'kevin/b', generation: 7, earliestMs: 1 });
    expect(decide(held(), obs, ms(1000 + t.ttlMs + t.marginMs), 60_000, 0)).toMatchObject({ take: true, expected: 'o1', generation: 8 });
  });

  it('restarts the wait whenever the ref changes (a renewal)', () => {
    const first = observe(null, 'o1', ms(0));
    const renewed = observe(first, 'o2', ms(1500));
    expect(renewed.sinceNs).toBe(ms(1500));
    expect(decide({ kind: 'verified', oid: 'o2', record: rec() }, renewed, ms(3000), 2000, 0).take).toBe(false);
    expect(observe(renewed, 'o2', ms(9000))).toBe(renewed);
  });

  it('treats its own instance like any holder: another process of it may be running the command', () => {
    expect(decide(held({ instance: 'a' }), observe(null, 'o1', ms(0)), ms(100), 2000, 0).take).toBe(false);
  });

  it('does not let an unverified commit hurry a take with a short ttl, and outbids its generation', () => {
    const forged: LeaseView = { kind: 'unverified', oid: 'f', reason: 'it is not signed', record: rec({ ttlMs: 1000, generation: 100 }) };
    const obs = observe(null, 'f', ms(0));
    const t = timing(5000);
    const d = decide(forged, obs, ms(1500), 5000, 3);
    expect(d).toMatchObject({ take: false, generation: null });
    if (!d.take) expect(d.holder).toMatch(/unverified holder \(it is not signed; it claims kevin\/b\)/);
    expect(decide(forged, obs, ms(t.ttlMs + t.marginMs), 5000, 3)).toMatchObject({ take: true, expected: 'f', generation: 101 });
  });

  it('an observation carried over from an earlier process keeps the earlier start only for the same value', () => {
    const a = { oid: 'x', sinceNs: ms(10) };
    const b = { oid: 'x', sinceNs: ms(50) };
    expect(mergeObservations(b, a)).toBe(a);
    expect(mergeObservations({ oid: 'y', sinceNs: ms(50) }, a)).toEqual({ oid: 'y', sinceNs: ms(50) });
    expect(mergeObservations(null, a)).toBe(a);
  });
});

describe('timing', () => {
  it('the holder stops 2 × margin before an observer may take, and tolerates 20% rate drift', () => {
    for (const ttl of [1000, 2000, 600_000, 7 * 86_400_000]) {
      const t = timing(ttl);
      // holder: stops by confirmedStart + ttl - margin on its clock; observer: takes at firstSeen + ttl + margin on its own
      const holderStop = Number(holderDeadlineNs(0n, t)) / 1e6;
      const observerTake = t.ttlMs + t.marginMs;
      // the holder's clock 20% slow, the observer's 20% fast (both scaled to real time), still no overlap
      expect(holderStop / 0.8).toBeLessThanOrEqual(observerTake / 1.2 + 1);
      expect(t.renewMs * 2).toBeLessThan(t.ttlMs - t.marginMs - t.graceMs);
      expect(t.graceMs).toBeLessThan(t.ttlMs - t.marginMs);
    }
  });
});

describe('records', () => {
  it('round-trips through the commit message and refuses what agentgit does not write', () => {
    const r = rec();
    const text = `tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor kevin/b <x> 0 +0000\ncommitter kevin/b <x> 0 +0000\n\n${leaseMessage(r)}`;
    expect(parseLeaseRecord(text)).toEqual(r);
    for (const bad of [{ generation: 0 }, { generation: 1.5 }, { ttlMs: 10 }, { state: 'maybe' }, { name: '../x' }, { v: 2 }]) {
      expect(parseLeaseRecord(`h\n\n${JSON.stringify({ ...r, ...bad })}\n`)).toBeNull();
    }
    expect(parseLeaseRecord('h\n\nnot json {\n')).toBeNull();
  });

  it('names are one safe ref component', () => {
    for (const ok of ['digest', 'nightly.summary', 'a-b_c', '9']) expect(validName(ok)).toBe(true);
    for (const bad of ['', '-x', 'a/b', 'a..b', 'x.lock', 'x.', 'a b', 'é', '.x', 'x'.repeat(101)]) expect(validName(bad)).toBe(false);
  });
});
