/**
 * A sync lock written on another host (a container recreated on a shared
 * volume gets a new hostname): held while young, taken over once older than
 * its bound by both readings of its age (src/lock.ts), by the round and by
 * the ssh-ahead check alike.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cleanupTemp, git, Instance, makeBareHub, syncedPair, tempDir } from '../helpers/agents.js';
import { FOREIGN_LOCK_MIN_MS, lockHeld, LockLostError, SyncLock } from '../../src/lock.js';
import { TemporaryError } from '../../src/errors.js';
import { syncLockBusy } from '../../src/sync/ssh-ahead.js';

afterAll(() => cleanupTemp());

const HOUR = 3_600_000;

/** A lock file in a fresh temp dir, taken by a SyncLock of this process. */
async function takenLock(name: string): Promise<{ dir: string; file: string; lock: SyncLock }> {
  const dir = tempDir();
  const file = join(dir, name);
  const lock = new SyncLock(file, { holdMs: 1000 });
  await lock.acquire(0);
  return { dir, file, lock };
}

/** A lock file as another host's agentgit writes it, its `since` `sinceAgo` ms ago and its mtime `mtimeAgo` ms ago. */
function writeForeignLock(file: string, o: { sinceAgo: number; mtimeAgo: number; holdMs?: number; pid?: number }): void {
  const now = Date.now();
  writeFileSync(file, JSON.stringify({ pid: o.pid ?? 4242, start: '77', host: 'gone-container-1f3a', since: now - o.sinceAgo, ...(o.holdMs ? { holdMs: o.holdMs } : {}) }) + '\n');
  const t = (now - o.mtimeAgo) / 1000;
  utimesSync(file, t, t);
}

