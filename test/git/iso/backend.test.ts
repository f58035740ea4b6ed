/**
 * IsoGit (the isomorphic-git engine's GitBackend) against real git on the
 * same repositories: revisions, merge bases (a criss-cross with two),
 * ancestry, walks, counts, trees, signature status (ssh-keygen-signed
 * commits through git's own %G?/%GK), checkout, and the engine's refusal
 * of a SHA-256 repository. The engine under test runs no git: git builds
 * the fixtures and gives the expected answers.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import '../../../src/identity/verify.js'; // registers the SSHSIG checker, as the CLI does
import type { LogQuery } from '../../../src/git/backend.js';
import { gitCliEngine } from '../../../src/git/cli.js';
import { IsoGitEngine, type IsoGit } from '../../../src/git/iso/iso-git.js';
import { cleanupTemp, git, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());
const env = testEnv(tempDir());
const engine = new IsoGitEngine(env);

const ident = ['-c', 'user.name=t', '-c', 'user.email=t@x'];
function commit(dir: string, file: string, text: string, extra: string[] = []): string {
  writeFileSync(join(dir, file), text);
  git(dir, ['add', '-A'], env);
  git(dir, [...ident, ...extra, 'commit', '-q', '-m', `${file}: ${text.trim()}`], { ...env, GIT_COMMITTER_DATE: `${1700000000 + counter} +0000`, GIT_AUTHOR_DATE: `${1700000000 + counter++} +0000` });
  return git(dir, ['rev-parse', 'HEAD'], env).trim();
}
let counter = 0;

async function open(dir: string): Promise<IsoGit> {
  const found = (await engine.discover(dir))!;
  return engine.open(found.root, found.gitDir, await engine.detect(found.gitDir, found.root)) as IsoGit;
}

/** A criss-cross history: main and side merge each other twice. */
function crissCross(): string {
  const dir = join(tempDir(), 'cc');
  git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
  commit(dir, 'base', 'base\n');
  git(dir, ['branch', 'side'], env);
  commit(dir, 'a', 'a1\n');
  git(dir, ['checkout', '-q', 'side'], env);
  commit(dir, 'b', 'b1\n');
  const b1 = git(dir, ['rev-parse', 'HEAD'], env).trim();
  git(dir, ['checkout', '-q', 'main'], env);
  const a1 = git(dir, ['rev-parse', 'HEAD'], env).trim();
  git(dir, [...ident, 'merge', '-q', '--no-edit', b1], env);
  git(dir, ['checkout', '-q', 'side'], env);
  git(dir, [...ident, 'merge', '-q', '--no-edit', a1], env);
  commit(dir, 'b', 'b2\n');
  git(dir, ['checkout', '-q', 'main'], env);
  commit(dir, 'a', 'a2\n');
  return dir;
}

