/**
 * The isomorphic-git engine's in-process pieces against real git on the
 * same repositories: object reads (loose and packed), refs (loose and
 * packed) and their compare-and-swap, and the file-hub fetch and push.
 * Real git only builds the fixtures and checks the results.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyObjects, fetchFromFileHub, pushToFileHub } from '../../../src/git/iso/file-transport.js';
import { IsoObjects } from '../../../src/git/iso/objects.js';
import { casRef, listRefs, readRef, RefLockBusyError, RefMovedError } from '../../../src/git/iso/refs.js';
import { cleanupTemp, git, makeBareHub, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());

const env = testEnv(tempDir());

function repoWithHistory(commits = 3): string {
  const dir = join(tempDir(), 'repo');
  git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
  for (let i = 0; i < commits; i++) {
    mkdirSync(join(dir, 'a', `d${i % 2}`), { recursive: true });
    writeFileSync(join(dir, 'a', `d${i % 2}`, `f${i}.txt`), `file ${i}\n`);
    writeFileSync(join(dir, 'top.txt'), `round ${i}\n`);
    git(dir, ['add', '-A'], env);
    git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '-m', `c${i}`], env);
  }
  return dir;
}

function fsck(gitDir: string): void {
  const r = spawnSync('git', ['--git-dir', gitDir, 'fsck', '--strict', '--no-dangling'], { env, encoding: 'utf8' });
  expect(r.stderr + r.stdout).toBe('');
  expect(r.status).toBe(0);
}

function allObjects(gitDir: string): string[] {
  return git(gitDir, ['--git-dir', gitDir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)'], env).trim().split('\n');
}

describe('objects read in-process', () => {
  it('are what git cat-file reads, loose and after git gc (packed)', async () => {
    const dir = repoWithHistory(4);
    const gitDir = join(dir, '.git');
    for (const packed of [false, true]) {
      if (packed) git(dir, ['gc', '-q'], env);
      const objs = new IsoObjects(gitDir);
      for (const oid of allObjects(gitDir)) {
        const type = git(dir, ['cat-file', '-t', oid], env).trim();
        const body = spawnSync('git', ['cat-file', type, oid], { cwd: dir, env }).stdout;
        const r = await objs.read(oid);
        expect(r?.type).toBe(type);
        expect(r?.body.equals(body)).toBe(true);
        expect(await objs.has(oid)).toBe(true);
      }
      expect(await objs.read('1'.repeat(40))).toBeNull();
      expect(await objs.has('1'.repeat(40))).toBe(false);
    }
  });
});

describe('refs in files', () => {
  it('read and list as git does, loose and packed; CAS refuses a moved ref and a held lock', () => {
    const dir = repoWithHistory(2);
    const gitDir = join(dir, '.git');
    const head = git(dir, ['rev-parse', 'HEAD'], env).trim();
    const first = git(dir, ['rev-parse', 'HEAD~1'], env).trim();
    git(dir, ['branch', 'other', first], env);
    const same = (): void => {
      const forEach = git(dir, ['for-each-ref', '--format=%(refname) %(objectname)'], env).trim().split('\n');
      expect([...listRefs(gitDir)].map(([k, v]) => `${k} ${v}`).sort()).toEqual(forEach.sort());
      expect(readRef(gitDir, 'HEAD')).toBe(head);
    };
    same();
    git(dir, ['pack-refs', '--all'], env);
    expect(existsSync(join(gitDir, 'refs', 'heads', 'other'))).toBe(false);
    same();
    // CAS: wrong expectation, then a lock held (as git holds it), then a move git sees
    expect(() => casRef(gitDir, 'refs/heads/other', head, head)).toThrow(RefMovedError);
    writeFileSync(join(gitDir, 'refs', 'heads', 'other.lock'), '');
    expect(() => casRef(gitDir, 'refs/heads/other', first, head)).toThrow(RefLockBusyError);
    // and git itself is refused while we hold the lock (the same protocol)
    expect(spawnSync('git', ['update-ref', 'refs/heads/other', head, first], { cwd: dir, env }).status).not.toBe(0);
    spawnSync('rm', [join(gitDir, 'refs', 'heads', 'other.lock')]);
    casRef(gitDir, 'refs/heads/other', first, head);
    expect(git(dir, ['rev-parse', 'other'], env).trim()).toBe(head);
    casRef(gitDir, 'refs/heads/new', null, first);
    expect(git(dir, ['rev-parse', 'new'], env).trim()).toBe(first);
    expect(() => casRef(gitDir, 'refs/heads/../x', null, first)).toThrow(/not a valid ref name/);
    expect(() => casRef(gitDir, 'refs/heads/x', null, 'HEAD')).toThrow(/not a SHA-1/);
  });
});

describe('file hub transport', () => {
  it('push then fetch: the hub and the other clone hold what git push/fetch would, fsck clean', async () => {
    const a = repoWithHistory(3);
    const hub = makeBareHub();
    const tipA = git(a, ['rev-parse', 'HEAD'], env).trim();
    await pushToFileHub(join(a, '.git'), hub, 'refs/heads/main', null, tipA);
    expect(git(hub, ['rev-parse', 'main'], env).trim()).toBe(tipA);
    fsck(hub);
    // a second clone by git, a commit there pushed by git; then fetched in-process
    const b = join(tempDir(), 'b');
    git(tempDir(), ['clone', '-q', hub, b], env);
    writeFileSync(join(b, 'a', 'd1', 'f1.txt'), 'changed by b\n');
    writeFileSync(join(b, 'new.txt'), 'new\n');
    git(b, ['add', '-A'], env);
    git(b, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '-m', 'b'], env);
    git(b, ['push', '-q', 'origin', 'main'], env);
    const tipB = git(b, ['rev-parse', 'HEAD'], env).trim();
    const heads = await fetchFromFileHub(join(a, '.git'), hub);
    expect(heads.get('refs/heads/main')).toBe(tipB);
    expect(git(a, ['rev-parse', 'refs/remotes/origin/main'], env).trim()).toBe(tipB);
    fsck(join(a, '.git'));
    // a commit of the empty tree (a heartbeat) brings the empty tree, stored
    const beat = git(b, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit-tree', '4b825dc642cb6eb9a060e54bf8d69288fbee4904', '-m', 'beat'], env).trim();
    await pushToFileHub(join(b, '.git'), hub, 'refs/agentgit/hub/b', null, beat);
    fsck(hub);
    // nothing left to copy: a second fetch writes nothing
    expect(await copyObjects(hub, join(a, '.git'), [tipB])).toBe(0);
    // a push from a stale expectation loses, the hub is unchanged
    await expect(pushToFileHub(join(a, '.git'), hub, 'refs/heads/main', tipA, tipA)).rejects.toThrow(RefMovedError);
    expect(git(hub, ['rev-parse', 'main'], env).trim()).toBe(tipB);
  });

  it('copies from a packed source, only the changed paths, and into a packed destination', async () => {
    const a = repoWithHistory(5);
    git(a, ['gc', '-q'], env);
    const hub = makeBareHub();
    const tip = git(a, ['rev-parse', 'HEAD'], env).trim();
    const n = await copyObjects(join(a, '.git'), hub, [tip]);
    expect(n).toBe(allObjects(join(a, '.git')).length);
    git(hub, ['update-ref', 'refs/heads/main', tip], env);
    git(hub, ['gc', '-q'], env);
    writeFileSync(join(a, 'top.txt'), 'one more\n');
    git(a, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qam', 'more'], env);
    const tip2 = git(a, ['rev-parse', 'HEAD'], env).trim();
    // one commit, one root tree, one blob: nothing under a/ is opened or copied
    expect(await copyObjects(join(a, '.git'), hub, [tip2])).toBe(3);
    git(hub, ['update-ref', 'refs/heads/main', tip2, tip], env);
    fsck(hub);
  });
});
