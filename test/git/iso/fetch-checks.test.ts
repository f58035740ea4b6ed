/**
 * The isomorphic-git engine checks what a hub sends before any ref moves:
 * every object copied from a file hub is hashed and must have the id it
 * was asked for; a ref only moves to an id that is here as a commit with
 * everything it reaches (git's connectivity check), so an empty pack from
 * an https hub advertising ids it does not send fails closed.
 */
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { checkConnected } from '../../../src/git/iso/connected.js';
import { IsoGitEngine, type IsoGit } from '../../../src/git/iso/iso-git.js';
import { IsoObjects } from '../../../src/git/iso/objects.js';
import { writeObjectSync } from '../../../src/git/objects.js';
import { acceptPacks, dropUncheckedPacks, storePack } from '../../../src/git/iso/upload-pack.js';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cleanupTemp, git, makeBareHub, tempDir, testEnv } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());
const env = testEnv(tempDir());
const engine = new IsoGitEngine(env);
const ident = ['-c', 'user.name=t', '-c', 'user.email=t@x'];

async function open(dir: string): Promise<IsoGit> {
  const gitDir = join(dir, '.git');
  return engine.open(dir, gitDir, await engine.detect(gitDir, dir)) as IsoGit;
}

function hubWithCommit(): { hub: string; blob: string; head: string } {
  const hub = makeBareHub();
  const w = join(tempDir(), 'w');
  git(tempDir(), ['init', '-q', '-b', 'main', w], env);
  writeFileSync(join(w, 'f'), 'the entry\n');
  git(w, ['add', 'f'], env);
  git(w, [...ident, 'commit', '-q', '-m', 'c'], env);
  git(w, ['push', '-q', hub, 'main'], env);
  return { hub, blob: git(w, ['rev-parse', 'HEAD:f'], env).trim(), head: git(w, ['rev-parse', 'HEAD'], env).trim() };
}

function local(hub: string): string {
  const dir = join(tempDir(), 'l');
  git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
  git(dir, ['remote', 'add', 'origin', hub], env);
  return dir;
}

