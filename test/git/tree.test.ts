/**
 * Trees built in-process equal what git builds (read-tree + update-index
 * --index-info + write-tree) from the same commit and changes: random
 * repos and change sets, deep paths, names that sort around '/', deletions
 * that empty directories, modes, non-ASCII names. git fsck stays clean.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeBlob } from '../../src/git/objects.js';
import { Repo } from '../../src/git/repo.js';
import { buildTreeInProcess, TreeConflict } from '../../src/git/tree.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';
import { rng } from '../helpers/rng.js';

afterAll(() => cleanupTemp());

const NAMES = ['a', 'a-b', 'a.b', 'a0', 'b', 'memory', 'x y', 'é', 'z', 'a_b', 'A'];

describe('trees built in-process', () => {
  it('equal git write-tree for random commits and change sets', async () => {
    const env = testEnv(tempDir());
    const dir = join(tempDir(), 'repo');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    mkdirSync(join(dir, '.git', 'agentgit'), { recursive: true });
    const repo = (await Repo.openAt(dir))!;
    try {
      let prev: string | null = null;
      for (let seed = 1; seed <= 12; seed++) {
        const r = rng(seed);
        const randomPath = (): string => Array.from({ length: 1 + r.int(3) }, () => r.pick(NAMES)).join('/');
        // a commit with random files (a path that would pass through a file is skipped)
        const files = new Map<string, string>();
        for (let i = 0; i < 25; i++) {
          const p = randomPath();
          const clash = [...files.keys()].some((f) => f.startsWith(p + '/') || p.startsWith(f + '/'));
          if (!clash) files.set(p, `content ${seed} ${i}\n`);
        }
        git(dir, ['rm', '-rq', '--ignore-unmatch', '.'], env);
        spawnSync('sh', ['-c', 'find . -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +'], { cwd: dir });
        for (const [p, c] of files) {
          mkdirSync(dirname(join(dir, p)), { recursive: true });
          writeFileSync(join(dir, p), c);
        }
        git(dir, ['add', '-A'], env);
        git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', `seed ${seed}`], env);
        const head = git(dir, ['rev-parse', 'HEAD'], env).trim();
        // random changes: modify, delete (sometimes all of a directory), add beside or below
        const changes: Array<{ path: string; mode: string; oid: string }> = [];
        const existing = [...files.keys()];
        const used = new Set<string>();
        for (let i = 0; i < 10; i++) {
          const roll = r.int(4);
          if (roll < 2 && existing.length) {
            const p = r.pick(existing);
            if (used.has(p)) continue;
            used.add(p);
            if (roll === 0) changes.push({ path: p, mode: '0', oid: '0'.repeat(40) });
            else changes.push({ path: p, mode: r.int(2) ? '100755' : '100644', oid: await writeBlob(repo.gitDir, Buffer.from(`changed ${seed} ${i}\n`)) });
          } else {
            const p = randomPath();
            const clash = [...files.keys(), ...used].some((f) => f === p || f.startsWith(p + '/') || p.startsWith(f + '/'));
            if (clash) continue;
            used.add(p);
            changes.push({ path: p, mode: '100644', oid: await writeBlob(repo.gitDir, Buffer.from(`new ${seed} ${i}\n`)) });
          }
        }
        const mine = await buildTreeInProcess(repo.gitDir, (oid) => repo.objects.read(oid), await repo.treeOf(head), changes);
        const theirs = await repo.buildTreeWithGit(head, changes);
        expect(mine, `seed ${seed}: ${JSON.stringify(changes.map((c) => [c.path, c.mode]))}`).toBe(theirs);
        expect(await repo.buildTree(head, changes)).toBe(theirs);
        // the in-process tree diff gives git diff-tree's changes, in git's order
        expect(await repo.diffTree(head, theirs), `seed ${seed}`).toEqual(await repo.diffTreeWithGit(head, theirs));
        expect(await repo.diffTree(theirs, head), `seed ${seed}`).toEqual(await repo.diffTreeWithGit(theirs, head));
        if (prev) expect(await repo.diffTree(prev, head), `seed ${seed}`).toEqual(await repo.diffTreeWithGit(prev, head));
        prev = head;
      }
      // everything removed: the empty tree, which exists afterwards
      const head = git(dir, ['rev-parse', 'HEAD'], env).trim();
      const all = git(dir, ['ls-tree', '-r', '--name-only', '-z', 'HEAD'], env).split('\0').filter(Boolean);
      const empty = await repo.buildTree(head, all.map((p) => ({ path: p, mode: '0', oid: '0'.repeat(40) })));
      expect(empty).toBe(await repo.buildTreeWithGit(head, all.map((p) => ({ path: p, mode: '0', oid: '0'.repeat(40) }))));
      expect(spawnSync('git', ['fsck', '--strict', '--no-dangling'], { cwd: dir, env, encoding: 'utf8' }).status).toBe(0);
    } finally {
      repo.close();
    }
  });

  it('diffs type changes, file/directory swaps and modes as git diff-tree does', async () => {
    const env = testEnv(tempDir());
    const dir = join(tempDir(), 'repo');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    const commit = (msg: string): string => {
      git(dir, ['add', '-A'], env);
      git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', msg], env);
      return git(dir, ['rev-parse', 'HEAD'], env).trim();
    };
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'x'), 'x\n');
    writeFileSync(join(dir, 'f'), 'f\n');
    writeFileSync(join(dir, 'link'), 'target\n');
    writeFileSync(join(dir, 'run.sh'), 'echo\n');
    writeFileSync(join(dir, 'd.txt'), 'sorts after d/\n');
    const c1 = commit('one');
    spawnSync('rm', ['-rf', join(dir, 'd'), join(dir, 'f'), join(dir, 'link')]);
    writeFileSync(join(dir, 'd'), 'now a file\n');
    mkdirSync(join(dir, 'f'));
    writeFileSync(join(dir, 'f', 'inner'), 'now a dir\n');
    symlinkSync('target', join(dir, 'link'));
    chmodSync(join(dir, 'run.sh'), 0o755);
    const c2 = commit('two');
    mkdirSync(join(dir, '.git', 'agentgit'), { recursive: true });
    const repo = (await Repo.openAt(dir))!;
    try {
      const want = await repo.diffTreeWithGit(c1, c2);
      expect(want.map((c) => `${c.status} ${c.path}`)).toEqual(['A d', 'D d/x', 'D f', 'A f/inner', 'T link', 'M run.sh']);
      expect(await repo.diffTree(c1, c2)).toEqual(want);
      expect(await repo.diffTree(c2, c1)).toEqual(await repo.diffTreeWithGit(c2, c1));
      expect(await repo.diffTree('4b825dc642cb6eb9a060e54bf8d69288fbee4904', c2)).toEqual(await repo.diffTreeWithGit('4b825dc642cb6eb9a060e54bf8d69288fbee4904', c2));
      expect(await repo.diffTree(c1, c1)).toEqual([]);
    } finally {
      repo.close();
    }
  });

  it('a file over a directory that keeps entries is left to git', async () => {
    const env = testEnv(tempDir());
    const dir = join(tempDir(), 'repo');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd', 'x'), 'x\n');
    git(dir, ['add', '-A'], env);
    git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'c'], env);
    mkdirSync(join(dir, '.git', 'agentgit'), { recursive: true });
    const repo = (await Repo.openAt(dir))!;
    try {
      const oid = await writeBlob(repo.gitDir, Buffer.from('file\n'));
      const tree = await repo.treeOf('HEAD');
      await expect(buildTreeInProcess(repo.gitDir, (o) => repo.objects.read(o), tree, [{ path: 'd', mode: '100644', oid }])).rejects.toBeInstanceOf(TreeConflict);
      // the file replaces the directory once its entries go
      const both = [
        { path: 'd/x', mode: '0', oid: '0'.repeat(40) },
        { path: 'd', mode: '100644', oid },
      ];
      expect(await buildTreeInProcess(repo.gitDir, (o) => repo.objects.read(o), tree, both)).toBe(await repo.buildTreeWithGit('HEAD', both));
    } finally {
      repo.close();
    }
  });
});
