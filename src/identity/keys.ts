/**
 * Instance signing keys. They live under $AGENTGIT_HOME/keys (never in the
 * repo), unencrypted and mode 0600 so cron can sign without an agent. Only
 * the public half enters the repo, in `.agentgit/allowed_signers`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { newEd25519Key } from './sshsig.js';
import { join } from 'node:path';
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
  try {
    await stat(priv);
  } catch {
    await mkdir(join(agentgitHome(), 'keys'), { recursive: true, mode: 0o700 });
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', principal, '-f', priv], { encoding: 'utf8' });
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      // no ssh-keygen (a slim container, the isomorphic-git engine): the same key, made in-process
      // public key first, the private key last, each whole by a rename: a kill -9 in between leaves no half key pair
      const k = newEd25519Key(principal);
      const tmp = `${priv}.tmp-${process.pid}`;
      await writeFile(tmp + '.pub', k.publicLine, { mode: 0o644 });
      await rename(tmp + '.pub', priv + '.pub');
      await rm(tmp, { force: true }); // one a kill -9 left under a pid that came back (a restarted container)
      await writeFile(tmp, k.privateText, { mode: 0o600, flag: 'wx' });
      await rename(tmp, priv);
    } else if (r.status !== 0) throw new Error(`cannot create a signing key with ssh-keygen (${(r.stderr || r.error?.message || '').trim()}); install openssh-client`);
  }
  await chmod(priv, 0o600);
  const publicKey = (await readFile(priv + '.pub', 'utf8')).trim();
  return { principal, privatePath: priv, publicPath: priv + '.pub', publicKey };
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
