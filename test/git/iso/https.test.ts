/**
 * The isomorphic-git engine's https transport against the real hub (nginx +
 * git-http-backend, basic auth, self-signed certificate): the credential
 * and CA are found the way git finds them (the hub's clientEnv is what git
 * itself uses in the other suites), refs and objects agree with git's
 * ls-remote / fetch / fsck, a push is a compare-and-swap, a wrong password
 * or a missing CA fails with one line that holds no secret, and a hung hub
 * is cut at the deadline.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caFileFor, credentialFor, credentialFromStore, storeFiles } from '../../../src/git/iso/credentials.js';
import { HttpDeadlineError } from '../../../src/git/iso/http.js';
import { IsoGitEngine } from '../../../src/git/iso/iso-git.js';
import { fetchHttps, hubKind, lsRemoteHttps, pushHttps } from '../../../src/git/iso/remote.js';
import { fetchHttpsRefspecs } from '../../../src/git/iso/upload-pack.js';
import { cleanupTemp, git, tempDir, testEnv } from '../../helpers/agents.js';
import { gitEnv, hubsAvailable, startHttpsHub, startHungHub, type HttpsHub } from '../../helpers/hubs.js';

const avail = hubsAvailable();
let hub: HttpsHub;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!avail.https) return;
  hub = await startHttpsHub({ password: 'pw:with/odd&chars' });
  env = gitEnv(testEnv(tempDir()), hub.clientEnv, { GIT_TERMINAL_PROMPT: '0' });
}, 60_000);
afterAll(async () => {
  await hub?.stop();
  cleanupTemp();
});

function commitIn(dir: string, file: string, text: string): string {
  writeFileSync(join(dir, file), text);
  git(dir, ['add', '-A'], env);
  git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '-m', file], env);
  return git(dir, ['rev-parse', 'HEAD'], env).trim();
}

describe('credentials and CA, as git reads them', () => {
  it('store file lines, helper scoping and reset, AGENTGIT_TOKEN first', () => {
    const line = 'https://me:p%40ss%3Aw@git.example.com\nhttps://other:x@git.example.com%3a8443/team\n';
    expect(credentialFromStore(line, 'https://git.example.com/a/b.git')).toEqual({ username: 'me', password: 'p@ss:w' });
    expect(credentialFromStore(line, 'https://git.example.com:8443/team/x.git')).toEqual({ username: 'other', password: 'x' });
    expect(credentialFromStore(line, 'https://git.example.com:8443/elsewhere.git')).toBeNull();
    expect(credentialFromStore(line, 'https://evil.example.com/a.git')).toBeNull();
    const home = tempDir();
    const base = { HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
    // no helper: git's defaults
    expect(storeFiles([], 'https://h/x', base)).toEqual([join(home, '.git-credentials'), join(home, '.config', 'git', 'credentials')]);
    // a scoped helper after an empty reset; a helper for another host does not apply
    const pairs: Array<[string, string]> = [
      ['credential.helper', 'store'],
      ['credential.https://h.helper', ''],
      ['credential.https://h.helper', "store --file '/tmp/my creds'"],
      ['credential.https://other.helper', 'store --file /tmp/no'],
    ];
    expect(storeFiles(pairs, 'https://h/x.git', base)).toEqual(['/tmp/my creds']);
    writeFileSync(join(home, '.git-credentials'), 'https://u:from-file@h\n');
    expect(credentialFor('https://h/x.git', null, base)).toEqual({ username: 'u', password: 'from-file' });
    expect(credentialFor('https://h/x.git', null, { ...base, AGENTGIT_TOKEN: 'tok' })).toEqual({ username: 'x-access-token', password: 'tok' });
    expect(caFileFor('https://h/x.git', null, { ...base, GIT_SSL_CAINFO: '/ca.pem' })).toBe('/ca.pem');
    expect(hubKind('git@github.com:a/b.git')).toBe('unsupported');
    expect(hubKind('ssh://git@h/a.git')).toBe('unsupported');
    expect(hubKind('/srv/hub.git')).toBe('file');
  });
});

describe.skipIf(!avail.https)('https hub', () => {
  it('reads the hub clientEnv git uses (store file in GIT_CONFIG_*, GIT_SSL_CAINFO)', () => {
    expect(credentialFor(hub.url, null, env)).toEqual({ username: hub.user, password: hub.password });
    expect(caFileFor(hub.url, null, env)).toBe(hub.caFile);
  });

  it('push (CAS), ls-remote and fetch agree with git; a stale lease loses', async () => {
    const a = join(tempDir(), 'a');
    git(tempDir(), ['init', '-q', '-b', 'main', a], env);
    git(a, ['remote', 'add', 'origin', hub.url], env); // what a clone has: the fetch refspec
    const c1 = commitIn(a, 'one.txt', 'one\n');
    const gitDir = join(a, '.git');
    expect(await pushHttps(gitDir, hub.url, 'refs/heads/main', 'refs/heads/main', null, { env })).toEqual({ ok: true, old: null });
    const lsGit = git(a, ['ls-remote', hub.url, 'refs/heads/*'], env);
    const lsIso = await lsRemoteHttps(hub.url, { gitDir, env });
    expect([...lsIso].map(([r, o]) => `${o}\t${r}`).join('\n')).toBe(lsGit.trim());
    expect(lsIso.get('refs/heads/main')).toBe(c1);
    // git clones, commits, pushes; fetched in-process
    const b = join(tempDir(), 'b');
    git(tempDir(), ['clone', '-q', hub.url, b], env);
    const c2 = commitIn(b, 'two.txt', 'two\n');
    git(b, ['push', '-q', 'origin', 'main'], env);
    expect(await fetchHttps(gitDir, hub.url, 'main', { env })).toBe(c2);
    expect(git(a, ['rev-parse', 'refs/remotes/origin/main'], env).trim()).toBe(c2);
    const fsck = spawnSync('git', ['fsck', '--strict', '--no-dangling'], { cwd: a, env, encoding: 'utf8' });
    expect(fsck.status).toBe(0);
    // a push whose lease is stale (the hub moved to c2) is refused, the hub unchanged
    const c3 = commitIn(a, 'three.txt', 'three\n');
    const stale = await pushHttps(gitDir, hub.url, 'refs/heads/main', 'refs/heads/main', c1, { env });
    expect(stale).toMatchObject({ ok: false, reason: 'stale', actual: c2 });
    expect(git(hub.repoPath, ['rev-parse', 'main'], env).trim()).toBe(c2);
    // with the right lease it goes through (a non-fast-forward is the lease's business, as --force-with-lease)
    expect(await pushHttps(gitDir, hub.url, 'refs/heads/main', 'refs/heads/main', c2, { env })).toEqual({ ok: true, old: c2 });
    expect(git(hub.repoPath, ['rev-parse', 'main'], env).trim()).toBe(c3);
    expect(spawnSync('git', ['fsck', '--strict', '--no-dangling'], { cwd: hub.repoPath, env, encoding: 'utf8' }).status).toBe(0);
    // delete a ref on the hub (a retired instance's heartbeat), through the backend's push
    git(a, ['push', '-q', 'origin', `${c3}:refs/agentgit/hub/gone`], env);
    const engine = new IsoGitEngine(env);
    const be = engine.open(a, gitDir, await engine.detect(gitDir, a));
    const del = await be.push({ remote: 'origin', refspecs: [':refs/agentgit/hub/gone'] });
    expect(del.refs).toEqual([{ flag: '-', from: '', to: 'refs/agentgit/hub/gone', summary: '[deleted]' }]);
    expect(git(hub.repoPath, ['for-each-ref', 'refs/agentgit/hub/'], env)).toBe('');
    // the password never went into a URL the hub saw
    expect(hub.accessLog().join('\n')).not.toContain('with/odd');
  });

  it('fetches any refspec (heartbeat refs by glob, a branch into a scratch ref by URL) as git fetch does', async () => {
    const repo = await hub.createRepo('refspecs.git');
    const src = join(tempDir(), 'src');
    git(tempDir(), ['init', '-q', '-b', 'main', src], env);
    const c1 = commitIn(src, 'a.txt', 'a\n');
    git(src, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '--allow-empty', '-m', 'beat'], env);
    const beat = git(src, ['rev-parse', 'HEAD'], env).trim();
    git(src, ['push', '-q', repo.url, `${c1}:refs/heads/main`, `${beat}:refs/agentgit/hub/one`, `${c1}:refs/agentgit/hub/two`], env);
    const viaIso = join(tempDir(), 'iso');
    const viaGit = join(tempDir(), 'git');
    for (const d of [viaIso, viaGit]) git(tempDir(), ['init', '-q', '-b', 'main', d], env);
    const specs = ['+refs/heads/main:refs/agentgit/probe', '+refs/agentgit/hub/*:refs/agentgit/instances/*'];
    const r = await fetchHttpsRefspecs(join(viaIso, '.git'), repo.url, [...specs, '+refs/heads/nope:refs/x'], { env });
    expect(r.missing).toEqual(['refs/heads/nope']);
    git(viaGit, ['fetch', '-q', '--no-tags', repo.url, ...specs], env);
    const refsOf = (d: string) => git(d, ['for-each-ref', '--format=%(refname) %(objectname)'], env);
    expect(refsOf(viaIso)).toBe(refsOf(viaGit));
    expect(spawnSync('git', ['fsck', '--strict', '--no-dangling'], { cwd: viaIso, env, encoding: 'utf8' }).status).toBe(0);
    // again: nothing to fetch, nothing changes
    await fetchHttpsRefspecs(join(viaIso, '.git'), repo.url, specs, { env });
    expect(refsOf(viaIso)).toBe(refsOf(viaGit));
  });

  it('an upload-pack answer over the size cap is refused with one line, and no ref moves', async () => {
    const repo = await hub.createRepo('big.git');
    const src = join(tempDir(), 'src');
    git(tempDir(), ['init', '-q', '-b', 'main', src], env);
    commitIn(src, 'big.bin', randomBytes(64 * 1024).toString('base64'));
    git(src, ['push', '-q', repo.url, 'main'], env);
    const dst = join(tempDir(), 'dst');
    git(tempDir(), ['init', '-q', '-b', 'main', dst], env);
    const e = await fetchHttpsRefspecs(join(dst, '.git'), repo.url, ['+refs/heads/main:refs/agentgit/probe'], { env, maxPackBytes: 16 * 1024 }).then(() => null, (x: Error) => x);
    expect(e?.message).toMatch(/the hub's pack is over 16384 bytes, more than the isomorphic-git engine holds in memory; fetch once with git \(AGENTGIT_ENGINE=git\)/);
    expect(git(dst, ['for-each-ref'], env)).toBe('');
  });

  it('a wrong password and a missing CA fail with a line that holds no secret', async () => {
    const a = join(tempDir(), 'w');
    git(tempDir(), ['init', '-q', '-b', 'main', a], env);
    const wrongEnv = gitEnv(testEnv(tempDir()), await hub.clientEnvWithCredentials(hub.user, 'not-the-password'));
    const e1 = await lsRemoteHttps(hub.url, { gitDir: join(a, '.git'), env: wrongEnv }).then(() => null, (e: Error) => e);
    expect(e1?.message).toMatch(/401/);
    expect(e1?.message).not.toContain('not-the-password');
    const noCa = { ...env, GIT_SSL_CAINFO: '' };
    const e2 = await lsRemoteHttps(hub.url, { gitDir: join(a, '.git'), env: noCa }).then(() => null, (e: Error) => e);
    expect(e2?.message).toMatch(/certificate/i);
    expect(e2?.message).not.toContain(hub.password);
  });
});

describe('deadline', () => {
  it('a hub that never answers is cut at the deadline, with a line that says so', async () => {
    const hung = await startHungHub();
    try {
      const e = await lsRemoteHttps(hung.url, { gitDir: null, env: { HOME: tempDir() }, deadlineAt: Date.now() + 300 }).then(() => null, (x: Error) => x);
      expect(e).toBeInstanceOf(HttpDeadlineError);
      expect(e?.message).toMatch(/deadline passed/);
    } finally {
      await hung.stop();
    }
  });
});
