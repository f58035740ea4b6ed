/**
 * Issue #14: a round's first fetch runs beside its local commit
 * (sync/round.ts startPrefetch). What must hold: the fetch really starts
 * before the commit is written (else nothing is gained), the merge sees what
 * it fetched, and a hub that cannot be reached still leaves the local work
 * committed, with the next round bringing everything together.
 */
import { spawn } from 'node:child_process';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, Instance, makeBareHub, syncedPair } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';

/** The git calls of a traced round, with the ms after the process's start at which each began. */
function calls(stderr: string): { at: number; cmd: string }[] {
  return [...stderr.matchAll(/^\[trace \+(\d+)ms \d+ms\] git (\S+)/gm)].map((m) => ({ at: Number(m[1]), cmd: m[2]! }));
}

describe("a round's first fetch beside its local commit", () => {
  const hub = makeBareHub();
  const pair = syncedPair(hub, { [day]: '# log\n' });
  let a: Instance;
  let b: Instance;
  beforeAll(async () => void ({ a, b } = await pair), 120_000);

  it('starts before the local commit is written, and the merge uses what it brought', async () => {
    b.append(day, '\n- from b\n');
    expect((await b.sync()).code).toBe(0);
    a.append(day, '\n- from a\n');
    const r = await agentgit(['sync', '-C', a.dir], { env: { ...a.env, AGENTGIT_TRACE: '1' } });
    expect(r.code, r.stderr).toBe(0);
    const c = calls(r.stderr);
    const fetch = c.find((x) => x.cmd === 'fetch');
    const commitIndex = c.find((x) => x.cmd === 'update-index');
    expect(fetch && commitIndex, r.stderr).toBeTruthy();
    expect(fetch!.at, `the fetch started after the commit's index (${r.stderr})`).toBeLessThanOrEqual(commitIndex!.at);
    expect(c.filter((x) => x.cmd === 'fetch'), 'one fetch').toHaveLength(1);
    expect(a.read(day)).toContain('- from b');
    expect(a.read(day)).toContain('- from a');
    expect((await b.sync()).code).toBe(0);
    expect(b.read(day)).toBe(a.read(day));
  });

  it('another git holding the tracking ref (a fetch left running by a kill -9 of agentgit alone): exit 75, not 1, the work committed; once it is gone the next round goes on', async () => {
    b.append(day, '\n- from b, while a git ran in a\n');
    expect((await b.sync()).code).toBe(0);
    const head = a.git(['rev-parse', 'HEAD']).trim();
    a.append(day, '\n- from a, while a git ran in a\n');
    // a git at work in a's repo (so the round's recovery keeps its lock), holding the tracking ref's lock
    const lock = a.path('.git/refs/remotes/origin/main.lock');
    writeFileSync(lock, '');
    const busy = spawn('git', ['-c', 'alias.hold=!sleep 600', 'hold'], { cwd: a.dir, stdio: 'ignore', detached: true });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await a.sync();
      expect(r.code, r.stderr).toBe(75);
      expect(r.stderr).toMatch(/another git process is updating the remote-tracking refs in .*main\.lock/);
      expect(a.git(['rev-parse', 'HEAD']).trim(), 'the local commit was made').not.toBe(head);
    } finally {
      process.kill(-busy.pid!, 'SIGKILL');
    }
    await new Promise((r) => setTimeout(r, 200));
    const r = await a.sync(); // its lock is stale now: removed at the round's start
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);
    expect(a.read(day)).toContain('- from b, while a git ran in a');
  });

  it('a fetch that fails: the local work is committed all the same, and the next round sends it', async () => {
    const head = a.git(['rev-parse', 'HEAD']).trim();
    a.append(day, '\n- while the hub was gone\n');
    renameSync(hub, `${hub}.gone`);
    let r;
    try {
      r = await a.sync();
    } finally {
      renameSync(`${hub}.gone`, hub);
    }
    // a hub gone from its path is a lasting failure (exit 1, see sync.test.ts), told after the commit
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/not a git repository/);
    expect(a.git(['rev-parse', 'HEAD']).trim(), 'the local commit was made').not.toBe(head);
    expect(a.git(['status', '--porcelain'])).toBe('');
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    expect(b.read(day)).toContain('- while the hub was gone');
  });
});
