/**
 * A cron round on an ssh hub pays the key exchange and login (100-150 ms on
 * a loopback sshd) before its first fetch. The round opens the shared
 * connection as soon as it holds its lock (git/ssh.ts warmSshConnection);
 * `agentgit sync` opens it earlier still, from the CLI, before the round's
 * modules load: the login then overlaps Node loading the round, reading the
 * policy, taking the lock and making the local commit.
 *
 * Only what is cheap and certain is read here: the repo's own config files
 * (git/config.ts reads them in-process; includes or config in the
 * environment make it give up), and only a repo whose `.git` is a
 * directory with an agentgit instance, not paused, whose sync lock no
 * other live process holds. Anything else: nothing
 * is opened, and the round does what it always did.
 */
import { lstatSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readConfigFiles } from '../git/config.js';
import { shareSshConnection, useConfiguredSshCommand, warmSshConnection } from '../git/ssh.js';
import { agentgitHome } from '../identity/home.js';
import { readPause } from './pause.js';
import { wantIsoGit } from '../git/iso/choose.js';
import { lockHeld } from '../lock.js';

/**
 * Whether agentgit may run this repo's `core.sshCommand` itself, before any
 * git process: git runs it only in a repo owned by the current user (its
 * safe.directory rule), so the connection is opened ahead only then.
 */
export function ownedByMe(gitDir: string): boolean {
  const uid = process.getuid?.();
  if (uid === undefined) return false;
  try {
    return lstatSync(gitDir).uid === uid && lstatSync(join(gitDir, '..')).uid === uid;
  } catch {
    return false;
  }
}

/**
 * Whether another live process holds this repo's sync lock now (lock.ts
 * lockHeld: read as the round reads it, never taken): the round would exit 75 without touching
 * the hub, so nothing is opened for it. A lock taken just after this check
 * is a race that costs one login, no more.
 */
export function syncLockBusy(gitDir: string): boolean {
  return lockHeld(join(gitDir, 'agentgit', 'sync.lock')); // none, or unreadable: the round takes it over
}

/**
 * `url.<base>.insteadOf` (or pushInsteadOf, or a `remote.<name>.pushurl`) in
 * the config: git may reach another host than the URL names, so the
 * connection is not opened ahead (agentgit would have to guess where).
 */
export function rewritesUrls(config: Map<string, string>): boolean {
  for (const k of config.keys()) if ((k.startsWith('url.') && (k.endsWith('.insteadof') || k.endsWith('.pushinsteadof'))) || (k.startsWith('remote.') && k.endsWith('.pushurl'))) return true;
  return false;
}

/**
 * Whether this remote's pushes may go to another host alias than its
 * fetches (`remote.<name>.pushurl`, `url.<base>.pushInsteadOf`), perhaps
 * with another key, which ssh's %C would not tell apart (it hashes the
 * resolved host name): such a repo shares no ssh connection at all. A plain
 * `insteadOf` rewrites fetches and pushes alike; its rules are part of the
 * shared master's name instead (urlRules).
 */
export function pushGoesElsewhere(config: Map<string, string>, remote: string): boolean {
  if (config.has(`remote.${remote}.pushurl`)) return true;
  for (const k of config.keys()) if (k.startsWith('url.') && k.endsWith('.pushinsteadof')) return true;
  return false;
}

/** The config's URL rewriting rules, as one string (part of a shared master's name: two repos that rewrite the same URL differently never share). */
export function urlRules(config: Map<string, string>): string {
  return [...config].filter(([k]) => k.startsWith('url.')).map(([k, v]) => `${k}=${v}`).sort().join('\n');
}

/**
 * Open the ssh connection to the hub of the repo at `dir` now (at most
 * `maxMs` of trying). Returns what closes it when the command ends (the
 * round closes it too when it gets that far), or null when nothing was
 * opened. Never throws.
 */
export function openHubConnectionAhead(dir: string, maxMs: number): (() => void) | null {
  try {
    if (wantIsoGit(process.env)) return null; // no ssh transport (AGENTGIT_SSH_MUX=0: shareSshConnection says no)
    const gitDir = join(resolve(dir), '.git');
    if (!lstatSync(gitDir, { throwIfNoEntry: false })?.isDirectory() || !ownedByMe(gitDir)) return null;
    const config = readConfigFiles(gitDir);
    if (!config?.get('agentgit.instance') || rewritesUrls(config) || readPause(gitDir) || syncLockBusy(gitDir)) return null; // paused or busy: the round does nothing
    const url = config.get(`remote.${config.get('agentgit.remote') ?? 'origin'}.url`);
    if (!url) return null;
    useConfiguredSshCommand(config.get('core.sshcommand'));
    const close = shareSshConnection(url, agentgitHome());
    if (close) void warmSshConnection(url, maxMs);
    return close;
  } catch {
    return null;
  }
}
