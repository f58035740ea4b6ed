/**
 * Hostile content must not wedge an instance (issue #11, item 8): a path
 * 1,500 directories deep and a 200 MB blob, signed by an admitted key, make
 * a round exit 1 with the reason (never hang), and the round after the hub
 * is fixed succeeds. The limits come from the policy (maxTreeDepth,
 * maxFileBytes); every git child is stopped at the round's deadline.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runGit, setChildDeadline } from '../../src/git/exec.js';
import { ObjectReader } from '../../src/git/objects.js';
import { treeRejections } from '../../src/git/paths.js';
import { Repo } from '../../src/git/repo.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';
import { deepPath, hostileCommit, keyOf, publish, scratch, scratchRepo, world } from './hostile.js';

afterAll(() => cleanupTemp());
afterEach(() => setChildDeadline(null));

describe('limits: hostile content fails a round, never wedges it', () => {
  it('a path 1,500 directories deep and a 200 MB blob: exit 1 naming the path, nothing merged or pushed; the fixed hub syncs', async () => {
    const { hub, a, b, good } = await world();
    const s = scratch(hub);
    // a 200 MB blob (zeros: small on the wire, 200 MB to read)
    const big = join(tempDir(), 'big');
    spawnSync('truncate', ['-s', String(200 * 1024 * 1024), big]);
    const bigOid = git(s.gitDir, ['hash-object', '-w', big], s.env).trim();
    const cases = [
      { name: '1,500 deep', entries: [{ path: deepPath(1500), mode: '100644', content: 'deep\n' }], why: /more than 64 directories deep/ },
      { name: '200 MB', entries: [{ path: ['notes', 'huge.bin'], mode: '100644', oid: bigOid }], why: /notes\/huge\.bin.*209715200 bytes, more than the policy's maxFileBytes/ },
    ];
    for (const c of cases) {
      const bad = hostileCommit(s, { entries: c.entries, signingKey: keyOf(a) });
      publish(s, hub, bad);
      b.append('memory/2026-12-01.md', `- ${c.name}\n`);
      const r = await b.sync(['--timeout', '60']);
      expect(r.code, `${c.name}: ${r.stderr}`).toBe(1); // exited by itself (a hang is killed by the helper: code -1)
      expect(r.stderr).toMatch(c.why);
      expect(r.stderr).toContain(bad.slice(0, 10));
      expect(r.stderr).toContain('kevin/a');
      expect(git(hub, ['rev-parse', 'main']).trim()).toBe(bad); // nothing pushed onward
      expect(git(b.dir, ['log', '--format=%H', 'HEAD'], b.env)).not.toContain(bad);
      // the same again: still exit 1, still no hang (cron keeps starting rounds)
      expect((await b.sync(['--timeout', '60'])).code).toBe(1);
      publish(s, hub, good);
      const ok = await b.sync();
      expect(ok.code, `${c.name} after the fix: ${ok.stderr}`).toBe(0);
      git(s.gitDir, ['fetch', '-q', hub, '+main:main'], s.env);
    }
  }, 600_000);

  it('maxTreeDepth and maxFileBytes are the limits: a tree one level deeper or one byte larger is refused, at the limit it passes', async () => {
    const { dir, base, s } = scratchRepo();
    const deep = hostileCommit(s, { entries: [{ path: deepPath(5), mode: '100644', content: '12345' }], signingKey: '', parent: base });
    const repo = (await Repo.openAt(dir))!;
    try {
      const check = (maxDepth: number, maxBlobBytes: number) => treeRejections(repo, { tip: deep, exclude: [base], limits: { maxDepth, maxBlobBytes } });
      expect(await check(5, 5)).toEqual([]);
      expect((await check(4, 5))[0]?.reason).toMatch(/more than 4 directories deep/);
      expect((await check(5, 4))[0]?.reason).toMatch(/5 bytes, more than the policy's maxFileBytes \(4\)/);
    } finally {
      repo.close();
    }
  }, 60_000);

  it('at the round deadline every git child is stopped: a hung git call fails with the reason, a pending cat-file read is killed', async () => {
    const dir = tempDir();
    git(dir, ['init', '-q'], testEnv(dir));
    setChildDeadline(300);
    const hung = runGit(['-c', 'alias.hang=!sleep 600', 'hang'], { cwd: dir });
    await expect(hung).rejects.toMatchObject({ timedOut: true });
    setChildDeadline(null);
    // a cat-file session with a read in flight, closed by a round that failed: killed, not left streaming
    const reader = new ObjectReader(dir);
    const pending = reader.read('HEAD'); // unborn: git answers "missing"
    expect(await pending).toBeNull();
    setChildDeadline(200);
    const r2 = new ObjectReader(dir);
    const p2 = r2.read('HEAD');
    await p2;
    await new Promise((r) => setTimeout(r, 400)); // the deadline passes: the session is killed
    await expect(r2.read('HEAD')).rejects.toThrow(/ended early/);
    reader.close();
    r2.close();
  }, 60_000);
});
