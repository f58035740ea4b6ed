/**
 * `agentgit lease` through a real sshd hub: three instances never run two
 * at once; kill -9 of the holder hands over (lease-harness.ts).
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupTemp, Instance, tempDir } from '../helpers/agents.js';
import { hubsAvailable, startSshHub, type SshHub } from '../helpers/hubs.js';
import { checkLog, fleet, handover, killLeftovers, loops, TRIALS } from './lease-harness.js';

afterAll(() => cleanupTemp());
afterEach(() => killLeftovers());

const avail = hubsAvailable();
describe.skipIf(!avail.ssh)('lease: ssh hub', () => {
  it('three instances through sshd: never two at once; kill -9 of the holder hands over', async () => {
    const hub: SshHub = await startSshHub();
    try {
      const insts = await fleet(hub.url, hub.clientEnv);
      const log = join(tempDir(), 'ssh.log');
      await loops(insts, log, Math.max(2, Math.ceil(TRIALS / 2)));
      expect(checkLog(log).length).toBeGreaterThan(0);
      const [a, b] = insts as [Instance, Instance];
      expect((await handover(a, b, 'ssh-k9', (h) => h.kill('SIGKILL'))).code).toBe(137);
    } finally {
      await hub.stop();
    }
  }, 600_000);
});