describe('IsoGit history against git', () => {
  it('revisions, merge bases, ancestry, walks, counts, trees', async () => {
    const dir = crissCross();
    const be = await open(dir);
    const rp = (r: string) => git(dir, ['rev-parse', '--verify', '-q', r], env).trim();
    for (const r of ['HEAD', 'main', 'side', 'refs/heads/side', 'HEAD~1', 'HEAD~1^2', 'HEAD~1^1', 'side~2', 'HEAD^{tree}']) {
      expect(await (r.endsWith('{tree}') ? be.resolveTree(r) : be.resolveCommit(r))).toBe(rp(r));
    }
    expect(await be.resolveCommit('nope')).toBeNull();
    const bases = git(dir, ['merge-base', '--all', 'main', 'side'], env).trim().split('\n').sort();
    expect(bases.length).toBe(2);
    expect(await be.mergeBases('main', 'side')).toEqual(bases);
    for (const [a, b] of [['side~2', 'main'], ['main', 'side'], ['main~1', 'main'], ['side', 'side']] as const) {
      const isAnc = spawnSync('git', ['merge-base', '--is-ancestor', a, b], { cwd: dir, env }).status === 0;
      expect(await be.isAncestor(a, b)).toBe(isAnc);
    }
    const revList = (args: string[]) => git(dir, ['rev-list', ...args], env).trim().split('\n');
    expect((await be.walk({ include: ['main', 'side'] })).map((c) => c.oid)).toEqual(revList(['main', 'side']));
    expect((await be.walk({ include: ['main'], exclude: ['side'] })).map((c) => c.oid)).toEqual(revList(['main', '^side']));
    expect((await be.walk({ include: ['main'] }, { rootsOnly: true })).map((c) => c.oid)).toEqual(revList(['--max-parents=0', 'main']));
    const topo = (await be.walk({ include: ['main'] }, { topo: true, reverse: true })).map((c) => c.oid);
    // parents first: every commit after all of its parents (git's exact tie order is not promised)
    expect(new Set(topo)).toEqual(new Set(revList(['--reverse', '--topo-order', 'main'])));
    for (const [i, oid] of topo.entries()) for (const p of (await be.walk({ include: [oid] }, { noWalk: true }))[0]!.parents) expect(topo.indexOf(p)).toBeLessThan(i);
    expect((await be.walk({ include: ['main'], path: 'a' })).map((c) => c.oid)).toEqual(revList(['main', '--', 'a']));
    expect((await be.walk({ include: ['main'] }, { firstParent: true })).map((c) => c.oid)).toEqual(revList(['--first-parent', 'main']));
    expect((await be.walk({ include: ['main'] }, { firstParent: true, reverse: true })).map((c) => c.oid)).toEqual(revList(['--first-parent', '--reverse', 'main']));
    expect(await be.countCommits({ include: ['main', 'side'] })).toBe(Number(git(dir, ['rev-list', '--count', 'main', 'side'], env)));
    const [ahead, behind] = git(dir, ['rev-list', '--left-right', '--count', 'main...side'], env).trim().split(/\s+/).map(Number);
    expect(await be.aheadBehind('main', 'side')).toEqual({ ahead, behind });
    expect((await be.listFiles('main')).sort()).toEqual(git(dir, ['ls-tree', '-r', '--name-only', 'main'], env).trim().split('\n').sort());
    const diff = git(dir, ['diff-tree', '-r', '--no-renames', 'side', 'main'], env).trim().split('\n');
    expect((await be.diffTrees('side', 'main')).map((c) => `:${c.oldMode} ${c.newMode} ${c.oldOid} ${c.newOid} ${c.status}\t${c.path}`)).toEqual(diff);
    expect(await be.readObject('main:a')).toEqual(Buffer.from('a2\n'));
    expect(await be.listRefs(['refs/heads/'])).toEqual(new Map([['refs/heads/main', rp('main')], ['refs/heads/side', rp('side')]]));
    expect(await be.headBranch()).toBe('main');
    expect(await be.lastCommitTouching('b')).toEqual({ oid: revList(['-1', 'main', '--', 'b'])[0], author: 't' });
  });
});

