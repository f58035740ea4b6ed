/**
 * Identity and trust with real git and real SSH signatures: keys outside
 * the repo, every commit signed, the hub trusted for ordering only.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

/** Signature status of every commit on the branch, checked by git itself against the repo's allowed_signers. */
function signatures(i: Instance, rev = 'HEAD'): string[] {
  return git(i.dir, ['log', '--format=%G? %an %s', rev], i.env).trim().split('\n');
}

/** Push a commit made outside agentgit straight to the hub (an attacker with push access). */
function pushRogue(hub: string, opts: { sign?: string; edit: (dir: string) => void; message: string }): string {
  const dir = join(tempDir(), 'rogue');
  const env = testEnv(tempDir());
  git(tempDir(), ['clone', '-q', hub, dir], env);
  opts.edit(dir);
  git(dir, ['add', '-A'], env);
  const cfg = opts.sign ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${opts.sign}`] : [];
  git(dir, ['-c', 'user.name=kevin/a', '-c', 'user.email=a@x', ...cfg, 'commit', '-q', ...(opts.sign ? ['-S'] : []), '-m', opts.message], env);
  git(dir, ['push', '-q', 'origin', 'main'], env);
  return git(dir, ['rev-parse', 'HEAD'], env).trim();
}

function newKey(): string {
  const k = join(tempDir(), 'k');
  expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', k]).status).toBe(0);
  return k;
}

/**
 * Every test runs on both engines (docs/engines.md): the git CLI and isomorphic-git,
 * chosen through AGENTGIT_ENGINE, which testEnv passes to every instance. The hubs
 * are file hubs (the https hub is covered by test/git/iso/fleet.test.ts); the
 * checks on the results (git verify-commit, git log %G?) use the git binary, so a
 * signature made by isomorphic-git is verified by git itself.
 */
const ENGINES = ['git', 'isomorphic-git'] as const;
function onEngine(engine: (typeof ENGINES)[number]): void {
  beforeAll(() => void (process.env.AGENTGIT_ENGINE = engine));
  afterAll(() => void delete process.env.AGENTGIT_ENGINE);
}

describe.each(ENGINES)('identity and trust (%s)', (engine) => {
  onEngine(engine);
  it('every commit made by init, sync and trust verifies with git verify-commit and --show-signature', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'memory/2026-11-25.md': '- 09:00 x\n' } });
    const b = await Instance.clone(hub, 'b');
    b.append('memory/2026-11-25.md', '- 09:10 b\n');
    a.append('memory/2026-11-25.md', '- 09:05 a\n');
    expect((await b.sync()).code).toBe(0);
    expect((await a.sync()).code).toBe(0); // a merge commit
    expect((await b.sync()).code).toBe(0);
    const sigs = signatures(b);
    expect(sigs.length).toBeGreaterThanOrEqual(5);
    for (const s of sigs) expect(s, s).toMatch(/^G /);
    expect(sigs.some((s) => /admit kevin\/b/.test(s))).toBe(true);
    expect(sigs.some((s) => /merge hub into/.test(s))).toBe(true);
    git(b.dir, ['verify-commit', 'HEAD'], b.env);
    expect(git(b.dir, ['log', '-1', '--show-signature'], b.env)).toMatch(/Good "git" signature for kevin\/a/);
    // keys live outside the repo, 0600, and only public keys are in it
    const keyDir = join(String(a.env.AGENTGIT_HOME), 'keys');
    const priv = readdirSync(keyDir).find((f) => f.endsWith('_ed25519'))!;
    expect((spawnSync('stat', ['-c', '%a', join(keyDir, priv)], { encoding: 'utf8' }).stdout ?? '').trim()).toBe('600');
    expect(a.read('.agentgit/allowed_signers')).toMatch(/^kevin\/a namespaces="git" ssh-ed25519 /m);
    expect(a.read('.agentgit/allowed_signers')).toMatch(/^kevin\/b namespaces="git" ssh-ed25519 /m);
  });

  it('an unsigned commit, one signed by an unadmitted key, and a forged allowed_signers change are refused by every instance; removing them lets sync go on', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'truth\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    const good = git(hub, ['rev-parse', 'main']).trim();
    const rogueKey = newKey();
    const cases = [
      { name: 'unsigned', why: /is not signed/, edit: (d: string) => writeFileSync(join(d, 'MEMORY.md'), 'lies\n') },
      { name: 'unadmitted key', sign: rogueKey, why: /not admitted as of its parents/, edit: (d: string) => writeFileSync(join(d, 'MEMORY.md'), 'lies\n') },
      {
        name: 'forged allowed_signers',
        sign: rogueKey,
        why: /not admitted as of its parents/,
        edit: (d: string) => writeFileSync(join(d, '.agentgit/allowed_signers'), readFileSync(join(d, '.agentgit/allowed_signers'), 'utf8') + `kevin/evil namespaces="git" ${readFileSync(rogueKey + '.pub', 'utf8').trim().split(' ').slice(0, 2).join(' ')}\n`),
      },
    ];
    for (const c of cases) {
      const bad = pushRogue(hub, { sign: c.sign, edit: c.edit, message: c.name });
      a.append('memory/2026-11-26.md', `- ${c.name}: local work\n`);
      for (const inst of [a, b]) {
        const r = await inst.sync();
        expect(r.code, `${c.name} on ${inst.name}: ${r.stderr}`).toBe(1);
        expect(r.stderr).toContain(bad.slice(0, 10));
        expect(r.stderr).toMatch(c.why);
        expect(r.stderr).toMatch(/Nothing from the hub was merged; local work is committed and kept/);
        expect(inst.read('MEMORY.md')).toBe('truth\n');
        expect(inst.read('.agentgit/allowed_signers')).not.toMatch(/evil/);
      }
      expect(a.git(['status', '--porcelain'])).toBe('');
      // the operator removes the bad commit from the hub
      git(hub, ['update-ref', 'refs/heads/main', good]);
      for (const inst of [a, b, a, b]) expect((await inst.sync()).code).toBe(0);
      expect(b.read('memory/2026-11-26.md')).toContain(`- ${c.name}: local work`);
    }
  });

  it('a removed key: its later commits are refused, its earlier ones stay valid', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const b = await Instance.clone(hub, 'b');
    b.write('from-b.md', 'early\n');
    expect((await b.sync()).code).toBe(0);
    expect((await a.sync()).code).toBe(0);
    const rm = await a.run(['trust', 'remove', 'kevin/b']);
    expect(rm.code, rm.stderr).toBe(0);
    expect((await a.run(['trust', 'list'])).stdout).not.toMatch(/kevin\/b/);
    // b has not seen the removal yet and writes: its commit's parents do not admit it once merged
    b.write('from-b.md', 'late\n');
    const rb = await b.sync();
    // b fetches the removal, merges, then is not admitted: it pushes nothing
    expect(rb.code).toBe(1);
    expect(rb.stderr).toMatch(/not admitted yet/);
    expect(git(hub, ['show', 'main:from-b.md'])).toBe('early\n');
    // a's history still verifies, including b's earlier commit
    const v = await a.run(['verify', '--json']);
    expect(JSON.parse(v.stdout).signatures).toEqual([]);
    // b's key signing straight to the hub is refused
    const bKey = git(b.dir, ['config', 'user.signingkey'], b.env).trim();
    const bad = pushRogue(hub, { sign: bKey, edit: (d) => writeFileSync(join(d, 'x.md'), 'b was here\n'), message: 'late b' });
    const ra = await a.sync();
    expect(ra.code).toBe(1);
    expect(ra.stderr).toContain(bad.slice(0, 10));
  });

  it('after many syncs across three instances no private key byte is in any object of the hub', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'memory/2026-11-25.md': '- 09:00 x\n' } });
    const b = await Instance.clone(hub, 'b');
    const c = await Instance.clone(hub, 'c');
    for (let r = 0; r < 3; r++) {
      for (const i of [a, b, c]) i.append('memory/2026-11-25.md', `- 1${r}:0${i.name.charCodeAt(0) % 10} ${i.name}\n`);
      await Promise.all([a, b, c].map((i) => i.sync(['--wait', '30'])));
    }
    for (const i of [a, b, c]) expect((await i.sync()).code).toBe(0);
    const all = spawnSync('git', ['cat-file', '--batch-all-objects', '--batch'], { cwd: hub, maxBuffer: 1 << 28 }).stdout as Buffer;
    expect(all.length).toBeGreaterThan(1000);
    for (const i of [a, b, c]) {
      const keyFile = git(i.dir, ['config', 'user.signingkey'], i.env).trim();
      const pem = readFileSync(keyFile, 'utf8');
      const body = Buffer.from(pem.split('\n').filter((l) => l && !l.startsWith('-----')).join(''), 'base64');
      // the ed25519 seed: 32 bytes inside the OpenSSH private block; look for any 24-byte window of the raw key
      for (let off = 0; off + 24 <= body.length; off += 24) expect(all.includes(body.subarray(off, off + 24))).toBe(false);
      expect(all.includes(Buffer.from('OPENSSH PRIVATE KEY'))).toBe(false);
    }
    const v = await a.run(['verify']);
    expect(v.code, v.stdout).toBe(0);
  });

  it('an instance moved to a new directory with identity export/import keeps signing as itself', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const file = join(tempDir(), 'a.key');
    const ex = await a.run(['identity', 'export', file]);
    expect(ex.code).toBe(0);
    expect(ex.stderr).toMatch(/PRIVATE signing key/);
    const show = JSON.parse((await a.run(['identity', 'show', '--json'])).stdout) as { fingerprint: string };
    // new machine: fresh AGENTGIT_HOME, same instance id
    const moved = await Instance.clone(hub, 'a', { admitBy: null });
    const im = await moved.run(['identity', 'import', file]);
    expect(im.code, im.stderr).toBe(0);
    expect(JSON.parse((await moved.run(['identity', 'show', '--json'])).stdout).fingerprint).toBe(show.fingerprint);
    moved.write('y.md', 'from the new machine\n');
    const r = await moved.sync();
    expect(r.code, r.stderr).toBe(0);
    expect(git(hub, ['log', '-1', '--format=%an', 'main'])).toContain('kevin/a');
    expect((await a.sync()).code).toBe(0);
    expect(a.read('y.md')).toBe('from the new machine\n');
  });

  it('an import killed between the moves of the pair (kill -9) is finished by the next sync or load; a mismatched pair is refused naming the file until imported again', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const file = join(tempDir(), 'a.key');
    expect((await a.run(['identity', 'export', file])).code).toBe(0);
    const want = (JSON.parse((await a.run(['identity', 'show', '--json'])).stdout) as { fingerprint: string }).fingerprint;
    const moved = await Instance.clone(hub, 'a', { admitBy: null });
    const priv = git(moved.dir, ['config', 'user.signingkey'], moved.env).trim();
    const derived = (): string => spawnSync('ssh-keygen', ['-y', '-f', priv], { encoding: 'utf8' }).stdout.trim().split(' ').slice(0, 2).join(' ');
    const published = (): string => readFileSync(`${priv}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const ownPub = published();
    // killed with the new public key in place and the new private key not yet: the old private key is still there
    const killed = await agentgit(['identity', 'import', file], { env: { ...moved.env, AGENTGIT_FAILPOINT: 'key-swap' }, cwd: moved.dir });
    expect(killed.stderr).toMatch(/agentgit: failpoint key-swap: kill/);
    expect(killed.code).not.toBe(0);
    expect(derived()).not.toBe(published());
    expect(readdirSync(join(priv, '..'))).toContain(`${basename(priv)}.swap`);
    // the next sync finishes the pair before it signs: its commit is the imported key's, which every instance accepts
    moved.write('y.md', 'after the cut-short import\n');
    const r = await moved.sync();
    expect(r.code, r.stderr).toBe(0);
    expect(derived()).toBe(published());
    expect((await a.sync()).code).toBe(0);
    expect(a.read('y.md')).toBe('after the cut-short import\n');
    const show = await moved.run(['identity', 'show', '--json']);
    expect(show.code, show.stderr).toBe(0);
    expect((JSON.parse(show.stdout) as { fingerprint: string }).fingerprint).toBe(want);
    expect(derived()).toBe(published());
    // the killed import's lock is left (a dead holder's: taken over by the next writer)
    expect(readdirSync(join(priv, '..')).filter((f) => f.startsWith(basename(priv)) && !f.endsWith('.lock')).sort()).toEqual([basename(priv), `${basename(priv)}.pub`]);
    // a pair that does not match (an older version's import cut short, a hand edit): one line naming the file and the fix
    writeFileSync(`${priv}.pub`, `${ownPub} kevin/a\n`);
    const bad = await moved.run(['identity', 'show']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain(`${priv}.pub is not the public half of ${priv} (a key replacement cut short?); run \`agentgit identity import ${priv}\` to write its public half again`);
    // importing the private key again writes its public half
    const fixed = await moved.run(['identity', 'import', priv]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(derived()).toBe(published());
    expect((JSON.parse((await moved.run(['identity', 'show', '--json'])).stdout) as { fingerprint: string }).fingerprint).toBe(want);
  });

  it('open enrollment: --trust-self is refused unless the policy allows it, then admits exactly its own key', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const dir = join(tempDir(), 'self');
    const env = testEnv(tempDir());
    const no = await agentgit(['clone', hub, dir, '--instance', 'self', '--trust-self'], { env });
    expect(no.code).toBe(2);
    expect(no.stderr).toMatch(/--trust-self is refused: this state does not allow open enrollment/);
    // the operator turns it on (a signed change by an admitted instance)
    a.updateJson<{ trust?: object }>('.agentgit/config.json', (v) => ({ ...v, trust: { openEnrollment: true } }));
    expect((await a.sync()).code).toBe(0);
    const dir2 = join(tempDir(), 'self2');
    mkdirSync(dir2);
    const yes = await agentgit(['clone', hub, dir2, '--instance', 'self2', '--trust-self'], { env });
    expect(yes.code, yes.stderr).toBe(0);
    expect(git(hub, ['show', 'main:.agentgit/allowed_signers'])).toMatch(/^kevin\/self2 /m);
    expect((await a.sync()).code).toBe(0);
    expect(a.read('.agentgit/allowed_signers')).toMatch(/^kevin\/self2 /m);
  });
});

