/**
 * Instance signing keys. They live under $AGENTGIT_HOME/keys (never in the
 * repo), unencrypted and mode 0600 so cron can sign without an agent. Only
 * the public half enters the repo, in `.agentgit/allowed_signers`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { newEd25519Key } from './sshsig.js';
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

/** Load the key pair at `privatePath` (and `.pub`); a missing file is a MissingKeyError naming it. */
export async function loadKey(privatePath: string, principal: string): Promise<KeyPair> {
  for (const f of [privatePath, privatePath + '.pub']) {
    try {
      await stat(f);
    } catch {
      throw new MissingKeyError(f, principal);
    }
  }
  const publicKey = (await readFile(privatePath + '.pub', 'utf8')).trim();
  return { principal, privatePath, publicPath: privatePath + '.pub', publicKey };
}

/** Load the instance key, creating it when absent. */
export async function ensureKey(agent: string, instance: string): Promise<KeyPair> {
  const priv = keyPath(agent, instance);
  const principal = principalOf(agent, instance);
  if (!(await exists(priv))) await createKey(priv, principal);
  await chmod(priv, 0o600);
  const publicKey = (await readFile(priv + '.pub', 'utf8')).trim();
  return { principal, privatePath: priv, publicPath: priv + '.pub', publicKey };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Make the key pair at `priv`, atomically as a pair: under a lock file
 * (`priv.lock`, the sync lock's kind: O_EXCL, a dead holder's taken over),
 * re-checked once held, the pair is made in a private directory beside it,
 * then the public key is renamed into place and the private key last. A
 * reader that finds the private key (ensureKey, loadKey look for it first)
 * finds its own public key; two processes creating the same key at once
 * make one pair, never one's private key with the other's public key; a
 * kill -9 leaves no key (a directory the next creation removes) or a whole
 * pair.
 */
async function createKey(priv: string, principal: string): Promise<void> {
  const dir = dirname(priv);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { SyncLock, LockBusyError } = await import('../lock.js');
  const lock = new SyncLock(`${priv}.lock`);
  await lock.acquire(60_000).catch((e: unknown) => {
    throw e instanceof LockBusyError ? new LockBusyError(e.holder, `${priv}.lock`, 'agentgit process creating this signing key') : e;
  });
  try {
    if (await exists(priv)) return; // made by another process while this one waited
    const name = basename(priv);
    for (const e of await readdir(dir)) if (e.startsWith(`${name}.new-`)) await rm(join(dir, e), { recursive: true, force: true }); // a holder killed mid-way
    const tmp = await mkdtemp(join(dir, `${name}.new-`));
    try {
      const t = join(tmp, 'key');
      const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', principal, '-f', t], { encoding: 'utf8' });
      if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
        // no ssh-keygen (a slim container, the isomorphic-git engine): the same key, made in-process
        const k = newEd25519Key(principal);
        await writeFile(t + '.pub', k.publicLine, { mode: 0o644 });
        await writeFile(t, k.privateText, { mode: 0o600, flag: 'wx' });
      } else if (r.status !== 0) throw new Error(`cannot create a signing key with ssh-keygen (${(r.stderr || r.error?.message || '').trim()}); install openssh-client`);
      await rename(t + '.pub', priv + '.pub');
      await rename(t, priv);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  } finally {
    await lock.release();
  }
}

/** Copy a key pair in from files (identity import). */
export async function importKey(agent: string, instance: string, from: string): Promise<KeyPair> {
  const priv = keyPath(agent, instance);
  await mkdir(join(agentgitHome(), 'keys'), { recursive: true, mode: 0o700 });
  const text = await readFile(from, 'utf8');
  if (!/-----BEGIN OPENSSH PRIVATE KEY-----/.test(text)) throw new Error(`${from} is not an OpenSSH private key (export one with \`agentgit identity export FILE\`)`);
  await copyFile(from, priv);
  await chmod(priv, 0o600);
  const r = spawnSync('ssh-keygen', ['-y', '-f', priv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${from}: ssh-keygen cannot read it (${r.stderr.trim()}); a passphrase-protected key cannot sign from cron`);
  await writeFile(priv + '.pub', `${r.stdout.trim().split(' ').slice(0, 2).join(' ')} ${principalOf(agent, instance)}\n`);
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
