/**
 * Review finding: the isomorphic-git engine takes git's lock files from
 * node, not from a `git` process, so "no git process works in the repo" no
 * longer proves a ref lock stale. On that engine, a lock is kept (until it
 * is 10 minutes old) while another agentgit process works on the repo
 * (started in it, or pointed at it with -C); with none, a killed round's
 * lock is removed at once, as on the git engine.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, Instance, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

describe('stale lock files on the isomorphic-git engine', () => {
  it('keeps a ref lock while another agentgit process works on the repo, removes it once none does', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { extraEnv: { AGENTGIT_ENGINE: 'isomorphic-git' }, files: { 'memory/2026-12-03.md': '# log\n' } });
    const head = a.git(['rev-parse', 'HEAD']).trim();
    const lock = a.path('.git/refs/heads/other.lock');
    writeFileSync(lock, `${head}\n`);
    // a long-running agentgit process pointed at this repo (as `agentgit lease run NAME -C DIR -- …` would be)
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'agentgit', 'lease', '-C', a.dir], { stdio: 'ignore' });
    try {
      a.append('memory/2026-12-03.md', '- 09:00 one\n');
      const s = await a.sync();
      expect(s.code, s.stderr).toBe(0);
      expect(existsSync(lock)).toBe(true);
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => other.once('close', r));
    }
    a.append('memory/2026-12-03.md', '- 09:01 two\n');
    const s = await a.sync();
    expect(s.code, s.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);
    expect(s.stdout + s.stderr).toMatch(/removed a stale \.git\/refs\/heads\/other\.lock/);
  }, 60_000);
});
