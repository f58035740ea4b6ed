/**
 * The isomorphic-git engine's `.git/index`: written through index.lock and
 * renamed (never truncated in place), and an unreadable index (what a
 * kill -9 inside an in-place rewrite leaves) rebuilt from HEAD so status
 * works and reports the work tree as git does.
 */
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
});
