/**
 * `agentgit lease` faults: kill -9 of the holder, a frozen holder
 * (SIGSTOP), a holder cut off from the hub. Each time the holder's command
 * must have ended before another instance's began (lease-harness.ts).
 */
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, Instance, makeBareHub, tempDir } from '../helpers/agents.js';
import { fleet, handover, killLeftovers } from './lease-harness.js';

afterAll(() => cleanupTemp());
afterEach(() => killLeftovers());

describe('lease: a holder killed or frozen', () => {
  let insts: Instance[];
  beforeAll(async () => {
    insts = await fleet(makeBareHub());
  }, 120_000);

  it('kill -9 of the holder: its command is stopped, another instance takes over after the ttl', async () => {
    const [a, b] = insts as [Instance, Instance];
    expect((await handover(a, b, 'k9', (h) => h.kill('SIGKILL'))).code).toBe(137);
  }, 120_000);

  it('a frozen holder (SIGSTOP) cannot renew: its command is stopped before another instance takes the lease', async () => {
    const [a, b] = insts as [Instance, Instance];
    const ra = await handover(a, b, 'frozen', (h) => h.kill('SIGSTOP'), (h) => h.kill('SIGCONT'));
    expect(ra.code).toBe(75);
    expect(ra.stderr).toMatch(/could not renew lease frozen in time|lost lease frozen/);
  }, 120_000);
});

describe('lease: a holder cut off from the hub', () => {
  it('stops its command before another instance takes the lease', async () => {
    const hub = makeBareHub();
    const link = join(tempDir(), 'hub-link.git');
    symlinkSync(hub, link);
    const [a, b] = await fleet(hub, {}, link) as [Instance, Instance, Instance];
    const ra = await handover(a, b, 'cut', () => rmSync(link)); // a's hub stops answering; b still reaches it
    expect(ra.code).toBe(75);
    expect(ra.stderr).toMatch(/could not renew lease cut in time \(last error: .*\): stopped the command before another instance could take the lease/);
  }, 180_000);
});
