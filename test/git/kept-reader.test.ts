/**
 * The object session a watcher keeps between rounds (git/objects.ts
 * keepObjectReaders): the same `git cat-file --batch` answers every round,
 * sees the loose objects and packs written after it started, and is
 * replaced when the repository is made again at the same path; without
 * keeping, every Repo has its own.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { keepObjectReaders, objectReaderFor } from '../../src/git/objects.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());
afterEach(() => keepObjectReaders(false));

function repo(): { dir: string; gitDir: string; env: NodeJS.ProcessEnv; blob: (text: string) => string } {
  const root = tempDir();
  const env = testEnv(root);
  const dir = join(root, 'r');
  git(root, ['init', '-q', '-b', 'main', dir], env);
  const blob = (text: string): string => spawnSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, env, input: text, encoding: 'utf8' }).stdout.trim();
  return { dir, gitDir: join(dir, '.git'), env, blob };
}

describe('object sessions kept between rounds', () => {
  it('one session for every round, seeing what later rounds wrote, loose or packed', async () => {
    const r = repo();
    keepObjectReaders(true);
    const first = objectReaderFor(r.dir, r.gitDir);
    const a = r.blob('first\n');
    expect((await first.read(a))?.toString()).toBe('first\n');
    first.close(); // the round's end: kept
    const second = objectReaderFor(r.dir, r.gitDir);
    expect(second).toBe(first);
    const b = r.blob('written after the session started\n');
    expect((await second.read(b))?.toString()).toBe('written after the session started\n');
    // packed meanwhile (a gc): the loose files are gone, the session finds the pack
    const c = r.blob('packed\n');
    spawnSync('git', ['update-ref', 'refs/keep/c', c], { cwd: r.dir, env: r.env });
    spawnSync('git', ['update-ref', 'refs/keep/b', b], { cwd: r.dir, env: r.env });
    git(r.dir, ['repack', '-q', '-a', '-d'], r.env);
    git(r.dir, ['prune-packed'], r.env);
    expect((await second.read(c))?.toString()).toBe('packed\n');
    expect((await second.read(b))?.toString()).toBe('written after the session started\n');
    // the index is read once by a long-lived git: a kept session does not answer `:path`
    await expect(second.read(':README')).rejects.toThrow(/index paths/);
    second.close();
  });

  it('a repository made again at the same path gets a new session; not keeping gives each its own', async () => {
    const r = repo();
    keepObjectReaders(true);
    const old = objectReaderFor(r.dir, r.gitDir);
    expect(await old.read(r.blob('old\n'))).not.toBeNull();
    old.close();
    rmSync(r.dir, { recursive: true, force: true });
    git(join(r.dir, '..'), ['init', '-q', '-b', 'main', r.dir], r.env);
    const fresh = objectReaderFor(r.dir, r.gitDir);
    expect(fresh).not.toBe(old);
    expect((await fresh.read(r.blob('new\n')))?.toString()).toBe('new\n');
    fresh.close();
    keepObjectReaders(false);
    const x = objectReaderFor(r.dir, r.gitDir);
    const y = objectReaderFor(r.dir, r.gitDir);
    expect(x).not.toBe(y);
    x.close();
    y.close();
  });
});
