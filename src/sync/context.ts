/**
 * What every command needs to know about a repo: its work tree, policy and
 * the per-clone settings agentgit keeps in `.git/config` (section agentgit).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { baseline, effectivePolicy, ratchet, riskyChanges, type PolicyChange } from '../policy/consent.js';
import { parsePolicy, Policy, POLICY_PATH, type PolicyConfig } from '../policy/policy.js';
import { Repo, type Signer } from '../git/repo.js';
import { readRegularFile } from './safe-write.js';
import { useConfiguredSshCommand } from '../git/ssh.js';
import { loadSigningKey, signSshsig } from '../identity/sshsig.js';

import { NotAnAgentRepoError, UsageError } from '../errors.js';

export { UsageError };

export { NotAnAgentRepoError };

/** `-C DIR` must name an existing directory: a typo is reported, never created or walked past. */
export function checkDirExists(dir: string, create?: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new UsageError(`${dir} does not exist: check the -C path${create ? `, or create it first (${create})` : ''}`);
  }
  if (!st.isDirectory()) throw new UsageError(`${dir} is not a directory: -C names the agent's state directory`);
}

/**
 * The work tree holding `dir`, found as git finds it: the nearest directory
 * at or above `dir` that holds `.git` (a directory, or a file for a worktree).
 */
export function findRepoRoot(dir: string): string | null {
  let d = resolve(dir);
  for (;;) {
    if (existsSync(join(d, '.git'))) return d;
    const up = dirname(d);
    if (up === d) return null;
    d = up;
  }
}

export interface Settings {
  instance: string;
  agent: string;
  remote: string;
  branch: string;
  sign: boolean;
  /** Private key path (user.signingkey); its public half is `${signingKey}.pub`. */
  signingKey: string;
}

export interface Context {
  repo: Repo;
  /** The policy this machine runs: the file's, less what it has not accepted (see policy/consent.ts). */
  policy: Policy;
  /** The policy file as it is, the accepted policy and what is pending between them. */
  consent: PolicyState;
  settings: Settings;
  config: Map<string, string>;
}

/** The policy file as written in the work tree (not what this machine runs: see openContext). */
export async function readPolicy(root: string): Promise<Policy> {
  return Policy.fromText(await readPolicyText(root));
}

async function readPolicyText(root: string): Promise<string | null> {
  try {
    return readRegularFile(join(root, POLICY_PATH)).toString('utf8'); // synchronous: a small file, read twice a round
  } catch {
    return null;
  }
}

/** The file that records this machine's accepted policy: never synced. */
export const ACCEPTED_FILE = 'policy.accepted.json';

export interface PolicyState {
  /** The policy file as it is (the defaults when it is absent or empty). */
  proposed: PolicyConfig;
  /** Git's blob id of the file's bytes (null: no file): `policy accept --id` checks it. */
  proposedId: string | null;
  /** What this machine accepted last (the defaults before anything was). */
  accepted: PolicyConfig;
  /** False when nothing was accepted on this machine yet. */
  recorded: boolean;
  /** Relaxations of the accepted policy that the file asks for and this machine does not apply yet. */
  pending: PolicyChange[];
}

/** Git's blob id of a file's bytes. */
export function blobId(text: string | Buffer | null): string | null {
  if (text === null) return null;
  const b = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  return createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

/** The accepted policy recorded under .git/agentgit/; a damaged record counts as none (the defaults: fail closed). */
export async function readAccepted(repo: Repo): Promise<PolicyConfig | null> {
  let text: string;
  try {
    text = readFileSync(repo.stateFile(ACCEPTED_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const rec = JSON.parse(text) as { policy?: unknown };
    return parsePolicy(JSON.stringify(rec.policy ?? {}));
  } catch {
    return null;
  }
}

/** Record `config` as this machine's accepted policy (atomic: survives kill -9). */
export async function writeAccepted(repo: Repo, config: PolicyConfig, from: string | null): Promise<void> {
  const file = repo.stateFile(ACCEPTED_FILE);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ version: 1, from, policy: config }, null, 2) + '\n');
  await rename(tmp, file);
}

