/**
 * runGit's `signal` (git/exec.ts): a git process the caller no longer needs
 * (a round's prefetch when its commit failed) is stopped, with the process
 * group under it, and the call fails as stopped; a signal that never fires
 * changes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runGit } from '../../src/git/exec.js';

const dir = mkdtempSync(join(tmpdir(), 'agentgit-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('runGit with a signal', () => {
  it('stops a git that would wait forever, and says so', async () => {
    const stop = new AbortController();
    // a git whose child (a shell alias) sleeps far longer than the test: only the stop ends it
    const p = runGit(['-c', 'alias.wait=!sleep 600', 'wait'], { cwd: dir, signal: stop.signal });
    await new Promise((r) => setTimeout(r, 200));
    stop.abort();
    await expect(p).rejects.toThrow(/git wait was stopped: the round no longer needed it/);
  });

  it('a signal already fired: git is stopped at once', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(runGit(['-c', 'alias.wait=!sleep 600', 'wait'], { cwd: dir, signal: stop.signal })).rejects.toThrow(/was stopped/);
  });

  it('a signal that does not fire: the result as without one', async () => {
    const stop = new AbortController();
    const r = await runGit(['hash-object', '--stdin'], { cwd: dir, input: 'x\n', signal: stop.signal });
    expect(r.stdout.toString().trim()).toBe('587be6b4c3f93f93c489c0111bba5596147a26cb');
    stop.abort(); // after the end: nothing to stop, nothing thrown
    expect(alive(process.pid)).toBe(true);
  });
});
