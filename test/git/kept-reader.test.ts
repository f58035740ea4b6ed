/**
 * The object session a watcher keeps between rounds (git/objects.ts
 * keepObjectReaders): the same `git cat-file --batch` answers every round,
 * sees the loose objects and packs written after it started, and is
 * replaced when the repository is made again at the same path; without
 * keeping, every Repo has its own.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { dropKeptObjectReaders, forgetWrittenObjects, keepObjectReaders, objectReaderFor, writtenObjectsBytes } from '../../src/git/objects.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());
afterEach(() => {
  keepObjectReaders(false);
  forgetWrittenObjects();
});

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
    const blob = r.blob('old\n');
    expect(await old.read(blob)).not.toBeNull();
    const tree = spawnSync('git', ['mktree'], { cwd: r.dir, env: r.env, input: `100644 blob ${blob}\told\n`, encoding: 'utf8' }).stdout.trim();
    expect(await old.read(tree)).not.toBeNull(); // held in memory from now on
    old.close();
    rmSync(r.dir, { recursive: true, force: true });
    git(join(r.dir, '..'), ['init', '-q', '-b', 'main', r.dir], r.env);
    const fresh = objectReaderFor(r.dir, r.gitDir);
    expect(fresh).not.toBe(old);
    expect((await fresh.read(r.blob('new\n')))?.toString()).toBe('new\n');
    expect(await fresh.read(tree)).toBeNull(); // the old repository's, not this one's
    fresh.close();
    keepObjectReaders(false);
    const x = objectReaderFor(r.dir, r.gitDir);
    const y = objectReaderFor(r.dir, r.gitDir);
    expect(x).not.toBe(y);
    x.close();
    y.close();
  });

  it('trees and commits read by id are held in memory between rounds, within a bound, until housekeeping', async () => {
    const r = repo();
    keepObjectReaders(true);
    forgetWrittenObjects();
    const blob = r.blob('content\n');
    const tree = spawnSync('git', ['mktree'], { cwd: r.dir, env: r.env, input: `100644 blob ${blob}\tf\n`, encoding: 'utf8' }).stdout.trim();
    const commit = git(r.dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit-tree', tree, '-m', 'c'], r.env).trim();
    const loose = (oid: string): string => join(r.gitDir, 'objects', oid.slice(0, 2), oid.slice(2));
    const reader = objectReaderFor(r.dir, r.gitDir);
    const [t, c, b, p] = await Promise.all([reader.read(tree), reader.read(commit), reader.read(blob), reader.read(`${commit}:f`)]);
    expect(t?.length).toBeGreaterThan(0);
    expect(c?.toString()).toContain(`tree ${tree}`);
    expect(b?.toString()).toBe('content\n');
    expect(p?.toString()).toBe('content\n');
    const both = writtenObjectsBytes();
    expect(both).toBeGreaterThanOrEqual(t!.length + c!.length); // the tree and the commit (and their keys), not the blob nor `rev:path`
    expect(both).toBeLessThan(t!.length + c!.length + 1024);
    reader.close();
    // gone from disk: the next round still reads the tree and commit from memory; the blob is git's to answer (missing)
    for (const oid of [tree, commit, blob]) unlinkSync(loose(oid));
    const next = objectReaderFor(r.dir, r.gitDir);
    expect(next).toBe(reader);
    expect((await next.read(tree))?.equals(t!)).toBe(true);
    expect((await next.read(commit))?.equals(c!)).toBe(true);
    expect(await next.read(blob)).toBeNull();
    // trimmed between rounds to a bound, the least recently used first: the tree (stored first) was read again last
    await next.read(tree);
    forgetWrittenObjects(both - 1);
    expect(writtenObjectsBytes()).toBeGreaterThan(0);
    expect(await next.read(commit)).toBeNull();
    expect((await next.read(tree))?.equals(t!)).toBe(true);
    // housekeeping may prune: everything is asked of git again
    dropKeptObjectReaders();
    expect(writtenObjectsBytes()).toBe(0);
    const after = objectReaderFor(r.dir, r.gitDir);
    expect(await after.read(tree)).toBeNull();
    // a name ending in a carriage return: cat-file would answer for the name without it
    await expect(after.read(`${commit}:f\r`)).rejects.toThrow(/carriage return/);
    after.close();
  });
});