/** The policy file, the accepted policy and what is pending. Throws PolicyError on a bad file. */
export async function loadPolicyState(repo: Repo): Promise<PolicyState> {
  const text = await readPolicyText(repo.root);
  const proposed = parsePolicy(text);
  const rec = await readAccepted(repo);
  const accepted = rec ?? baseline();
  return { proposed, proposedId: blobId(text), accepted, recorded: rec !== null, pending: riskyChanges(accepted, proposed) };
}

/** The policy this machine runs (the file's, floored by the accepted one): for code without a Context. */
export async function readEffectivePolicy(repo: Repo): Promise<Policy> {
  const st = await loadPolicyState(repo);
  return effectivePolicy(st.accepted, st.proposed);
}

/**
 * Under the sync lock: record what the policy file tightens as accepted
 * (all of it when nothing is pending), so a later commit cannot quietly
 * undo a tightening this machine already applied.
 */
export async function settleAccepted(repo: Repo): Promise<void> {
  // read again under the lock: a `policy accept` may have run since the caller loaded it
  const st = await loadPolicyState(repo);
  const next = ratchet(st.accepted, st.proposed);
  if (st.recorded && JSON.stringify(next) === JSON.stringify(st.accepted)) return;
  await writeAccepted(repo, next, st.pending.length === 0 ? st.proposedId : 'tightenings only');
}

/** Open the initialised agentgit repo holding `dir` (its root or any directory inside it). */
export async function openContext(dir: string): Promise<Context> {
  checkDirExists(dir);
  const root = findRepoRoot(dir);
  const repo = root ? await Repo.openAt(root) : null;
  if (!repo) throw new NotAnAgentRepoError(dir, root ?? undefined);
  const config = await repo.configAll();
  const instance = config.get('agentgit.instance');
  if (!instance) {
    repo.close();
    throw new NotAnAgentRepoError(dir, repo.root);
  }
  const consent = await loadPolicyState(repo).catch((e: unknown) => {
    repo.close();
    throw e;
  });
  const policy = effectivePolicy(consent.accepted, consent.proposed);
  const settings: Settings = {
    instance,
    agent: config.get('agentgit.agent') ?? 'agent',
    remote: config.get('agentgit.remote') ?? 'origin',
    branch: config.get('agentgit.branch') ?? 'main',
    sign: (config.get('commit.gpgsign') ?? 'false') === 'true',
    signingKey: config.get('user.signingkey') ?? '',
  };
  // a key replacement a kill -9 cut short (identity/keys.ts): finished before anything signs with the pair
  if (settings.signingKey && existsSync(`${settings.signingKey}.swap`)) await (await import('../identity/keys.js')).finishKeySwap(settings.signingKey);
  useInProcessCommits(repo, config, settings);
  useConfiguredSshCommand(config.get('core.sshcommand'));
  return { repo, policy, consent, settings, config };
}

/**
 * Build commit objects in-process when git would write exactly these
 * fields: a plain `user.name`/`user.email`, and for signing an ssh-format
 * ed25519 key agentgit can read. Otherwise git (and ssh-keygen) do it.
 */
function useInProcessCommits(repo: Repo, config: Map<string, string>, s: Settings): void {
  const ident = { name: config.get('user.name') ?? '', email: config.get('user.email') ?? '' };
  let signer: Signer | null = null;
  if (s.sign && (config.get('gpg.format') ?? 'openpgp') === 'ssh' && s.signingKey) {
    // the key is read when the first commit is signed (loadSigningKey keeps it): a no-op round never reads it
    signer = () => {
      const key = loadSigningKey(s.signingKey);
      return key ? (payload) => signSshsig(payload, key) : null;
    };
  }
  repo.useCommitIdentity(ident, signer); // in-process only when the fast paths are on (git/backend.ts)
}
