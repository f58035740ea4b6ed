/**
 * Instance signing keys. They live under $AGENTGIT_HOME/keys (never in the
 * repo), unencrypted and mode 0600 so cron can sign without an agent. Only
 * the public half enters the repo, in `.agentgit/allowed_signers`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { newEd25519Key, privateKeyPublicBlob } from './sshsig.js';
import { basename, dirname, join } from 'node:path';
import { MissingKeyError } from '../errors.js';

import { agentgitHome } from './home.js';

export { agentgitHome };

export interface KeyPair {
  principal: string;
  privatePath: string;
  publicPath: string;
  /** `ssh-ed25519 AAAA… comment` */
  publicKey: string;
}

export function principalOf(agent: string, instance: string): string {
  return `${agent}/${instance}`;
}

export function keyPath(agent: string, instance: string): string {
  return join(agentgitHome(), 'keys', `${agent}--${instance}_ed25519`);
}

export { MissingKeyError };

/**
 * Load the key pair at `privatePath` (and `.pub`), a replacement a kill -9
 * cut short finished first (finishKeySwap); a missing file is a
 * MissingKeyError naming it, a public key that is not the private key's an
 * error naming both and what to do.
 */
export async function loadKey(privatePath: string, principal: string): Promise<KeyPair> {
  await finishKeySwap(privatePath);
  for (const f of [privatePath, privatePath + '.pub']) {
    try {
      await stat(f);
    } catch {
      throw new MissingKeyError(f, principal);
    }
  }
  return { principal, privatePath, publicPath: privatePath + '.pub', publicKey: await readPair(privatePath) };
}

/** Load the instance key, creating it when absent. */
export async function ensureKey(agent: string, instance: string): Promise<KeyPair> {
  const priv = keyPath(agent, instance);
  const principal = principalOf(agent, instance);
  await finishKeySwap(priv);
  if (!(await exists(priv))) await createKey(priv, principal);
  await chmod(priv, 0o600);
  return { principal, privatePath: priv, publicPath: priv + '.pub', publicKey: await readPair(priv) };
}

/**
 * The public key line at `priv.pub`, checked against the public key the
 * private key file carries (an OpenSSH key of any type; another format is
 * not checked): a pair that does not match fails with one line naming the
 * files and the fix (importing the private key again writes its public half).
 */
async function readPair(priv: string): Promise<string> {
  const publicKey = (await readFile(priv + '.pub', 'utf8')).trim();
  const own = privateKeyPublicBlob(await readFile(priv, 'utf8'));
  if (own && own.toString('base64') !== publicKey.split(/\s+/)[1]) {
    throw new Error(`${priv}.pub is not the public half of ${priv} (a key replacement cut short?); run \`agentgit identity import ${priv}\` to write its public half again, or import the key you meant`);
  }
  return publicKey;
}

/**
 * A key pair is put in place whole: made (or copied) in a private directory
 * beside it (`NAME.new-*`), that directory renamed to `NAME.swap` once the
 * pair is complete, then its public key moved into place and its private
 * key last, then the empty directory removed. A kill -9 before the rename
 * leaves the old pair (and a `.new-` directory the next writer removes);
 * after it, a `.swap` directory that the next load or write finishes here.
 * Safe without the lock: every finisher moves the same files in the same
 * order, a file already moved is skipped, and only an empty directory is
 * removed.
 */
export async function finishKeySwap(priv: string, between?: () => Promise<void>): Promise<void> {
  const swap = `${priv}.swap`;
  if (!(await exists(swap))) return;
  const move = (from: string, to: string): Promise<void> =>
    rename(from, to).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  await move(join(swap, 'key.pub'), `${priv}.pub`);
  await between?.();
  await move(join(swap, 'key'), priv);
  await rmdir(swap).catch(() => undefined);
}

/**
 * Under the key's lock file (`priv.lock`, the sync lock's kind: O_EXCL, a
 * dead holder's taken over), put in place the pair `make` writes at
 * `t`/`t.pub` (finishKeySwap's protocol). `make` returns false to put
 * nothing (the pair it was to make is there now).
 */