describe('a sync lock from another host', () => {
  it('is held while young by either reading of its age (its since, its mtime), stale once both are past the bound', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'agentgit'));
    const file = join(dir, 'agentgit', 'sync.lock');
    const cases: [string, { sinceAgo: number; mtimeAgo: number; holdMs?: number }, boolean][] = [
      ['fresh', { sinceAgo: 0, mtimeAgo: 0 }, true],
      ['written by an older version, half an hour old', { sinceAgo: HOUR / 2, mtimeAgo: HOUR / 2 }, true],
      ['written by an older version, two hours old', { sinceAgo: 2 * HOUR, mtimeAgo: 2 * HOUR }, false],
      ['old by its since only (the holder clock behind)', { sinceAgo: 2 * HOUR, mtimeAgo: 0 }, true],
      ['old by its mtime only', { sinceAgo: 0, mtimeAgo: 2 * HOUR }, true],
      ['a default round (hold 240 s) 20 min old', { sinceAgo: FOREIGN_LOCK_MIN_MS + 5 * 60_000, mtimeAgo: FOREIGN_LOCK_MIN_MS + 5 * 60_000, holdMs: 240_000 }, false],
      ['a round with --timeout 3600 (hold 2 h) 5 h old', { sinceAgo: 5 * HOUR, mtimeAgo: 5 * HOUR, holdMs: 2 * HOUR }, true],
      ['a round with --timeout 3600 (hold 2 h) 7 h old', { sinceAgo: 7 * HOUR, mtimeAgo: 7 * HOUR, holdMs: 2 * HOUR }, false],
    ];
    for (const [what, c, held] of cases) {
      writeForeignLock(file, c);
      expect(lockHeld(file), what).toBe(held);
      expect(syncLockBusy(dir), what).toBe(held); // the ssh-ahead check agrees
    }
    // no since (not written by agentgit): its mtime alone decides
    for (const [ago, held] of [[0, true], [2 * HOUR, false]] as const) {
      writeFileSync(file, JSON.stringify({ pid: 4242, host: 'gone-container-1f3a' }) + '\n');
      utimesSync(file, (Date.now() - ago) / 1000, (Date.now() - ago) / 1000);
      expect(lockHeld(file), `no since, ${ago} ms old`).toBe(held);
    }
  });

  it('a busy one names the other host and when it will be taken over; an old one is taken over', async () => {
    const dir = tempDir();
    const file = join(dir, 'x.lock');
    writeForeignLock(file, { sinceAgo: 0, mtimeAgo: 0, pid: process.pid });
    const err = await new SyncLock(file).acquire(0).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^another agentgit sync \(pid \d+ on host gone-container-1f3a, since [0-9T:.-]+Z\) holds .*x\.lock; this run did nothing and will retry next time; if that host is gone, the lock is taken over from [0-9T:.-]+Z$/);
    writeForeignLock(file, { sinceAgo: 2 * HOUR, mtimeAgo: 2 * HOUR, pid: process.pid });
    const lock = new SyncLock(file, { holdMs: 1000 });
    await lock.acquire(0);
    expect(lockHeld(file)).toBe(false); // this process's own
    await lock.release();
    expect(existsSync(file)).toBe(false);
  });

  it('a holder whose lock was taken over meanwhile (paused past the bound) leaves the new holder\'s lock in place on release', async () => {
    const dir = tempDir();
    const file = join(dir, 'y.lock');
    const lock = new SyncLock(file, { holdMs: 1000 });
    await lock.acquire(0);
    // another host took it over while this holder was stopped
    writeForeignLock(file, { sinceAgo: 0, mtimeAgo: 0, pid: 99 });
    const theirs = readFileSync(file, 'utf8');
    await lock.release();
    expect(readFileSync(file, 'utf8')).toBe(theirs);
    expect(readdirSync(dir), 'nothing left beside it').toEqual(['y.lock']);
  });

  it('a holder asks before each write whether the lock is still its own: taken over, it stops (temporary) and lets go of nothing', async () => {
    const dir = tempDir();
    const file = join(dir, 'w.lock');
    const lock = new SyncLock(file, { holdMs: 1000 });
    await lock.assertHeld(); // not taken yet: nothing to check
    await lock.acquire(0);
    await lock.assertHeld();
    writeForeignLock(file, { sinceAgo: 0, mtimeAgo: 0, pid: 99 });
    const theirs = readFileSync(file, 'utf8');
    const e = await lock.assertHeld().then(() => null, (x: Error) => x);
    expect(e).toBeInstanceOf(LockLostError);
    expect(e).toBeInstanceOf(TemporaryError);
    expect(e?.message).toMatch(/w\.lock was taken over by gone-container-1f3a \(pid 99\) while this round was stopped/);
    await lock.release(); // no longer its own: the new holder's lock stays
    expect(readFileSync(file, 'utf8')).toBe(theirs);
    // gone: the same
    const other = new SyncLock(join(dir, 'v.lock'), { holdMs: 1000 });
    await other.acquire(0);
    rmSync(join(dir, 'v.lock'));
    await expect(other.assertHeld()).rejects.toThrow(/v\.lock was taken over while this round was stopped/);
  });

  it('a holder that reads its own lock as gone (moved aside a moment too long) stops, yet still lets go of it: the next round can take it', async () => {
    const { file, lock } = await takenLock('t.lock');
    const aside = `${file}.aside`;
    renameSync(file, aside);
    const check = lock.assertHeld().then(() => null, (x: Error) => x);
    await new Promise((r) => setTimeout(r, 120)); // back only after both reads
    renameSync(aside, file);
    expect(await check).toBeInstanceOf(LockLostError);
    await lock.release(); // still its own: removed
    expect(existsSync(file)).toBe(false);
    const next = new SyncLock(file, { holdMs: 1000 });
    await next.acquire(0);
    await next.release();
  });

  it('a lock of this very process that none of its SyncLocks holds (a release that could not read it) is taken over, not waited for', async () => {
    const { file, lock: first } = await takenLock('s.lock');
    const left = readFileSync(file, 'utf8');
    await first.release();
    writeFileSync(file, left); // as if that release had not found it
    const next = new SyncLock(file, { holdMs: 1000 });
    await next.acquire(0);
    expect(readFileSync(file, 'utf8')).not.toBe(left);
    // while one of this process's SyncLocks holds it, another is refused as before
    await expect(new SyncLock(file).acquire(0)).rejects.toThrow(/another agentgit sync/);
    await next.release();
  });

  it("a stale holder's release never moves the new holder's lock, so the new holder's own check never misses it", async () => {
    const { file, lock: stale } = await takenLock('u.lock');
    // taken over by another process on this host (as after a pause past the bound), then the stale holder comes back and releases
    rmSync(file);
    const fresh = new SyncLock(file, { holdMs: 1000 });
    await fresh.acquire(0);
    let misses = 0;
    const checking = (async () => {
      for (let i = 0; i < 200; i++) await fresh.assertHeld().catch(() => misses++);
    })();
    const before = statSync(file);
    await stale.release();
    await checking;
    expect(misses).toBe(0);
    // never moved, not even for a moment (a rename aside and back would change its ctime and leave no trace otherwise)
    expect(statSync(file).ctimeMs).toBe(before.ctimeMs);
    expect(statSync(file).ino).toBe(before.ino);
    await fresh.release();
    expect(existsSync(file)).toBe(false);
  });

  it('agentgit sync: a round whose lock is taken over while it merges writes nothing more (exit 75); the next round finishes the work', async () => {
    const hub = makeBareHub();
    const { a, b } = await syncedPair(hub, { 'memory/2026-12-03.md': '# log\n\n' });
    b.append('memory/2026-12-03.md', '- from b\n');
    expect((await b.sync()).code).toBe(0);
    a.append('memory/2026-12-03.md', '- from a\n');
    const headBefore = a.git(['rev-parse', 'HEAD']).trim();
    // stalled at the merge (the merge commit made, no ref or file moved yet); meanwhile another host takes the lock over
    const child = spawn(process.execPath, [BIN, 'sync', '-C', a.dir], { env: { ...a.env, AGENTGIT_FAILPOINT: 'merge:sleep=1500' } });
    let stderr = '';
    const exited = new Promise<number | null>((done) => child.on('close', done));
    await new Promise<void>((fired) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/failpoint merge/.test(stderr)) fired();
      });
      void exited.then(() => fired());
    });
    const lockFile = a.path('.git/agentgit/sync.lock');
    writeForeignLock(lockFile, { sinceAgo: 0, mtimeAgo: 0, pid: 77 });
    expect(await exited, stderr).toBe(75);
    expect(stderr).toMatch(/sync\.lock was taken over by gone-container-1f3a \(pid 77\)/);
    // nothing written past the merge: the branch is the local commit (b's entry not merged in), the file as the agent left it
    expect(a.read('memory/2026-12-03.md')).toBe('# log\n\n- from a\n');
    expect(a.git(['log', '-1', '--format=%s']).trim()).toMatch(/from a/);
    expect(a.git(['rev-parse', 'HEAD~1']).trim()).toBe(headBefore);
    expect(git(hub, ['log', '-1', '--format=%s', 'main'])).toMatch(/from b/);
    // the other holder done: the next round merges and pushes, each entry once
    rmSync(lockFile);
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    for (const i of [a, b]) expect(i.read('memory/2026-12-03.md').split('\n').filter((l) => l.startsWith('- ')).sort()).toEqual(['- from a', '- from b']);
  });

  it('the busy message: the take-over time on this host\'s clock, by the younger of the two ages; no "since" when the lock has none', async () => {
    const dir = tempDir();
    const file = join(dir, 'z.lock');
    // old by its since, young by its mtime (the holder's clock far behind): not taken over for about the bound from now
    writeForeignLock(file, { sinceAgo: 5 * HOUR, mtimeAgo: 0, holdMs: 240_000 });
    const before = Date.now();
    const e1 = await new SyncLock(file).acquire(0).then(() => null, (e: Error) => e);
    const at = Date.parse(/taken over from (\S+)$/.exec(e1?.message ?? '')?.[1] ?? '');
    expect(at - before).toBeGreaterThanOrEqual(FOREIGN_LOCK_MIN_MS - 5_000);
    writeFileSync(file, JSON.stringify({ pid: 5, start: '', host: 'old-ctr' }) + '\n');
    const e2 = await new SyncLock(file).acquire(0).then(() => null, (e: Error) => e);
    expect(e2?.message).toMatch(/^another agentgit sync \(pid 5 on host old-ctr\) holds .*z\.lock; .*taken over from \d{4}-/);
    expect(e2?.message).not.toMatch(/NaN|undefined/);
  });

  it('agentgit sync: a fresh one is busy (exit 75, naming the host); an old one (a killed container) is taken over and the round runs', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const lock = a.path('.git/agentgit/sync.lock');
    writeForeignLock(lock, { sinceAgo: 60_000, mtimeAgo: 60_000, holdMs: 240_000 });
    const busy = await a.sync();
    expect(busy.code, busy.stderr).toBe(75);
    expect(busy.stderr).toMatch(/pid 4242 on host gone-container-1f3a.*taken over from/);
    writeForeignLock(lock, { sinceAgo: 2 * HOUR, mtimeAgo: 2 * HOUR });
    a.write('x.md', 'x\ny\n');
    const r = await a.sync();
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);
    expect((await a.sync()).code).toBe(0);
  });
});
