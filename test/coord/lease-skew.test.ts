/**
 * `agentgit lease` with wall clocks 3 h apart (libfaketime): mutual
 * exclusion rests on each instance's monotonic clock, never on comparing
 * wall clocks (lease-harness.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, makeBareHub, tempDir } from '../helpers/agents.js';
import { checkLog, FAKETIME, fleet, killLeftovers, loops, TRIALS } from './lease-harness.js';

afterAll(() => cleanupTemp());
afterEach(() => killLeftovers());

describe.skipIf(!existsSync(FAKETIME))('lease: wall clocks 3 h apart (libfaketime)', () => {
  it('mutual exclusion holds with one instance 3 h behind and one 3 h ahead', async () => {
    const hub = makeBareHub();
    const insts = await fleet(hub);
    const skew: Record<string, string> = { b: '-3h', c: '+3h' };
    const log = join(tempDir(), 'skew.log');
    await loops(insts, log, Math.max(2, Math.ceil(TRIALS / 2)), (i): Record<string, string> => (skew[i.name] ? { LD_PRELOAD: FAKETIME, FAKETIME: skew[i.name]!, FAKETIME_NO_CACHE: '1' } : {}));
    const spans = checkLog(log);
    expect(new Set(spans.map((s) => s.inst)).size).toBeGreaterThan(1);
    // the skew was real: the lease records b and c wrote carry wall times about 6 h apart
    for (const i of insts.slice(1)) {
      const r = await agentgit(['lease', 'acquire', `skew-${i.name}`, '-C', i.dir, '--ttl', '1m'], { env: { ...i.env, LD_PRELOAD: FAKETIME, FAKETIME: skew[i.name]! } });
      expect(r.code, r.stderr).toBe(0);
    }
    const st = await insts[0]!.run(['lease', 'status', '-C', insts[0]!.dir, '--json']);
    const at = new Map((JSON.parse(st.stdout) as { leases: Array<{ name: string; writtenAt: string }> }).leases.map((l) => [l.name, Date.parse(l.writtenAt)]));
    expect(at.get('skew-c')! - at.get('skew-b')!).toBeGreaterThan(5 * 3_600_000);
  }, 600_000);
});