describe('fetch checks', () => {
  it('a file hub object whose content does not hash to its id fails the fetch, naming the hub; no ref moves', async () => {
    const { hub, blob } = hubWithCommit();
    const file = join(hub, 'objects', blob.slice(0, 2), blob.slice(2));
    chmodSync(file, 0o644);
    writeFileSync(file, deflateSync(Buffer.from('blob 10\0forged!!!\n')));
    const dir = local(hub);
    const iso = await open(dir);
    await expect(iso.fetch('origin', ['+refs/heads/*:refs/remotes/origin/*'])).rejects.toThrow(new RegExp(`${hub}: (blob|object) ${blob} (holds the content of|cannot be read .SHA check failed)`));
    expect(git(dir, ['for-each-ref'], env)).toBe('');
  });

  it('an empty pack does not make an advertised id connected', async () => {
    const { head } = hubWithCommit();
    const dir = local('/nonexistent');
    const body = Buffer.concat([Buffer.from('PACK'), Buffer.from([0, 0, 0, 2, 0, 0, 0, 0])]);
    const pack = Buffer.concat([body, createHash('sha1').update(body).digest()]);
    const fresh = new Set(await storePack(join(dir, '.git'), pack));
    expect(fresh.size).toBe(0);
    await expect(checkConnected(new IsoObjects(join(dir, '.git')), [head], fresh, 'https://hub.example/x.git')).rejects.toThrow(/https:\/\/hub\.example\/x\.git: commit .* is missing; no ref was moved/);
  });

  it("a hub's pack the check refused (or a kill -9 left unchecked) is removed before anything trusts it; a pack whose trailer lies is refused", async () => {
    const { hub, head } = hubWithCommit();
    const dir = local('/nonexistent');
    const gitDir = join(dir, '.git');
    // a pack holding the commit alone, without its tree
    const pack = spawnSync('git', ['pack-objects', '--stdout', '-q'], { cwd: hub, env, input: `${head}\n` }).stdout as Buffer;
    const fresh = new Set(await storePack(gitDir, pack, { unchecked: true }));
    expect(fresh.has(head)).toBe(true);
    await expect(checkConnected(new IsoObjects(gitDir), [head], fresh, hub)).rejects.toThrow(/tree [0-9a-f]{40} \(named by commit .*\) is missing/);
    // the next fetch starts by dropping it: the commit is not "here before the fetch"
    dropUncheckedPacks(gitDir);
    expect(await new IsoObjects(gitDir).has(head)).toBe(false);
    expect(readdirSync(join(gitDir, 'objects', 'pack'))).toEqual([]);
    // checked and accepted: it stays
    await storePack(gitDir, pack, { unchecked: true });
    acceptPacks(gitDir);
    dropUncheckedPacks(gitDir);
    expect(await new IsoObjects(gitDir).has(head)).toBe(true);
    // a trailer that is not the SHA-1 of the content (a hub naming its pack after one we hold)
    const lying = Buffer.from(pack);
    lying.writeUInt8(lying.readUInt8(lying.length - 1) ^ 1, lying.length - 1);
    await expect(storePack(gitDir, lying, { unchecked: true })).rejects.toThrow(/trailer is not the SHA-1 of its content/);
  });

  it('a commit brought without its tree is not connected; after a full fetch it is', async () => {
    const { hub, head } = hubWithCommit();
    const dir = local(hub);
    const gitDir = join(dir, '.git');
    const raw = await new IsoObjects(hub).read(head);
    expect(writeObjectSync(gitDir, 'commit', raw!.body)).toBe(head);
    await expect(checkConnected(new IsoObjects(gitDir), [head], new Set([head]), hub)).rejects.toThrow(/tree [0-9a-f]{40} \(named by commit .*\) is missing/);
    await (await open(dir)).fetch('origin', ['+refs/heads/*:refs/remotes/origin/*']);
    expect(git(dir, ['rev-parse', 'refs/remotes/origin/main'], env).trim()).toBe(head);
    git(dir, ['fsck', '--strict', '--no-dangling'], env);
  });

  it("a damaged local object found while building a push is this repository's fault, not the hub's; the hub is unmoved", async () => {
    const hub = makeBareHub();
    const dir = local(hub);
    writeFileSync(join(dir, 'f'), 'local entry\n');
    git(dir, ['add', 'f'], env);
    git(dir, [...ident, 'commit', '-q', '-m', 'c'], env);
    const blob = git(dir, ['rev-parse', 'HEAD:f'], env).trim();
    const file = join(dir, '.git', 'objects', blob.slice(0, 2), blob.slice(2));
    chmodSync(file, 0o644);
    writeFileSync(file, deflateSync(Buffer.from('blob 6\0forged')));
    const iso = await open(dir);
    const e = await iso.push({ remote: 'origin', refspecs: ['HEAD:refs/heads/main'] }).then(
      () => null,
      (x: Error) => x,
    );
    expect(e?.message).toMatch(new RegExp(`^push: ${join(dir, '.git')}: (blob|object) ${blob} (holds the content of|cannot be read).*; nothing was pushed \\(this repository is damaged: run git fsck in it, then agentgit doctor\\)$`));
    expect(e?.message).not.toMatch(/hub's data/);
    expect(git(hub, ['for-each-ref'], env)).toBe('');
  });

  it.each(['tree', 'blob', 'parent'] as const)('a file hub missing a %s fails the fetch naming the hub, no ref moves (copyObjects is the connectivity check)', async (what) => {
    const { hub, head } = hubWithCommit();
    const w = join(tempDir(), 'w2');
    git(tempDir(), ['clone', '-q', hub, w], env);
    writeFileSync(join(w, 'g'), 'second\n');
    git(w, ['add', 'g'], env);
    git(w, [...ident, 'commit', '-q', '-m', 'c2'], env);
    git(w, ['push', '-q', 'origin', 'main'], env);
    const victim = what === 'tree' ? git(w, ['rev-parse', 'HEAD^{tree}'], env).trim() : what === 'blob' ? git(w, ['rev-parse', 'HEAD:g'], env).trim() : head;
    rmSync(join(hub, 'objects', victim.slice(0, 2), victim.slice(2)));
    const dir = local(hub);
    await expect((await open(dir)).fetch('origin', ['+refs/heads/*:refs/remotes/origin/*'])).rejects.toThrow(new RegExp(`^fetch: ${hub}: (tree|blob|commit) ${victim} is missing.*; no ref was moved`));
    expect(git(dir, ['for-each-ref'], env)).toBe('');
  });
});

/**
 * A push reads the hub's history too (with BoundedObjects' caps): its
 * refs' history before copying (what the hub holds), then the new tip's
 * history in the hub for the fast-forward check. A refusal there is the
 * hub's data, named as such, its advice fitting a push.
 */
describe('push checks', () => {
  /** A hub whose main is a commit of its own, and a local repo with two commits unrelated to it. */
  function pushSetup(): { hub: string; hubHead: string; dir: string; tip: string } {
    const { hub, head: hubHead } = hubWithCommit();
    const dir = local(hub);
    for (const n of ['1', '2']) {
      writeFileSync(join(dir, 'f'), `local ${n}\n`);
      git(dir, ['add', 'f'], env);
      git(dir, [...ident, 'commit', '-q', '-m', n], env);
    }
    return { hub, hubHead, dir, tip: git(dir, ['rev-parse', 'HEAD'], env).trim() };
  }
  /** Put `content` (already deflated, or not) in place of the hub's loose object `oid`. */
  function plant(hub: string, oid: string, content: Buffer): void {
    const file = join(hub, 'objects', oid.slice(0, 2), oid.slice(2));
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file)) chmodSync(file, 0o644);
    writeFileSync(file, content);
  }
  const tooBig = deflateSync(Buffer.from('commit 200000000\0tree x\n'));
  async function pushError(dir: string): Promise<Error | null> {
    return (await open(dir)).push({ remote: 'origin', refspecs: ['HEAD:refs/heads/main'] }).then(
      () => null,
      (x: Error) => x,
    );
  }

  it("an object over the cap in the hub's history says to push once with git, not fetch; the hub is unmoved", async () => {
    const { hub, hubHead, dir } = pushSetup();
    plant(hub, hubHead, tooBig);
    const e = await pushError(dir);
    expect(e?.message).toBe(
      `push: ${hub}: object ${hubHead} declares 200000000 bytes, over 100 MiB, more than the isomorphic-git engine inflates from a hub; push once with git (AGENTGIT_ENGINE=git); no ref was moved (too large for this engine, not a sign of damage)`,
    );
    expect(git(hub, ['rev-parse', 'main'], env).trim()).toBe(hubHead);
  });

  it.each([
    ['over the cap', tooBig, 'declares 200000000 bytes, over 100 MiB, more than the isomorphic-git engine inflates from a hub; push once with git \\(AGENTGIT_ENGINE=git\\)', 'too large for this engine, not a sign of damage'],
    ['damaged', Buffer.from('not zlib at all'), 'cannot be inflated \\(.*\\)', "the hub's data is damaged or not trustworthy: check it with git fsck there"],
  ])("the fast-forward check's read of the hub's history: an object %s is the hub's error; the hub is unmoved", async (_what, content, said, why) => {
    const { hub, hubHead, dir, tip } = pushSetup();
    // the hub holds the local tip's id as an object of its own (unreferenced: the copy skips what the hub has, the check reads it)
    plant(hub, tip, content);
    const e = await pushError(dir);
    expect(e?.message).toMatch(new RegExp(`^push: ${hub}: object ${tip} ${said}; no ref was moved \\(${why}\\)$`));
    expect(git(hub, ['rev-parse', 'main'], env).trim()).toBe(hubHead);
  });
});