describe('IsoGit signature status against git %G? %GK', () => {
  it('G for an allowed key, U for another, N unsigned; the same fingerprints', async () => {
    const keys = tempDir();
    for (const k of ['allowed', 'other']) expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', k, '-f', join(keys, k)]).status).toBe(0);
    const pub = (k: string) => readFileSync(join(keys, `${k}.pub`), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const allowedText = `agent/one namespaces="git" ${pub('allowed')}\n`;
    writeFileSync(join(keys, 'allowed_signers'), allowedText);
    const dir = join(tempDir(), 'sig');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    const signWith = (k: string) => ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${join(keys, k)}`, '-c', 'commit.gpgsign=true'];
    const oids = [commit(dir, 'f', 'one\n', signWith('allowed')), commit(dir, 'f', 'two\n', signWith('other')), commit(dir, 'f', 'three\n')];
    const be = await open(dir);
    const got = await be.signatureStatus(oids, allowedText);
    const want = git(dir, ['-c', `gpg.ssh.allowedSignersFile=${join(keys, 'allowed_signers')}`, 'log', '--no-walk=unsorted', '--format=%H %G? %GK', ...oids], env).trim().split('\n');
    expect(oids.map((o) => `${o} ${got.get(o)!.g} ${got.get(o)!.fp}`.trim())).toEqual(want.map((l) => l.trim()));
    expect(oids.map((o) => got.get(o)!.g)).toEqual(['G', 'U', 'N']);
  });
});

describe('IsoGit log with changes against git log --raw', () => {
  it("agentgit log's and verify's queries: fields, signatures, trailers, first-parent changes", async () => {
    const keys = tempDir();
    expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'k', '-f', join(keys, 'k')]).status).toBe(0);
    const allowed = join(keys, 'allowed_signers');
    writeFileSync(allowed, `agent/one namespaces="git" ${readFileSync(join(keys, 'k.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ')}\n`);
    const dir = crissCross();
    git(dir, ['config', 'gpg.ssh.allowedSignersFile', allowed], env);
    writeFileSync(join(dir, 'c'), 'signed\n');
    git(dir, ['add', 'c'], env);
    git(dir, [...ident, '-c', 'gpg.format=ssh', '-c', `user.signingkey=${join(keys, 'k')}`, 'commit', '-q', '-S', '-m', 'signed one', '-m', 'Agentgit-Instance: one'], env);
    const be = await open(dir);
    const queries: LogQuery[] = [
      { fields: ['%H', '%an'], noMerges: true, include: ['HEAD'] },
      { fields: ['%H', '%cI', '%an', '%G?', '%(trailers:key=Agentgit-Instance,valueonly,separator=%x2C)', '%GS', '%GK', '%s'], include: [], firstParent: true, maxCount: 5 },
      { fields: ['%H', '%s'], include: ['main'], author: 't <' },
    ];
    const cli = gitCliEngine.open(dir, join(dir, '.git'), be.caps);
    for (const q of queries) expect(await be.logWithChanges(q), JSON.stringify(q)).toEqual(await cli.logWithChanges(q));
    // a file's line history: the same lines added and removed as git log -p (a set: the caller reads principals from it)
    for (const path of ['a', 'b', 'c', 'base']) expect(new Set(await be.pathChangeLines('main', path)), path).toEqual(new Set(await cli.pathChangeLines('main', path)));
  });
});

describe('IsoGit work tree', () => {
  it('checkout hard leaves what git reset --hard leaves; keep refuses over a local change', async () => {
    const dir = join(tempDir(), 'co');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    const c1 = commit(dir, 'x', 'one\n');
    const c2 = commit(dir, 'y', 'two\n');
    const be = await open(dir);
    await be.checkout(c1, 'hard');
    expect(git(dir, ['rev-parse', 'HEAD'], env).trim()).toBe(c1);
    expect(git(dir, ['status', '--porcelain', '-uall'], env)).toBe('');
    await be.checkout(c2, 'keep');
    expect(readFileSync(join(dir, 'y'), 'utf8')).toBe('two\n');
    expect(git(dir, ['status', '--porcelain', '-uall'], env)).toBe('');
    writeFileSync(join(dir, 'y'), 'local edit\n');
    await expect(be.checkout(c1, 'keep')).rejects.toThrow(/local changes in y/);
    expect(git(dir, ['rev-parse', 'HEAD'], env).trim()).toBe(c2);
    expect(readFileSync(join(dir, 'y'), 'utf8')).toBe('local edit\n');
  });

  it('refuses a SHA-256 repository with one line naming it and "install git"', async () => {
    const dir = join(tempDir(), 'sha256');
    git(tempDir(), ['init', '-q', '--object-format=sha256', '-b', 'main', dir], env);
    const e = await engine.detect(join(dir, '.git'), dir).then(() => null, (x: Error) => x);
    expect(e?.message).toContain(dir);
    expect(e?.message).toMatch(/SHA-256 repository.*install git/);
    expect(e?.message).not.toContain('\n');
  });
});