describe.each(ENGINES)('admission under the intersection rule (%s)', (engine) => {
  onEngine(engine);
  it('an instance admitted on the hub while it holds unpushed merges folds its work and every instance accepts it', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'memory/2026-11-25.md': '- 09:00 a\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    const c = await Instance.clone(hub, 'c', { admitBy: null });
    c.append('memory/2026-11-25.md', '- 09:30 c before admission\n');
    const early = await c.sync();
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/not admitted yet/);
    // the hub moves on while c waits: b writes, c merges it locally (an unpushed merge)
    b.append('memory/2026-11-25.md', '- 09:40 b\n');
    expect((await b.sync()).code).toBe(0);
    c.append('memory/2026-11-25.md', '- 09:45 c still waiting\n');
    expect((await c.sync()).code).toBe(1);
    // admitted on one side only: the admission commit is on the hub, c's merges are not
    const line = JSON.parse((await c.run(['identity', 'show', '--json'])).stdout).allowedSigners as string;
    await a.admit(line);
    expect((await a.sync()).code).toBe(0);
    c.append('memory/2026-11-25.md', '- 10:00 c admitted\n');
    const r = await c.sync();
    expect(r.code, r.stderr).toBe(0);
    for (const i of [a, b, c, a, b]) expect((await i.sync()).code).toBe(0);
    for (const i of [a, b, c]) {
      const v = await i.run(['verify', '--json']);
      expect(JSON.parse(v.stdout).signatures, `${i.name}: ${v.stdout}`).toEqual([]);
      expect(i.read('memory/2026-11-25.md')).toMatch(/09:30 c before admission[\s\S]*/);
      for (const s of signatures(i)) expect(s, s).toMatch(/^G /);
    }
    expect(a.read('memory/2026-11-25.md')).toBe(c.read('memory/2026-11-25.md'));
    expect(a.read('memory/2026-11-25.md')).toContain('- 09:45 c still waiting\n');
  });
});
