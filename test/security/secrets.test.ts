/**
 * Issue #11, part C: secrets never reach the hub, whatever route they take.
 * Real git, a real bare hub, the real CLI. Every key and token here is a
 * FAKE made by the test (ssh-keygen, node:crypto, random characters).
 *
 * Each route: sync exits 1, the hub's branch does not move, no object on
 * the hub holds the secret, the message names the commit and path and
 * never the secret.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecret, findSecretIn, redactCredentials, redactSecrets } from '../../src/sync/secrets.js';
import { agentgit, cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

/** A fake OpenSSH private key, and its distinctive body line (what must never appear anywhere). */
function fakeSshKey(): { text: string; body: string } {
  const d = tempDir('agentgit-fake-key-');
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fake', '-f', join(d, 'k')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  const text = readFileSync(join(d, 'k'), 'utf8');
  return { text, body: text.split('\n')[2]! };
}

/** A fake GitHub token: the right shape, random characters. */
function fakeToken(): string {
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return 'ghp_' + [...randomBytes(36)].map((b) => alnum[b % alnum.length]).join('');
}

function hubMain(hub: string): string | null {
  const r = spawnSync('git', ['rev-parse', '-q', '--verify', 'refs/heads/main'], { cwd: hub, encoding: 'utf8', env: testEnv(hub) });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Every object the hub stores, as text (to look for a secret in any form we know). */
function hubObjects(hub: string): string {
  const r = spawnSync('git', ['cat-file', '--batch-all-objects', '--batch', '--unordered'], { cwd: hub, env: testEnv(hub), maxBuffer: 1 << 28 });
  return r.stdout.toString('latin1');
}

function expectNowhere(where: string, secrets: string[]): void {
  for (const s of secrets) expect(where.includes(s), `secret found in: ${where.slice(0, 400)}`).toBe(false);
}

describe('the detector (sync/secrets.ts)', () => {
  const key = fakeSshKey();
  const tok = fakeToken();
  const { privateKey: pkcs8 } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

  it.each([
    ['an OpenSSH key', key.text],
    ['a PKCS#8 key with CRLF', pkcs8.replace(/\n/g, '\r\n')],
    ['two spaces and a tab in the armor', key.text.replace('BEGIN OPENSSH PRIVATE', 'BEGIN  OPENSSH\tPRIVATE')],
    ['lower case armor', key.text.replace('BEGIN OPENSSH PRIVATE KEY', 'begin openssh private key')],
    ['JSON \\u escapes', JSON.stringify({ k: key.text }).replace(/-/g, '\\u002d')],
    ['JSON escaped twice', JSON.stringify(JSON.stringify({ k: key.text.replace(/-/g, '\\u002d') }))],
    ['base64, one line', `x=${Buffer.from(pkcs8).toString('base64')}`],
    ['base64, wrapped at 76', Buffer.from(key.text).toString('base64').replace(/(.{76})/g, '$1\n')],
    ['base64 in JSON with escaped newlines', JSON.stringify({ pem: Buffer.from(key.text).toString('base64').replace(/(.{64})/g, '$1\n') })],
    ['base64url', Buffer.from(key.text).toString('base64url')],
    ['a token glued to other text', `x_${tok}_y`],
    ['a token in a path', `notes/${tok}.txt`],
    ['a GitLab token', 'glpat-' + 'aB3dE6gH9jK2mN5pQ8sT'],
    ['an Anthropic key', 'sk-ant-api03-' + 'aB3dE6gH9jK2mN5pQ8sTuvwxyz'],
    ['an AWS key id', 'AKIA' + 'ABCDEFGHIJKLMNOP'],
  ])('finds %s', (_what, text) => {
    expect(findSecretIn(text)).not.toBeNull();
    expect(findSecret(Buffer.from(text, 'latin1'))).not.toBeNull();
  });

  it.each([
    ['prose about keys', 'Store the BEGIN OPENSSH PRIVATE KEY file in ~/.ssh, never in memory/.'],
    ['a public key', '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n'],
    ['an allowed_signers line', 'kevin/a namespaces="git" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq3vJbXKp0jZmNvb3Jk0c2Fsd2F5c3RoZXNhbWVrZXk=\n'],
    ['commit ids', Array.from({ length: 50 }, (_, i) => `${i.toString(16).padStart(2, '0')}${'ab12cd34ef'.repeat(4).slice(2)}`).join('\n')],
    ['JSON with ordinary escapes', JSON.stringify({ note: 'line one\nline "two" \u00e9t\u00e9' })],
    ['a long line of dashes (linear time)', '-'.repeat(200_000) + ' BEGIN'],
  ])('passes %s', (_what, text) => {
    expect(findSecretIn(text)).toBeNull();
  });

  it('finds a base64-wrapped key after prose and other base64 runs, at every alignment (the run search skips ahead)', () => {
    const b64 = Buffer.from(pkcs8).toString('base64');
    const prose = 'The agent wrote a note about the deploy. ';
    for (let k = 0; k < 30; k++) {
      // a harmless run of k base64 characters (23, 24, 25 among them) glued before, and a
      // harmless long run (a commit id, a hash) before that: each alignment of the window
      const text = `${prose.repeat(3)}sha256:${'f3a9'.repeat(16)} then ${'Zq+/'.repeat(8).slice(0, k)} ${prose}key=${b64}`;
      expect(findSecretIn(text), `k=${k}`).not.toBeNull();
      expect(findSecretIn(text.replace(`key=${b64}`, 'key=none')), `k=${k}`).toBeNull();
      // the key's run glued to a short run before it (one run of k + its length)
      expect(findSecretIn(`${prose}${'Zq'.repeat(k)}\n${b64}`), `k=${k} glued`).not.toBeNull();
    }
  });

  it('redaction keeps the message and drops the secret', () => {
    expect(redactSecrets(`push to https://${tok}@github.com/x.git failed; key ${key.text.trimEnd()} end`)).toBe('push to https://***@github.com/x.git failed; key *** end');
    expect(redactSecrets('ssh://git@host/x.git and git@github.com:me/x.git')).toBe('ssh://git@host/x.git and git@github.com:me/x.git');
    expect(redactCredentials('db: password=hunter2 api_key: "abc123" Authorization: Bearer abcdefghijklmnop')).toBe('db: password=*** api_key: "***" Authorization: Bearer ***');
  });
});

describe('the pre-push scan: every route a secret can take to the hub', () => {
  let hub: string;
  let a: Instance;
  let start: string;

  beforeAll(async () => {
    hub = makeBareHub();
    a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'm\n', 'mission-control/tasks.json': '{\n  "tasks": []\n}\n' } });
    start = hubMain(hub)!;
    expect(start).toMatch(/^[0-9a-f]{40}$/);
  });

  /** Sync must refuse: exit 1, nothing pushed, no secret anywhere; then undo the commits to the hub's head. */
  async function expectRefused(secrets: string[], names: string[]): Promise<string> {
    const before = hubMain(hub);
    const r = await a.sync();
    const said = r.stdout + r.stderr;
    expect(r.code, said).toBe(1);
    expect(said).toMatch(/refused to push/);
    for (const n of names) expect(said).toContain(n);
    expectNowhere(said, secrets);
    expect(hubMain(hub)).toBe(before);
    expectNowhere(hubObjects(hub), secrets);
    // status (text and --json) does not repeat it either
    const st = await a.run(['status', '--json']);
    expectNowhere(st.stdout + st.stderr, secrets);
    return said;
  }

  function commitByHand(files: Record<string, string>, message = 'by hand', addArgs: string[] = []): string {
    for (const [p, c] of Object.entries(files)) a.write(p, c);
    a.git(['add', ...addArgs, ...Object.keys(files)]);
    a.git(['commit', '-q', '--no-verify', '-m', message]);
    return a.git(['rev-parse', 'HEAD']).trim();
  }

  function undo(): void {
    a.git(['reset', '-q', '--hard', hubMain(hub)!]);
    a.git(['clean', '-q', '-fdx', '-e', '.agentgit/clocks']);
  }

  it('a key committed with --no-verify: refused; the advice (git reset to the hub, remove the file) then syncs', async () => {
    const key = fakeSshKey();
    const c = commitByHand({ 'notes/deploy.txt': key.text, 'notes/ok.md': 'fine\n' });
    const said = await expectRefused([key.body], [c.slice(0, 10), 'notes/deploy.txt', 'private key']);
    const hubHead = /git reset ([0-9a-f]{10})/.exec(said)?.[1];
    expect(hubHead).toBe(hubMain(hub)!.slice(0, 10));
    // the advice, as an operator would follow it
    a.git(['reset', '-q', hubHead!]);
    rmSync(a.path('notes/deploy.txt'));
    const ok = await a.sync();
    expect(ok.code, ok.stderr).toBe(0);
    expect(a.git(['show', `${hubMain(hub)}:notes/ok.md`])).toBe('fine\n');
    expectNowhere(hubObjects(hub), [key.body]);
  });

  it('a `git push` by hand: the pre-push hook runs the same scan (refused, nothing sent); a clean push goes through', async () => {
    const key = fakeSshKey();
    const c = commitByHand({ 'notes/by-hand.txt': key.text });
    const remote = a.git(['remote']).trim().split('\n')[0]!;
    const before = hubMain(hub);
    const push = (): ReturnType<typeof spawnSync> => spawnSync('git', ['push', '-q', remote, 'HEAD:main'], { cwd: a.dir, env: a.env, encoding: 'utf8' });
    const r = push();
    expect(r.status, String(r.stderr)).not.toBe(0);
    expect(String(r.stderr)).toContain(c.slice(0, 10));
    expect(String(r.stderr)).toContain('notes/by-hand.txt');
    expectNowhere(String(r.stdout) + String(r.stderr), [key.body]);
    expect(hubMain(hub)).toBe(before);
    expectNowhere(hubObjects(hub), [key.body]);
    undo();
    commitByHand({ 'notes/clean.md': 'nothing secret\n' });
    const ok = push();
    expect(ok.status, String(ok.stderr)).toBe(0);
    expect(a.git(['show', `${hubMain(hub)}:notes/clean.md`])).toBe('nothing secret\n');
  });

  it('a key committed on a side branch and cherry-picked', async () => {
    const key = fakeSshKey();
    a.git(['switch', '-q', '-c', 'side']);
    commitByHand({ 'notes/picked.txt': key.text });
    a.git(['switch', '-q', 'main']);
    a.git(['cherry-pick', 'side']);
    a.git(['branch', '-q', '-D', 'side']);
    const c = a.git(['rev-parse', 'HEAD']).trim();
    await expectRefused([key.body], [c.slice(0, 10), 'notes/picked.txt']);
    undo();
  });

  it('a key applied from a patch with git am', async () => {
    const key = fakeSshKey();
    a.git(['switch', '-q', '-c', 'side']);
    commitByHand({ 'notes/mailed.txt': key.text });
    const patch = join(tempDir(), 'p.patch');
    writeFileSync(patch, a.git(['format-patch', '-1', '--stdout', 'HEAD']));
    a.git(['switch', '-q', 'main']);
    a.git(['branch', '-q', '-D', 'side']);
    a.git(['am', '-q', patch]);
    await expectRefused([key.body], ['notes/mailed.txt']);
    undo();
  });

  it('a local-layer file staged by hand (git add -f .env), even with harmless content', async () => {
    const c = commitByHand({ '.env': 'DEBUG=1\n' }, 'env', ['-f']);
    await expectRefused([], [c.slice(0, 10), '.env']);
    undo();
  });

  it('a key written with JSON \\u escapes', async () => {
    const key = fakeSshKey();
    const escaped = JSON.stringify({ tasks: [], deployKey: key.text }, null, 2).replace(/-/g, '\\u002d');
    expect(escaped).not.toContain('-----BEGIN');
    commitByHand({ 'mission-control/tasks.json': escaped + '\n' });
    await expectRefused([key.body], ['mission-control/tasks.json', 'private key']);
    undo();
  });

  it('a base64-wrapped PEM key', async () => {
    const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const b64 = Buffer.from(privateKey).toString('base64').replace(/(.{76})/g, '$1\n');
    commitByHand({ 'notes/blob.txt': `key material:\n${b64}\n` });
    await expectRefused([b64.split('\n')[0]!, privateKey.split('\n')[1]!], ['notes/blob.txt', 'base64']);
    undo();
  });

  it('BEGIN  OPENSSH with two spaces (and CRLF)', async () => {
    const key = fakeSshKey();
    commitByHand({ 'notes/spaced.txt': key.text.replace('BEGIN OPENSSH', 'BEGIN  OPENSSH').replace(/\n/g, '\r\n') });
    await expectRefused([key.body], ['notes/spaced.txt']);
    undo();
  });

  it('a token used as a file name: the message redacts it', async () => {
    const tok = fakeToken();
    const c = commitByHand({ [`notes/${tok}.txt`]: 'nothing here\n' });
    const said = await expectRefused([tok], [c.slice(0, 10), 'file name']);
    expect(said).toContain('notes/***.txt');
    undo();
  });

  it('a token in a commit message', async () => {
    const tok = fakeToken();
    const c = commitByHand({ 'notes/innocent.md': 'innocent\n' }, `deploy with ${tok}`);
    await expectRefused([tok], [c.slice(0, 10), 'message']);
    undo();
  });

  it('a token in a clock file: no exemption', async () => {
    const tok = fakeToken();
    const clocks = a.git(['ls-files', '.agentgit/clocks']).split('\n').filter(Boolean);
    const path = clocks[0] ?? '.agentgit/clocks/mission-control/tasks.json';
    commitByHand({ [path]: JSON.stringify({ '/tasks': `0000000000001-0000-a ${tok}` }) + '\n' });
    await expectRefused([tok], [path]);
    undo();
  });

  it('a key committed by hand while another instance pushed: the merge round still refuses, every round, and caches nothing', async () => {
    const b = await Instance.clone(hub, 'b');
    const key = fakeSshKey();
    const c = commitByHand({ 'notes/behind-merge.txt': key.text });
    b.write('notes/from-b.md', 'b\n');
    expect((await b.sync()).code).toBe(0);
    await expectRefused([key.body], [c.slice(0, 10), 'notes/behind-merge.txt']);
    expect(a.git(['log', '-1', '--format=%s'])).toMatch(/^agentgit: merge hub into a/); // merged locally, not pushed
    await expectRefused([key.body], [c.slice(0, 10)]); // the next round too
    expect(readFileSync(a.path('.git/agentgit/scanned'), 'utf8')).not.toContain(c);
    undo();
    expect((await a.sync()).code).toBe(0);
    const head = a.git(['rev-parse', 'HEAD']).trim();
    expect(readFileSync(a.path('.git/agentgit/scanned'), 'utf8').split('\n')).not.toContain(c);
    expect(hubMain(hub)).toBe(head);
  });

  it('a work-tree key written by the agent is held by the guard (JSON-escaped), nothing pushed', async () => {
    const key = fakeSshKey();
    const before = hubMain(hub);
    a.write('mission-control/tasks.json', JSON.stringify({ tasks: [{ note: key.text }] }).replace(/-/g, '\\u002d') + '\n');
    const r = await a.sync();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('held mission-control/tasks.json');
    expectNowhere(r.stdout + r.stderr, [key.body]);
    expect(hubMain(hub)).toBe(before);
    expectNowhere(hubObjects(hub), [key.body]);
    a.git(['checkout', '--', 'mission-control/tasks.json']);
    expect((await a.sync()).code).toBe(0);
  });

  it('a file named with a token, written by the agent: held, its name redacted in every message', async () => {
    const tok = fakeToken();
    const before = hubMain(hub);
    a.write(`notes/${tok}.md`, 'harmless\n');
    const r = await a.sync();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('held notes/***.md: the file name looks like a GitHub token');
    expectNowhere(r.stdout + r.stderr, [tok]);
    const j = await a.sync(['--json']);
    expectNowhere(j.stdout + j.stderr, [tok]);
    const st = await a.run(['status']);
    expect(st.stdout).toContain('notes/***.md');
    expectNowhere(st.stdout + st.stderr, [tok]);
    expect(hubMain(hub)).toBe(before);
    expectNowhere(hubObjects(hub), [tok]);
    rmSync(a.path(`notes/${tok}.md`));
    expect((await a.sync()).code).toBe(0);
  });

  it('the held-log message names the path and the reason, never the removed entry', async () => {
    const secretish = `password hunter2-${randomBytes(6).toString('hex')}`;
    a.write('memory/2026-01-01.md', `- 09:00 ${secretish}\n- 09:05 other\n`);
    expect((await a.sync()).code).toBe(0); // not a recognised secret: it syncs
    a.write('memory/2026-01-01.md', '- 09:05 other\n- 10:00 new\n');
    const r = await a.sync();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('held memory/2026-01-01.md');
    expect(r.stderr).toMatch(/1 committed entry was removed/);
    expect(r.stderr).not.toContain('hunter2');
    const st = await a.run(['status', '--json']);
    expect(st.stdout).not.toContain('hunter2');
    a.git(['checkout', '--', 'memory/2026-01-01.md']);
    expect((await a.sync()).code).toBe(0);
  });
});

