/**
 * Hostile histories against identity (issue #11, part B), each built with
 * plain git and signed by keys the test instances really hold, each refused
 * by an honest `agentgit sync`: nothing merged, nothing pushed onward, and
 * the message names the commit, its signer and the reason.
 * - a removed key undoing its removal through a merge (or a rewound hub);
 * - a commit header git reads differently from a naive parser (uppercase parent);
 * - one instance's key signing a commit authored as another;
 * - heartbeats that do not verify (a ghost looking healthy).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EMPTY_TREE, withSignature } from '../../src/git/objects.js';
import { parseSigningKey, signSshsig } from '../../src/identity/sshsig.js';
import { cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const keyOf = (i: Instance): string => git(i.dir, ['config', 'user.signingkey'], i.env).trim();

/** A plain clone of the hub to build hostile history in (an attacker holding `key`). */
function rogueClone(hub: string): { dir: string; env: NodeJS.ProcessEnv; g: (args: string[], input?: string) => string } {
  const dir = join(tempDir(), 'rogue');
  const env = testEnv(tempDir());
  git(tempDir(), ['clone', '-q', hub, dir], env);
  const g = (args: string[], input?: string): string => {
    const r = spawnSync('git', args, { cwd: dir, env, input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  return { dir, env, g };
}

const as = (principal: string, key: string): string[] => ['-c', `user.name=${principal}`, '-c', `user.email=${principal.split('/')[1]}@x`, '-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`];

/** Sign a literal commit body with an instance's key, write it as is. */
function literalSigned(g: (args: string[], input?: string) => string, dir: string, key: string, payload: string): string {
  const k = parseSigningKey(readFileSync(key, 'utf8'))!;
  const file = join(dir, '..', 'commit.obj');
  writeFileSync(file, withSignature(payload, signSshsig(payload, k)));
  return g(['hash-object', '-t', 'commit', '--literally', '-w', file]);
}

async function expectRefused(i: Instance, hub: string, bad: string, signer: RegExp, why: RegExp): Promise<void> {
  const before = i.git(['rev-parse', 'HEAD']).trim();
  const hubBefore = git(hub, ['rev-parse', 'main']).trim();
  const r = await i.sync();
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toContain(bad.slice(0, 10));
  expect(r.stderr).toMatch(signer);
  expect(r.stderr).toMatch(why);
  expect(r.stderr).toMatch(/Nothing from the hub was merged/);
  // nothing merged, nothing pushed onward
  expect(spawnSync('git', ['merge-base', '--is-ancestor', bad, 'HEAD'], { cwd: i.dir, env: i.env }).status).not.toBe(0);
  expect(git(hub, ['rev-parse', 'main']).trim()).toBe(hubBefore);
  expect(i.git(['rev-parse', 'HEAD']).trim()).toBe(before);
}

describe('hostile identity histories', () => {
  it('a removed key cannot undo its removal: not by a merge whose tree re-adds it, not on a rewound hub, not after an admitted commit re-adds it', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'truth\n' } });
    const b = await Instance.clone(hub, 'b');
    b.write('from-b.md', 'early\n');
    expect((await b.sync()).code).toBe(0);
    expect((await a.sync()).code).toBe(0);
    const beforeRemoval = git(hub, ['rev-parse', 'main']).trim();
    expect((await a.run(['trust', 'remove', 'kevin/b'])).code).toBe(0);
    expect((await a.sync()).code).toBe(0);
    const removal = git(hub, ['rev-parse', 'main']).trim();
    const bKey = keyOf(b);

    // 1. b's key: a side branch from before the removal, merged with the hub head, the merge keeping b's line
    const r = rogueClone(hub);
    r.g(['checkout', '-q', '-b', 'side', beforeRemoval]);
    writeFileSync(join(r.dir, 'MEMORY.md'), 'lies\n');
    r.g(['add', '-A']);
    r.g([...as('kevin/b', bKey), 'commit', '-q', '-S', '-m', 'side']);
    r.g([...as('kevin/b', bKey), 'merge', '-q', '-S', '-s', 'ours', '-m', 'merge', 'main']);
    expect(readFileSync(join(r.dir, '.agentgit/allowed_signers'), 'utf8')).toMatch(/^kevin\/b /m);
    const merge = r.g(['rev-parse', 'HEAD']);
    r.g(['push', '-q', 'origin', 'side:main']);
    await expectRefused(a, hub, merge, /kevin\/b/, /removed at|not admitted as of every one of its parents/);
    expect(a.read('MEMORY.md')).toBe('truth\n');
    expect(a.read('.agentgit/allowed_signers')).not.toMatch(/^kevin\/b /m);

    // 2. the hub rewound to before the removal, with a commit of b's on top
    const r2 = rogueClone(hub);
    r2.g(['reset', '-q', '--hard', beforeRemoval]);
    writeFileSync(join(r2.dir, 'MEMORY.md'), 'lies\n');
    r2.g(['add', '-A']);
    r2.g([...as('kevin/b', bKey), 'commit', '-q', '-S', '-m', 'rewound']);
    const rewound = r2.g(['rev-parse', 'HEAD']);
    r2.g(['push', '-q', '-f', 'origin', 'HEAD:main']);
    await expectRefused(a, hub, rewound, /kevin\/b/, new RegExp(`removed at ${removal.slice(0, 10)}`));

    // 3. an admitted key (a's, used carelessly) re-adds b's line; b's later commit is still refused
    git(hub, ['update-ref', 'refs/heads/main', removal]);
    expect((await a.sync()).code).toBe(0);
    const r3 = rogueClone(hub);
    const bLine = (readFileSync(join(r.dir, '.agentgit/allowed_signers'), 'utf8').split('\n').find((l) => l.startsWith('kevin/b ')) ?? '') + '\n';
    writeFileSync(join(r3.dir, '.agentgit/allowed_signers'), readFileSync(join(r3.dir, '.agentgit/allowed_signers'), 'utf8') + bLine);
    r3.g(['add', '-A']);
    r3.g([...as('kevin/a', keyOf(a)), 'commit', '-q', '-S', '-m', 're-add b']);
    r3.g(['push', '-q', 'origin', 'HEAD:main']);
    const reAdded = r3.g(['rev-parse', 'HEAD']);
    expect((await a.sync()).code).toBe(0); // signed by an admitted key: accepted, but b stays revoked
    // b itself, seeing its line back, still knows it is removed: it pushes nothing the others would refuse
    b.write('from-b.md', 'late\n');
    const rb = await b.sync();
    expect(rb.code, rb.stderr).toBe(1);
    expect(rb.stderr).toMatch(/not admitted/);
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(reAdded);
    writeFileSync(join(r3.dir, 'MEMORY.md'), 'lies\n');
    r3.g(['add', '-A']);
    r3.g([...as('kevin/b', bKey), 'commit', '-q', '-S', '-m', 'b again']);
    const again = r3.g(['rev-parse', 'HEAD']);
    r3.g(['push', '-q', 'origin', 'HEAD:main']);
    await expectRefused(a, hub, again, /kevin\/b/, /removed at/);
    // and trust add of the removed key is refused with what to do instead
    const t = await a.run(['trust', 'add', bLine.trim()]);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/was removed at commit [0-9a-f]{10}.*make a new key/);

    // b's earlier commit stays valid: with the hub repaired, history verifies
    git(hub, ['update-ref', 'refs/heads/main', removal]);
    expect((await a.sync()).code).toBe(0);
    const v = await a.run(['verify', '--json']);
    expect(JSON.parse(v.stdout).signatures, v.stdout).toEqual([]);
    expect(a.read('from-b.md')).toBe('early\n');
  });

  it('a signed merge hiding an unsigned commit behind an uppercase parent id is refused (git follows the parent; the walk does not decide)', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'truth\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    expect((await a.sync()).code).toBe(0); // a has seen the hub head: the next round can use the in-process walk
    const head = git(hub, ['rev-parse', 'main']).trim();
    const r = rogueClone(hub);
    writeFileSync(join(r.dir, 'MEMORY.md'), 'lies\n');
    r.g(['add', '-A']);
    r.g(['-c', 'user.name=kevin/b', '-c', 'user.email=b@x', 'commit', '-q', '-m', 'unsigned']);
    const hidden = r.g(['rev-parse', 'HEAD']);
    const tree = r.g(['rev-parse', 'HEAD^{tree}']);
    const stamp = 'kevin/b <b@kevin.agentgit.invalid> 1764028800 +0000';
    const merge = literalSigned(r.g, r.dir, keyOf(b), `tree ${tree}\nparent ${head}\nparent ${hidden.toUpperCase()}\nauthor ${stamp}\ncommitter ${stamp}\n\nagentgit: merge\n`);
    r.g(['update-ref', 'refs/heads/main', merge]);
    r.g(['push', '-q', 'origin', 'main']);
    // git itself reads both parents
    expect(git(hub, ['log', '-1', '--format=%P', 'main']).trim()).toBe(`${head} ${hidden}`);
    await expectRefused(a, hub, hidden, /not signed/, /not signed/);
    const again = await a.sync();
    expect(again.stderr).toContain(merge.slice(0, 10));
    expect(again.stderr).toMatch(/header is not one git and agentgit read alike/);
    expect(again.stderr).toMatch(/signed by kevin\/b|by "kevin\/b"/);
    expect(a.read('MEMORY.md')).toBe('truth\n');
    // a `parent` line after the committer line: git ignores it, a naive parser follows it; refused, never guessed
    git(hub, ['update-ref', 'refs/heads/main', head]);
    const late = literalSigned(r.g, r.dir, keyOf(b), `tree ${tree}\nparent ${head}\nauthor ${stamp}\ncommitter ${stamp}\nparent ${hidden}\n\nagentgit: late parent\n`);
    r.g(['push', '-q', '-f', 'origin', `${late}:refs/heads/main`]);
    expect(git(hub, ['log', '-1', '--format=%P', 'main']).trim()).toBe(head);
    await expectRefused(a, hub, late, /a signature by kevin\/b/, /header is not one git and agentgit read alike/);
    expect(a.read('MEMORY.md')).toBe('truth\n');
  });

  it("one instance's key signing a commit authored as another is refused; verify and log name the real signer", async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'memory/log.md': '- 09:00 one\n- 09:01 two\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    expect((await a.sync()).code).toBe(0);
    const r = rogueClone(hub);
    writeFileSync(join(r.dir, 'memory/log.md'), '- 09:00 one\n');
    r.g(['add', '-A']);
    r.g([...as('kevin/a', keyOf(b)), 'commit', '-q', '-S', '-m', 'truncate, blaming a']);
    const bad = r.g(['rev-parse', 'HEAD']);
    r.g(['push', '-q', 'origin', 'main']);
    await expectRefused(a, hub, bad, /signed by the key of kevin\/b/, /authored as "kevin\/a"/);
    expect(a.read('memory/log.md')).toBe('- 09:00 one\n- 09:01 two\n');
    // had it entered history anyway (moved by hand), verify and log show who really signed it
    a.git(['fetch', '-q', 'origin']);
    a.git(['reset', '-q', '--hard', bad]);
    const v = JSON.parse((await a.run(['verify', '--json'])).stdout) as { signatures: { commit: string; author: string; signer: string; reason: string }[] };
    expect(v.signatures).toEqual([expect.objectContaining({ commit: bad, author: 'kevin/a', signer: 'kevin/b' })]);
    const log = JSON.parse((await a.run(['log', '--json'])).stdout) as { commit: string; author: string; signer: string }[];
    expect(log.find((l) => l.commit === bad)).toEqual(expect.objectContaining({ author: 'kevin/a', signer: 'kevin/b' }));
    expect(log.filter((l) => l.commit !== bad).every((l) => l.signer === l.author)).toBe(true);
    expect((await a.run(['log'])).stdout).toMatch(new RegExp(`${bad.slice(0, 10)} .*signed by kevin/b`));
  });

  it('heartbeats that do not verify are ignored by the fleet view, and status says so', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    expect((await a.sync()).code).toBe(0);
    const r = rogueClone(hub);
    const beat = (instance: string): string =>
      `agentgit heartbeat kevin/${instance}\n\n${JSON.stringify({ v: 1, agent: 'kevin', instance, at: 1764028800000, lastSuccessAt: 4102444800000, head: null, checksum: null, dirty: false, conflictsTotal: 0, held: 0, lastDurationMs: 1, recoveryMs: null, rebuildFailed: null })}\n`;
    const stamp = (p: string): string => `${p} <x@x> 1764028800 +0000`;
    // unsigned ghost
    const ghost = r.g(['hash-object', '-t', 'commit', '-w', '--stdin'], `tree ${EMPTY_TREE}\nauthor ${stamp('kevin/ghost')}\ncommitter ${stamp('kevin/ghost')}\n\n${beat('ghost')}`);
    // b's key speaking for a third instance
    const forged = literalSigned(r.g, r.dir, keyOf(b), `tree ${EMPTY_TREE}\nauthor ${stamp('kevin/c')}\ncommitter ${stamp('kevin/c')}\n\n${beat('c')}`);
    r.g(['push', '-q', 'origin', `${ghost}:refs/agentgit/instances/ghost`, `${forged}:refs/agentgit/instances/c`]);
    expect((await a.sync()).code).toBe(0);
    const s = JSON.parse((await a.run(['status', '--json'])).stdout) as { instances: { instance: string }[]; ignoredHeartbeats: { ref: string; reason: string }[]; health: { reasons: string[] } };
    expect(s.instances.map((i) => i.instance).sort()).toEqual(['a', 'b']);
    expect(s.ignoredHeartbeats).toEqual(
      expect.arrayContaining([
        { ref: 'refs/agentgit/instances/ghost', reason: 'it is not signed' },
        { ref: 'refs/agentgit/instances/c', reason: 'it is signed by the key of kevin/b, not of kevin/c' },
      ]),
    );
    const text = (await a.run(['status'])).stdout;
    expect(text).toMatch(/ignored the heartbeat at refs\/agentgit\/instances\/ghost: it is not signed/);
    expect(text).not.toMatch(/^\s+ghost:/m);
  });
});
