/**
 * The stall probe of a file hub (iso/file-transport.ts probeFileHub): a child
 * process reads the hub's HEAD and refs in its git dir (a non-bare hub's
 * .git, not its work tree) and must finish by the deadline; one probe per
 * hub path and round, whatever deadline each call of the round carries.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeFileHub } from '../../../src/git/iso/file-transport.js';
import { cleanupTemp, makeBareHub, plainRepo, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());
const env = testEnv(tempDir());

/** Make `file` a FIFO nobody writes: reading it never answers (a stalled filesystem). */
function stall(file: string): void {
  rmSync(file);
  expect(spawnSync('mkfifo', [file]).status).toBe(0);
}

describe('probeFileHub', () => {
  it('a non-bare hub is probed in its .git: a stalled .git/HEAD is caught', async () => {
    const dir = join(tempDir(), 'hub');
    plainRepo(dir, env)('f', 'x\n');
    stall(join(dir, '.git', 'HEAD'));
    await expect(probeFileHub(dir, Date.now() + 400, env)).rejects.toThrow(/did not answer/);
    await expect(probeFileHub(`file://${dir}`, Date.now() + 400, env)).rejects.toThrow(/did not answer/);
  });

  it('one probe per hub and round, whatever the deadline of each call; a new round probes again', async () => {
    const hub = makeBareHub();
    const round = Date.now() + 60_000;
    await probeFileHub(hub, Date.now() + 30_000, env, round);
    stall(join(hub, 'HEAD'));
    // same round, another call's deadline: not probed again (the old cache, keyed on this deadline, probed and failed)
    await probeFileHub(hub, Date.now() + 400, env, round);
    // another round: probed, the stall is caught
    await expect(probeFileHub(hub, Date.now() + 400, env, round + 1)).rejects.toThrow(/did not answer/);
    // no round (a command outside a round): probed each time
    await expect(probeFileHub(hub, Date.now() + 400, env)).rejects.toThrow(/did not answer/);
  });
});
