/**
 * What every command needs to know about a repo: its work tree, policy and
 * the per-clone settings agentgit keeps in `.git/config` (section agentgit).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  constructor(dir: string) {
    super(`${dir} is not an agentgit repo: run \`agentgit init -C ${dir}\` (or \`agentgit clone URL ${dir}\`) first`);
    this.name = 'NotAnAgentRepoError';
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

/** Open an initialised agentgit repo at `dir`. */
export async function openContext(dir: string): Promise<Context> {
  const repo = await Repo.openAt(dir);
  if (!repo) throw new NotAnAgentRepoError(dir);
  const config = await repo.configAll();
  const instance = config.get('agentgit.instance');
  if (!instance) {
    repo.close();
    throw new NotAnAgentRepoError(dir);
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