describe('adopted history', () => {
  it('a key committed, then deleted, in history adopted by init: the first push to an empty hub is refused', async () => {
    const hub = makeBareHub();
    const key = fakeSshKey();
    const home = tempDir('agentgit-adopt-home-');
    const dir = join(tempDir('agentgit-adopt-'), 'state');
    mkdirSync(join(dir, 'notes'), { recursive: true });
    const env = testEnv(home, { GIT_AUTHOR_NAME: 'p', GIT_AUTHOR_EMAIL: 'p@x', GIT_COMMITTER_NAME: 'p', GIT_COMMITTER_EMAIL: 'p@x' });
    git(dir, ['init', '-q', '-b', 'main'], env);
    writeFileSync(join(dir, 'notes/old-key.txt'), key.text);
    writeFileSync(join(dir, 'MEMORY.md'), 'm\n');
    git(dir, ['add', '.'], env);
    git(dir, ['commit', '-q', '-m', 'first'], env);
    const bad = git(dir, ['rev-parse', 'HEAD'], env).trim();
    git(dir, ['rm', '-q', 'notes/old-key.txt'], env);
    git(dir, ['commit', '-q', '-m', 'oops, removed'], env);
    const r = await agentgit(['init', '-C', dir, '--remote', hub, '--agent', 'kevin', '--instance', 'adopt'], { env: testEnv(home) });
    const said = r.stdout + r.stderr;
    expect(r.code, said).toBe(1);
    expect(said).toContain(bad.slice(0, 10));
    expect(said).toContain('notes/old-key.txt');
    expect(said).toMatch(/rebase -i --root|filter-repo/);
    expectNowhere(said, [key.body]);
    expect(hubMain(hub)).toBeNull();
    expectNowhere(hubObjects(hub), [key.body]);
    // local work stays committed
    expect(git(dir, ['log', '--format=%s'], env)).toContain('oops, removed');
  });
});

