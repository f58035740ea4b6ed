/**
 * The isomorphic-git engine's `.git/index`: written through index.lock and
 * renamed (never truncated in place), and an unreadable index (what a
 * kill -9 inside an in-place rewrite leaves) rebuilt from HEAD so status
 * works and reports the work tree as git does.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readyIndex } from '../../../src/git/iso/index-file.js';
import { IsoGitEngine, type IsoGit } from '../../../src/git/iso/iso-git.js';
import { cleanupTemp, git, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());
const env = testEnv(tempDir());
const engine = new IsoGitEngine(env);
const ident = ['-c', 'user.name=t', '-c', 'user.email=t@x'];

async function repo(files: Record<string, string>): Promise<{ dir: string; iso: IsoGit }> {
  const dir = join(tempDir(), 'w');
  git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
  for (const [f, t] of Object.entries(files)) writeFileSync(join(dir, f), t);
  git(dir, ['add', '-A'], env);
  git(dir, [...ident, 'commit', '-q', '-m', 'base'], env);
  const gitDir = join(dir, '.git');
  return { dir, iso: engine.open(dir, gitDir, await engine.detect(gitDir, dir)) as IsoGit };
}

function gitStatus(dir: string): string {
  return git(dir, ['status', '--porcelain=v1', '-uall'], env);
}

describe('the index with the isomorphic-git engine', () => {
  it('an empty (truncated) index is rebuilt from HEAD: status works and matches git', async () => {
    const { dir, iso } = await repo({ a: 'a\n', b: 'b\n' });
    writeFileSync(join(dir, 'a'), 'changed\n');
    truncateSync(join(dir, '.git', 'index'), 0); // what an in-place rewrite killed after O_TRUNC leaves
    const st = await iso.status();
    expect(st).toEqual([{ path: 'a', xy: ' M' }]);
    expect(gitStatus(dir)).toBe(' M a\n'); // git reads the rebuilt index too
  });

  it('an index with a bad checksum is rebuilt too; staging then works', async () => {
    const { dir, iso } = await repo({ a: 'a\n' });
    const idx = join(dir, '.git', 'index');
    const bytes = readFileSync(idx);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(idx, bytes);
    writeFileSync(join(dir, 'n'), 'new\n');
    await iso.addToIndex(['n']);
    expect(gitStatus(dir)).toBe('A  n\n');
  });

  it('index writes take index.lock: a lock held by another git fails the write and leaves the index as it was', async () => {
    const { dir, iso } = await repo({ a: 'a\n' });
    const idx = join(dir, '.git', 'index');
    const before = readFileSync(idx);
    writeFileSync(`${idx}.lock`, '');
    writeFileSync(join(dir, 'n'), 'new\n');
    await expect(iso.addToIndex(['n'])).rejects.toThrow(/index\.lock': File exists/);
    expect(readFileSync(idx).equals(before)).toBe(true);
    expect(existsSync(`${idx}.lock`)).toBe(true); // not ours to remove
  });

  it('a racily clean entry (mtime not older than the index) is re-hashed: a same-size rewrite in the same tick is seen', async () => {
    const { dir, iso } = await repo({ f: 'aaaa\n' });
    expect(await iso.status()).toEqual([]);
    // the rewrite lands in the tick the status recorded: same size, same mtime, and the
    // index's stat data for f is exactly what lstat now says (as if the status ran after it)
    const file = join(dir, 'f');
    writeFileSync(file, 'bbbb\n');
    utimesSync(file, 1700000000, 1700000000);
    const st = lstatSync(file);
    const idx = join(dir, '.git', 'index');
    const buf = readFileSync(idx);
    const o = 12; // the only entry, right after the header (searching for its name could match bytes of its stat data)
    expect(buf.toString('latin1', o + 62, o + 64)).toBe('f\0');
    // the stat data as isomorphic-git records it (seconds and nanoseconds from the ms float)
    const time = (ms: number, at: number): void => {
      const sec = Math.floor(ms / 1000);
      buf.writeUInt32BE(sec >>> 0, at);
      buf.writeUInt32BE(Math.floor((ms - sec * 1000) * 1000000) >>> 0, at + 4);
    };
    time(st.ctimeMs, o);
    time(st.mtimeMs, o + 8);
    [st.dev, st.ino].forEach((v, i) => buf.writeUInt32BE(v % 0x100000000, o + 16 + 4 * i));
    [st.uid, st.gid, st.size].forEach((v, i) => buf.writeUInt32BE(v % 0x100000000, o + 28 + 4 * i));
    createHash('sha1').update(buf.subarray(0, -20)).digest().copy(buf, buf.length - 20);
    writeFileSync(idx, buf);
    utimesSync(idx, 1700000000, 1700000000); // the index written in that same tick
    expect(await iso.status()).toEqual([{ path: 'f', xy: ' M' }]);
    expect(await iso.status()).toEqual([{ path: 'f', xy: ' M' }]);
  });

  it('an index readyIndex must rewrite is read again and rebuilt under index.lock (another git cannot write in between)', async () => {
    const { dir } = await repo({ a: 'a\n', b: 'b\n' });
    const idx = join(dir, '.git', 'index');
    truncateSync(idx, 0);
    let lockedDuringRebuild: boolean | null = null;
    await readyIndex(join(dir, '.git'), async () => {
      lockedDuringRebuild = existsSync(`${idx}.lock`);
      return [];
    });
    expect(lockedDuringRebuild).toBe(true);
    expect(existsSync(`${idx}.lock`)).toBe(false);
    // a readable index with nothing racy is left alone, without the lock
    writeFileSync(`${idx}.lock`, '');
    const before = readFileSync(idx);
    await readyIndex(join(dir, '.git'), async () => {
      throw new Error('not rebuilt');
    });
    expect(readFileSync(idx)).toEqual(before);
  });

  it('updateIndex edits the index in one locked write, entry for entry what git update-index --index-info makes', async () => {
    const twin = async (): Promise<{ dir: string; iso: IsoGit }> => {
      const t = await repo({ a: 'a\n', f: 'f\n', 'é': 'e\n' });
      mkdirSync(join(t.dir, 'd'));
      writeFileSync(join(t.dir, 'd', 'x'), 'x\n');
      writeFileSync(join(t.dir, 'd', 'y'), 'y\n');
      git(t.dir, ['add', 'd'], env);
      git(t.dir, [...ident, 'commit', '-q', '-m', 'd'], env);
      return t;
    };
    const [ours, theirs] = [await twin(), await twin()];
    const b1 = spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: ours.dir, env, input: 'one\n' }).stdout.toString().trim();
    spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: theirs.dir, env, input: 'one\n' });
    const Z = '0'.repeat(40);
    const changes = [
      { path: 'a', mode: '100755', oid: b1 }, // a mode change
      { path: 'n/e/w', mode: '100644', oid: b1 }, // a new file in new directories
      { path: 'd', mode: '100644', oid: b1 }, // a file where a directory was: d/x and d/y go
      { path: 'f/g', mode: '100644', oid: b1 }, // a file beneath a file: f goes
      { path: 'é', mode: '0', oid: Z }, // a removal
      { path: 'gone', mode: '0', oid: Z }, // a removal of nothing
      { path: 'l', mode: '120000', oid: b1 },
      { path: 'l', mode: '100644', oid: b1 }, // a later change wins
    ];
    await ours.iso.updateIndex(changes);
    const info = changes.map((c) => `${c.mode} ${c.oid}\t${c.path}\0`).join('');
    expect(spawnSync('git', ['update-index', '-z', '--index-info'], { cwd: theirs.dir, env, input: info }).status).toBe(0);
    expect(git(ours.dir, ['ls-files', '-s'], env)).toBe(git(theirs.dir, ['ls-files', '-s'], env));
    expect(git(ours.dir, ['ls-files', '-s'], env)).toMatch(/^100755 [0-9a-f]{40} 0\ta\n100644 [0-9a-f]{40} 0\td\n/);
    expect(existsSync(join(ours.dir, '.git', 'index.lock'))).toBe(false);
    // the index git reads is whole: its checksum holds, and a tree written from it is git's
    expect(git(ours.dir, ['write-tree'], env)).toBe(git(theirs.dir, ['write-tree'], env));
    // index.lock held by another git: the edit fails and the index is as it was
    const before = readFileSync(join(ours.dir, '.git', 'index'));
    writeFileSync(join(ours.dir, '.git', 'index.lock'), '');
    await expect(ours.iso.updateIndex([{ path: 'z', mode: '100644', oid: b1 }])).rejects.toThrow(/index\.lock': File exists/);
    expect(readFileSync(join(ours.dir, '.git', 'index'))).toEqual(before);
  });
});
