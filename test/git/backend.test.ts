/**
 * The capabilities a repo is opened with (git/backend.ts) and what they
 * switch: with SHA-1 objects and refs in files the in-process fast paths
 * run; in a SHA-256 repository, a linked worktree or behind a config
 * include every operation goes through git and gives git's answer.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { choose, emptyTreeOf, isZeroOid, zeroOidOf } from '../../src/git/backend.js';
import { Repo } from '../../src/git/repo.js';
import { agentgit, cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const env = testEnv(tempDir());

function repoDir(...initArgs: string[]): string {
  const dir = join(tempDir(), 'repo');
  git(tempDir(), ['init', '-q', '-b', 'main', ...initArgs, dir], env);
  mkdirSync(join(dir, '.git', 'agentgit'), { recursive: true });
  return dir;
}

function gitIn(dir: string, args: string[], input?: string | Buffer): string {
  const r = spawnSync('git', args, { cwd: dir, env, input });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout.toString('utf8').trim();
}

describe('capabilities, chosen when a repo is opened', () => {
  it('a SHA-1 repo with refs in files: fast paths on', async () => {
    const repo = (await Repo.openAt(repoDir()))!;
    try {
      expect(repo.caps).toEqual({ engine: 'git CLI', objectFormat: 'sha1', refStorage: 'files', fastPaths: true, why: 'object format sha1, refs in files' });
      expect(repo.zeroOid).toBe('0'.repeat(40));
      expect(repo.emptyTree).toBe(gitIn(repo.root, ['hash-object', '-t', 'tree', '--stdin'], ''));
    } finally {
      repo.close();
    }
  });

  it('a SHA-256 repo: fast paths off, and every operation gives git\'s SHA-256 answer', async () => {
    const dir = repoDir('--object-format=sha256');
    const repo = (await Repo.openAt(dir))!;
    try {
      expect(repo.caps.objectFormat).toBe('sha256');
      expect(repo.caps.fastPaths).toBe(false);
      expect(repo.caps.why).toMatch(/object format sha256/);
      expect(repo.zeroOid).toBe('0'.repeat(64));
      expect(repo.emptyTree).toBe(gitIn(dir, ['hash-object', '-t', 'tree', '--stdin'], ''));
      // blobs: git's ids, stored where git finds them
      const bytes = Buffer.from('hello\n');
      const blob = await repo.writeBlob(bytes);
      expect(blob).toBe(gitIn(dir, ['hash-object', '--stdin'], bytes));
      expect(await repo.hashBlob(bytes)).toBe(blob);
      expect(gitIn(dir, ['cat-file', '-p', blob])).toBe('hello');
      // trees and commits, and the diff back
      const tree = await repo.buildTree(null, [{ path: 'a/b.md', mode: '100644', oid: blob }]);
      expect(tree).toMatch(/^[0-9a-f]{64}$/);
      expect(repo.useCommitIdentity({ name: 'kevin', email: 'k@example.org' }, null)).toBe(false); // no in-process commits
      expect(repo.commitsInProcess(false)).toBe(false);
      const commit = await repo.commitTree(tree, [], 'first\n', { sign: false, env: { GIT_AUTHOR_NAME: 'k', GIT_AUTHOR_EMAIL: 'k@example.org', GIT_COMMITTER_NAME: 'k', GIT_COMMITTER_EMAIL: 'k@example.org' } });
      await repo.updateRef('refs/heads/main', commit, null, 'test');
      expect(gitIn(dir, ['rev-parse', 'HEAD'])).toBe(commit);
      expect(await repo.revParse('HEAD')).toBe(commit);
      expect(repo.readRef('refs/heads/main')).toBeUndefined(); // only git reads refs here
      expect(repo.headBranchFromFile()).toBeNull();
      expect(await repo.treeOf(commit)).toBe(tree);
      expect(await repo.diffTree(null, commit)).toEqual([{ path: 'a/b.md', status: 'A', oldMode: '000000', newMode: '100644', oldOid: repo.zeroOid, newOid: blob }]);
      const empty = await repo.writeEmptyTree();
      expect(empty).toBe(repo.emptyTree);
      expect(gitIn(dir, ['cat-file', '-t', empty])).toBe('tree');
      expect(gitIn(dir, ['fsck', '--no-progress', '--no-dangling'])).toBe('');
    } finally {
      repo.close();
    }
  });

  it('a linked worktree or a config include: fast paths off, with the reason', async () => {
    const dir = repoDir();
    gitIn(dir, ['-c', 'user.name=k', '-c', 'user.email=k@example.org', 'commit', '-q', '--allow-empty', '-m', 'x']);
    const wt = join(tempDir(), 'wt');
    gitIn(dir, ['worktree', 'add', '-q', '-b', 'other', wt]);
    const linked = (await Repo.openAt(wt))!;
    try {
      expect(linked.caps.fastPaths).toBe(false);
      expect(linked.caps.why).toMatch(/linked worktree/);
      expect(await linked.revParse('HEAD')).toBe(gitIn(wt, ['rev-parse', 'HEAD']));
    } finally {
      linked.close();
    }
    // an extension the fast paths were not proven under (git 2.43+ keeps a SHA-256 twin of every object)
    const compat = repoDir();
    gitIn(compat, ['config', 'core.repositoryformatversion', '1']);
    gitIn(compat, ['config', 'extensions.compatObjectFormat', 'sha256']);
    const c = (await Repo.openAt(compat))!;
    try {
      expect(c.caps).toMatchObject({ objectFormat: 'sha1', fastPaths: false, why: expect.stringMatching(/extensions\.compatobjectformat/) });
    } finally {
      c.close();
    }
    const inc = repoDir();
    writeFileSync(join(inc, 'extra.config'), '[user]\n\tname = k\n');
    gitIn(inc, ['config', 'include.path', join(inc, 'extra.config')]);
    const r = (await Repo.openAt(inc))!;
    try {
      expect(r.caps.objectFormat).toBe('sha1');
      expect(r.caps.fastPaths).toBe(false);
      expect(r.caps.why).toMatch(/include/);
    } finally {
      r.close();
    }
  });

  it('the choice: only SHA-1 with refs in files turns the fast paths on', () => {
    expect(choose('sha1', 'files', false, true).fastPaths).toBe(true);
    expect(choose('sha1', 'reftable', false, true)).toMatchObject({ fastPaths: false, why: expect.stringMatching(/reftable/) });
    expect(choose('sha256', 'files', false, true).fastPaths).toBe(false);
    expect(choose('sha1', 'files', true, true).fastPaths).toBe(false);
    expect(choose('sha1', 'files', false, true, ['extensions.compatobjectformat'])).toMatchObject({ fastPaths: false, why: expect.stringMatching(/compatobjectformat/) });
    expect(zeroOidOf('sha256')).toHaveLength(64);
    expect(emptyTreeOf('sha1')).toBe('4b825dc642cb6eb9a060e54bf8d69288fbee4904');
    expect(isZeroOid('0'.repeat(64))).toBe(true);
    expect(isZeroOid('0'.repeat(41))).toBe(false);
  });

  it('doctor shows the engine and whether the fast paths are on', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': '# m\n' } });
    const r = await agentgit(['doctor', '-C', a.dir], { env: a.env });
    expect(r.stdout).toMatch(/^ok {3}git engine: git CLI; object format sha1, refs in files; fast paths on \(object format sha1, refs in files\)$/m);
    expect(r.stdout).toMatch(/^ok {3}git version: git version \d+\.\d+/m);
  }, 60_000);
});
