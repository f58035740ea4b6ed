/**
 * `agentgit hook pre-commit|pre-push`: the git hooks agentgit installs.
 * pre-commit: the commit guard for commits made by hand, with the same rules
 * as `agentgit sync`. pre-push: the secret scan of `agentgit sync` over what
 * a `git push` by hand would send (stdin: one line per ref, as git gives it).
 */
import { checkFile } from '../sync/guard.js';
import { readEffectivePolicy } from '../sync/context.js';
import { scanBeforePush, SecretsInPushError } from '../sync/scan.js';
import type { Policy } from '../policy/policy.js';
import { Repo } from '../git/repo.js';

const ZERO = /^0+$/;

export async function runHook(args: string[]): Promise<number> {
  const name = args[0];
  if (name !== 'pre-commit' && name !== 'pre-push') {
    process.stderr.write('usage: agentgit hook pre-commit|pre-push\n');
    return 2;
  }
  const repo = await Repo.open(process.cwd());
  if (!repo) return 0;
  try {
    const policy = await readEffectivePolicy(repo);
    return name === 'pre-commit' ? await preCommit(repo, policy) : await prePush(repo, policy, await readStdin());
  } finally {
    repo.close();
  }
}

async function preCommit(repo: Repo, policy: Policy): Promise<number> {
  let bad = 0;
  for (const { status, path } of await repo.stagedChanges()) {
    const before = await repo.objects.read(`HEAD:${path}`);
    const after = status === 'D' ? null : await repo.objects.read(`:${path}`);
    const h = checkFile(policy, { path, before, after, size: after?.length ?? 0 });
    if (h) {
      bad++;
      process.stderr.write(`agentgit: refusing to commit ${path}: ${h.detail.replace(/FILE/g, path)}\n`);
    }
  }
  if (bad > 0) process.stderr.write('agentgit: unstage it (`git restore --staged PATH`) and commit again\n');
  return bad > 0 ? 1 : 0;
}

/** Scan each pushed ref's new commits; a remote id this clone does not hold counts as an empty hub (everything is scanned). */
async function prePush(repo: Repo, policy: Policy, stdin: string): Promise<number> {
  for (const line of stdin.split('\n')) {
    const [localRef, localOid, , remoteOid] = line.trim().split(' ');
    if (!localRef || !localOid || ZERO.test(localOid)) continue; // a deletion sends nothing
    const known = remoteOid && !ZERO.test(remoteOid) && (await repo.objects.read(remoteOid)) !== null;
    try {
      await scanBeforePush(repo, policy, localOid, known ? remoteOid : null);
    } catch (e) {
      if (!(e instanceof SecretsInPushError)) throw e;
      process.stderr.write(`agentgit: ${e.message}\n`);
      return 1;
    }
  }
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
