/**
 * What every command needs to know about a repo: its work tree, policy and
 * the per-clone settings agentgit keeps in `.git/config` (section agentgit).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Policy, POLICY_PATH } from '../policy/policy.js';
import { Repo } from '../git/repo.js';
import { plainIdent } from '../git/objects.js';
import { useConfiguredSshCommand } from '../git/ssh.js';
import { loadSigningKey, signSshsig } from '../identity/sshsig.js';

export class UsageError extends Error {
  readonly code = 'EUSAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class NotAnAgentRepoError extends Error {
  readonly code = 'ENOTAGENT';
  /** `gitRoot`: the Git work tree found at or above `dir`, when there is one. */
  constructor(dir: string, gitRoot?: string) {
    super(
      gitRoot
        ? `${gitRoot} is a Git repo but not set up for agentgit: run \`agentgit init -C ${gitRoot}\` to adopt it (files and history are kept)`
        : `${dir} is not in an agentgit repo (no .git there or in any directory above): run \`agentgit init -C ${dir}\` (or \`agentgit clone URL ${dir}\`) first`,
    );
    this.name = 'NotAnAgentRepoError';
  }
}

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
  policy: Policy;
  settings: Settings;
  config: Map<string, string>;
}

export async function readPolicy(root: string): Promise<Policy> {
  let text: string | null = null;
  try {
    text = await readFile(join(root, POLICY_PATH), 'utf8');
  } catch {
    text = null;
  }
  return Policy.fromText(text);
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
  const policy = await readPolicy(repo.root).catch((e: unknown) => {
    repo.close();
    throw e;
  });
  const settings: Settings = {
    instance,
    agent: config.get('agentgit.agent') ?? 'agent',
    remote: config.get('agentgit.remote') ?? 'origin',
    branch: config.get('agentgit.branch') ?? 'main',
    sign: (config.get('commit.gpgsign') ?? 'false') === 'true',
    signingKey: config.get('user.signingkey') ?? '',
  };
  useInProcessCommits(repo, config, settings);
  useConfiguredSshCommand(config.get('core.sshcommand'));
  return { repo, policy, settings, config };
}

/**
 * Build commit objects in-process when git would write exactly these
 * fields: a plain `user.name`/`user.email`, and for signing an ssh-format
 * ed25519 key agentgit can read. Otherwise git (and ssh-keygen) do it.
 */
function useInProcessCommits(repo: Repo, config: Map<string, string>, s: Settings): void {
  const ident = { name: config.get('user.name') ?? '', email: config.get('user.email') ?? '' };
  if (!plainIdent(ident)) return;
  if (process.env.GIT_AUTHOR_NAME || process.env.GIT_COMMITTER_NAME || process.env.GIT_AUTHOR_DATE || process.env.GIT_COMMITTER_DATE) return;
  let sign: ((payload: string) => string | null) | null = null;
  if (s.sign && (config.get('gpg.format') ?? 'openpgp') === 'ssh' && s.signingKey) {
    const key = loadSigningKey(s.signingKey);
    if (key) sign = (payload) => signSshsig(payload, key);
  }
  repo.inProcessCommits = { ident, sign };
}