async function placePair(priv: string, who: string, make: (t: string) => Promise<boolean>): Promise<void> {
  const dir = dirname(priv);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { SyncLock, LockBusyError } = await import('../lock.js');
  const lock = new SyncLock(`${priv}.lock`, { holdMs: 60_000 });
  await lock.acquire(60_000).catch((e: unknown) => {
    throw e instanceof LockBusyError ? new LockBusyError(e.holder, `${priv}.lock`, who) : e;
  });
  try {
    await finishKeySwap(priv);
    const name = basename(priv);
    for (const e of await readdir(dir)) if (e.startsWith(`${name}.new-`)) await rm(join(dir, e), { recursive: true, force: true }); // a holder killed mid-way
    const tmp = await mkdtemp(join(dir, `${name}.new-`));
    try {
      if (!(await make(join(tmp, 'key')))) return;
      await rename(tmp, `${priv}.swap`);
      const { failpoint } = await import('../failpoint.js');
      await finishKeySwap(priv, () => failpoint('key-swap')); // a test's kill -9 between the two moves
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  } finally {
    await lock.release();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Make the key pair at `priv`, atomically as a pair (placePair), re-checked
 * once the lock is held. A reader that finds the private key (ensureKey,
 * loadKey look for it first) finds its own public key; two processes
 * creating the same key at once make one pair, never one's private key
 * with the other's public key; a kill -9 leaves no key (a directory the
 * next creation removes) or a whole pair (in place, or in `.swap` for the
 * next load to finish).
 */
async function createKey(priv: string, principal: string): Promise<void> {
  await placePair(priv, 'agentgit process creating this signing key', async (t) => {
    if (await exists(priv)) return false; // made by another process while this one waited
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', principal, '-f', t], { encoding: 'utf8' });
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      // no ssh-keygen (a slim container, the isomorphic-git engine): the same key, made in-process
      const k = newEd25519Key(principal);
      await writeFile(t + '.pub', k.publicLine, { mode: 0o644 });
      await writeFile(t, k.privateText, { mode: 0o600, flag: 'wx' });
    } else if (r.status !== 0) throw new Error(`cannot create a signing key with ssh-keygen (${(r.stderr || r.error?.message || '').trim()}); install openssh-client`);
    return true;
  });
}

/**
 * Copy a key pair in from files (identity import): the private key and the
 * public half ssh-keygen derives from it replace the instance's pair
 * together (placePair: a kill -9 never leaves one key's private half with
 * another's public half).
 */
export async function importKey(agent: string, instance: string, from: string): Promise<KeyPair> {
  const priv = keyPath(agent, instance);
  await mkdir(join(agentgitHome(), 'keys'), { recursive: true, mode: 0o700 });
  const text = await readFile(from, 'utf8');
  if (!/-----BEGIN OPENSSH PRIVATE KEY-----/.test(text)) throw new Error(`${from} is not an OpenSSH private key (export one with \`agentgit identity export FILE\`)`);
  await placePair(priv, 'agentgit process importing this signing key', async (t) => {
    await copyFile(from, t);
    await chmod(t, 0o600);
    const r = spawnSync('ssh-keygen', ['-y', '-f', t], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${from}: ssh-keygen cannot read it (${(r.stderr || r.error?.message || '').trim()}); a passphrase-protected key cannot sign from cron`);
    await writeFile(t + '.pub', `${r.stdout.trim().split(' ').slice(0, 2).join(' ')} ${principalOf(agent, instance)}\n`);
    return true;
  });
  return ensureKey(agent, instance);
}

/** `SHA256:…` fingerprint of a public key line, as git's %GK prints it. */
export function fingerprint(publicKey: string): string | null {
  const b64 = publicKey.trim().split(/\s+/)[1];
  if (!b64) return null;
  const raw = Buffer.from(b64, 'base64');
  if (raw.length < 20) return null;
  return 'SHA256:' + createHash('sha256').update(raw).digest('base64').replace(/=+$/, '');
}
