/**
 * Work-tree status with the isomorphic-git engine against `git status
 * --porcelain=v1 -uall` on the same repository, over every state a file
 * can be in (untracked, ignored, added, modified in work tree or index or
 * both, deleted either way, removed from the index but still on disk).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isoStatus } from '../../../src/git/iso/worktree.js';
import { cleanupTemp, git, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());
const env = testEnv(tempDir());

function gitStatus(dir: string): string[] {
  const out = git(dir, ['status', '--porcelain=v1', '-uall', '-z', '--no-renames'], env);
  return out
    .split('\0')
    .filter(Boolean)
    .map((l) => `${l.slice(0, 2)} ${l.slice(3)}`)
    .sort();
}

describe('status', () => {
  it('is git status --porcelain -uall, path for path', async () => {
    const dir = join(tempDir(), 'w');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    mkdirSync(join(dir, 'sub', 'deep'), { recursive: true });
    const files = ['keep', 'mod-wt', 'mod-idx', 'mod-both', 'del-wt', 'del-idx', 'rm-cached', 'sub/deep/x', 'mod-back'];
    for (const f of files) writeFileSync(join(dir, f), `${f}\n`);
    writeFileSync(join(dir, '.gitignore'), 'ignored*\n');
    git(dir, ['add', '-A'], env);
    git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '-m', 'base'], env);
    const put = (f: string, text: string): void => writeFileSync(join(dir, f), text);
    const stage = (f: string, text: string): string => (put(f, text), git(dir, ['add', f], env));
    put('mod-wt', 'changed\n');
    stage('mod-idx', 'changed\n');
    stage('mod-both', 'changed once\n');
    put('mod-both', 'changed twice\n');
    rmSync(join(dir, 'del-wt'));
    git(dir, ['rm', '-q', 'del-idx'], env);
    git(dir, ['rm', '-q', '--cached', 'rm-cached'], env);
    stage('mod-back', 'staged\n');
    put('mod-back', 'mod-back\n');
    put('new-untracked', 'u\n');
    mkdirSync(join(dir, 'newdir', 'inner'), { recursive: true });
    put('newdir/inner/f', 'u\n');
    put('ignored.log', 'i\n');
    stage('added', 'a\n');
    stage('added-mod', 'a\n');
    put('added-mod', 'b, longer: a same-size rewrite in the same second is racy for git itself\n');
    const iso = (await isoStatus(dir, join(dir, '.git'), {})).map((s) => `${s.xy} ${s.path}`).sort();
    expect(iso).toEqual(gitStatus(dir));
    // only some paths
    const some = (await isoStatus(dir, join(dir, '.git'), {}, ['mod-wt', 'keep', 'sub/deep/x'])).map((s) => `${s.xy} ${s.path}`);
    expect(some).toEqual([' M mod-wt']);
  });
});
