/**
 * Loose objects written in-process: git reads them back unchanged, a blob
 * this process wrote is read back (from memory) only through the repo it
 * was written to, and a large object arriving in many chunks from cat-file
 * is assembled whole.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeBlob } from '../../src/git/objects.js';
import { Repo } from '../../src/git/repo.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

async function newRepo(): Promise<{ repo: Repo; dir: string; env: NodeJS.ProcessEnv }> {
  const env = testEnv(tempDir());
  const dir = join(tempDir(), 'repo');
  git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
  mkdirSync(join(dir, '.git', 'agentgit'), { recursive: true });
  return { repo: (await Repo.openAt(dir))!, dir, env };
}

describe('loose objects', () => {
  it('are what git reads, and a written blob is found only in its own repo', async () => {
    const a = await newRepo();
    const b = await newRepo();
    try {
      const bytes = Buffer.from('hello from a\n');
      const oid = await writeBlob(a.repo.gitDir, bytes);
      a.repo.flushObjects(); // batched until then (git/objects.ts); one object is written loose
      expect(spawnSync('git', ['cat-file', 'blob', oid], { cwd: a.dir, env: a.env }).stdout.equals(bytes)).toBe(true);
      expect(await a.repo.objects.read(oid)).toEqual(bytes);
      expect(await b.repo.objects.read(oid)).toBeNull();
      // writing it again is harmless
      expect(await writeBlob(a.repo.gitDir, bytes)).toBe(oid);
      expect(spawnSync('git', ['fsck', '--strict'], { cwd: a.dir, env: a.env, encoding: 'utf8' }).status).toBe(0);
    } finally {
      a.repo.close();
      b.repo.close();
    }
  });

  it('are compressed at git\'s loose-object level (1, best speed), as `git hash-object -w` writes them', async () => {
    const a = await newRepo();
    try {
      const bytes = Buffer.from('- an entry\n'.repeat(800));
      const oid = await writeBlob(a.repo.gitDir, bytes);
      a.repo.flushObjects();
      const ours = readFileSync(join(a.dir, '.git', 'objects', oid.slice(0, 2), oid.slice(2)));
      const theirs = spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: a.dir, env: a.env, input: Buffer.concat([bytes, Buffer.from('x')]), encoding: 'utf8' }).stdout.trim();
      const gits = readFileSync(join(a.dir, '.git', 'objects', theirs.slice(0, 2), theirs.slice(2)));
      // the zlib header names the level: 78 01 is level 1 (git's core.looseCompression default), 78 9c zlib's default 6
      expect(gits.subarray(0, 2).toString('hex')).toBe('7801');
      expect(ours.subarray(0, 2).toString('hex')).toBe('7801');
      expect(spawnSync('git', ['cat-file', 'blob', oid], { cwd: a.dir, env: a.env }).stdout.equals(bytes)).toBe(true);
    } finally {
      a.repo.close();
    }
  });

  it('a large object written by git is read whole, beside small ones requested at once', async () => {
    const a = await newRepo();
    try {
      const big = Buffer.alloc(3_000_000);
      for (let i = 0; i < big.length; i++) big[i] = 97 + ((i * 7) % 26);
      const r = spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: a.dir, env: a.env, input: big, encoding: 'utf8' });
      const bigOid = r.stdout.trim();
      const small = spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: a.dir, env: a.env, input: 'small\n', encoding: 'utf8' }).stdout.trim();
      const [x, y, z, missing] = await Promise.all([a.repo.objects.read(small), a.repo.objects.read(bigOid), a.repo.objects.read(small), a.repo.objects.read('0'.repeat(40))]);
      expect(x?.toString()).toBe('small\n');
      expect(y?.equals(big)).toBe(true);
      expect(z?.toString()).toBe('small\n');
      expect(missing).toBeNull();
    } finally {
      a.repo.close();
    }
  });
});
