/**
 * Issue #14: a round's first fetch runs beside its local commit
 * (sync/round.ts startPrefetch). What must hold: the fetch really starts
 * before the commit is written (else nothing is gained), the merge sees what
 * it fetched, and a hub that cannot be reached still leaves the local work
 * committed, with the next round bringing everything together.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, Instance, makeBareHub, syncedPair } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';

/** The git calls of a traced round, with the ms after the process's start at which each began. */
function calls(stderr: string): { at: number; cmd: string }[] {
  return [...stderr.matchAll(/^\[trace \+(\d+)ms \d+ms\] git (\S+)/gm)].map((m) => ({ at: Number(m[1]), cmd: m[2]! }));
}

/** The git process a test holds a lock with: always stopped, also when the test fails or times out. */
let busy: ChildProcess | null = null;
function stopBusy(): void {
  if (busy?.pid) process.kill(-busy.pid, 'SIGKILL');
  busy = null;
}
afterEach(stopBusy);

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
    expect(fetch, `no traced fetch: ${r.stderr}`).toBeDefined();
    expect(commitIndex, `no traced update-index: ${r.stderr}`).toBeDefined();
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
    const held = a.path('.git/held-by-test');
    busy = spawn('git', ['-c', `alias.hold=!touch '${held}'; sleep 120`, 'hold'], { cwd: a.dir, stdio: 'ignore', detached: true });
    for (let i = 0; i < 600 && !existsSync(held); i++) await new Promise((r) => setTimeout(r, 50)); // git and its shell are running
    expect(existsSync(held), 'the holding git started').toBe(true);
    const r1 = await a.sync();
    expect(r1.code, r1.stderr).toBe(75);
    expect(r1.stderr).toMatch(/another git process is updating the remote-tracking refs in .*main\.lock': File exists\.?\); retry later/);
    expect(a.git(['rev-parse', 'HEAD']).trim(), 'the local commit was made').not.toBe(head);
    stopBusy();
    rmSync(held);
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
  it('a ref failure a retry cannot fix (a file/directory clash under the tracking ref) stays exit 1, with git\'s words', async () => {
    b.append(day, '\n- from b, before the clash\n');
    expect((await b.sync()).code).toBe(0);
    const track = a.git(['rev-parse', 'refs/remotes/origin/main']).trim();
    a.git(['update-ref', '-d', 'refs/remotes/origin/main']);
    a.git(['update-ref', 'refs/remotes/origin/main/x', track]); // refs/remotes/origin/main is now a directory
    try {
      const r = await a.sync();
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/cannot lock ref 'refs\/remotes\/origin\/main'/);
      expect(r.stderr).not.toMatch(/retry later/);
    } finally {
      a.git(['update-ref', '-d', 'refs/remotes/origin/main/x']);
      a.git(['update-ref', 'refs/remotes/origin/main', track]);
    }
    expect((await a.sync()).code).toBe(0);
  });
});
