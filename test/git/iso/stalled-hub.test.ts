/**
 * A file hub whose filesystem stops answering (issue #16), on the
 * isomorphic-git engine, which reads a file hub in-process with synchronous
 * reads: a killable probe (iso/file-transport.ts probeFileHub) makes the round
 * end at its deadline with exit 75, as the git engine does by killing git.
 * Found by the reliability suite's hub-hung scenario. The stall is a FIFO
 * nobody writes in place of the hub's HEAD and branch ref.
 */
import { spawnSync } from 'node:child_process';
import { renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, Instance, makeBareHub } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());

describe('a stalled file hub on the isomorphic-git engine', () => {
  beforeAll(() => void (process.env.AGENTGIT_ENGINE = 'isomorphic-git'));
  afterAll(() => void delete process.env.AGENTGIT_ENGINE);

  it('sync --timeout ends with exit 75 naming the deadline, local work committed; once the hub answers, the next run pushes', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const files = ['HEAD', 'refs/heads/main'].map((f) => join(hub, f));
    for (const f of files) {
      renameSync(f, `${f}.real`);
      expect(spawnSync('mkfifo', [f]).status).toBe(0);
    }
    a.write('y.md', 'y\n');
    // the test's own kill (60 s) only fires if the round blocks: then the exit code is not 75
    const r = await agentgit(['sync', '-C', a.dir, '--timeout', '3'], { env: a.env, timeoutMs: 60_000 });
    for (const f of files) {
      unlinkSync(f);
      renameSync(`${f}.real`, f);
    }
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toMatch(/did not answer in time/);
    expect(r.stderr).toMatch(/local work is committed and kept/);
    expect(a.git(['status', '--porcelain'])).toBe('');
    const r2 = await a.sync();
    expect(r2.code, r2.stderr).toBe(0);
    expect(spawnSync('git', ['--git-dir', hub, 'show', 'main:y.md'], { encoding: 'utf8' }).stdout).toBe('y\n');
  });
});