describe('derived-state rebuild', () => {
  it("rebuild stderr with a token reaches neither the heartbeat on the hub nor status", async () => {
    const tok = fakeToken();
    const hub = makeBareHub();
    const policy = JSON.stringify({ version: 1, health: { heartbeatSeconds: 0 }, rebuild: { command: ['sh', '-c', 'echo "login failed with $FAKE_TOKEN" >&2; exit 3'], paths: ['memory/'] } }, null, 2) + '\n';
    const a = await Instance.init(hub, 'a', { files: { '.agentgit/config.json': policy, 'MEMORY.md': 'm\n' }, extraEnv: { FAKE_TOKEN: tok } });
    const r = await a.run(['rebuild']);
    expect(r.code).not.toBe(0);
    expectNowhere(r.stdout + r.stderr, [tok]);
    a.write('memory/2026-01-02.md', '- 09:00 x\n');
    expect((await a.sync()).code).toBe(0); // publishes a heartbeat carrying the rebuild failure
    const st = await a.run(['status', '--json']);
    expect(st.stdout).toMatch(/exited with status 3: login failed with \*\*\*/);
    expectNowhere(st.stdout, [tok]);
    const refs = git(hub, ['for-each-ref', '--format=%(refname)', 'refs/agentgit/'], testEnv(hub));
    expect(refs).toContain('refs/agentgit/instances/');
    expectNowhere(hubObjects(hub), [tok]);
    expect(hubObjects(hub)).toContain('login failed with ***');
  });
});
