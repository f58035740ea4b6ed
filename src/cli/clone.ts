/**
 * `agentgit clone URL DIR`: a new instance joins existing state (a new
 * server, a migration). Clones with a deadline, verifies the whole history
 * (trusting the hub's founding commit on first use), sets the instance up
 * with its own signing key, and prints the command that admits it.
 *
 * --trust-self: where the state's policy allows open enrollment, the
 * instance admits itself with a commit that adds only its own key.
 */
import { existsSync, readdirSync } from 'node:fs';
import { keyPath, loadKey } from '../identity/keys.js';
import { addSigner, signerLine } from '../identity/signers.js';
import { commitSigners, readSignersFile, selfAdmit } from '../identity/trust.js';
import { verifyRange } from '../identity/verify.js';
import { loadPolicyState, readPolicy, settleAccepted, UsageError } from '../sync/context.js';
import { syncRound } from '../sync/round.js';
import { cloneRepo, initRepo } from '../sync/setup.js';
import { isAdmitted } from '../identity/admission.js';
import { printJson, progressLine, reportSync } from './output.js';
import { treeRejections, treeLimitsOf } from '../git/paths.js';
import { parsePolicy } from '../policy/policy.js';
import type { Repo } from '../git/repo.js';
import { withInstanceTrailer } from '../git/trailers.js';

/**
 * Hostile trees in the cloned history, checked with the default limits: the
 * hub's own policy must not raise the limits that judge the hub (a synced
 * raise needs this machine's consent, which a clone has not given yet).
 */
async function cloneTreeRejections(repo: Repo, head: string): Promise<Awaited<ReturnType<typeof treeRejections>>> {
  return treeRejections(repo, { exclude: [], tip: head, limits: treeLimitsOf(parsePolicy(null)) });
}

/**
 * The verified tip's files into the new work tree: `git reset --hard`. With
 * a progress line (a TTY), first the index and then the files a thousand at
 * a time (`checkout-index`), so the line can move; the closing `reset
 * --hard` then finds them in place and settles index and branch exactly as
 * on its own.
 */
async function writeWorkTree(repo: Repo, head: string, progress: ((done: number, total: number) => void) | undefined): Promise<void> {
  if (progress) await repo.checkoutWithProgress(head, progress);
  else await repo.checkout(head, 'hard');
}

export async function cloneCommand(a: { url: string; dir: string; branch?: string; agent?: string; instance?: string; timeout: number; json: boolean; trustSelf: boolean }): Promise<void> {
  if (existsSync(a.dir) && readdirSync(a.dir).length > 0) {
    throw new UsageError(`${a.dir} exists and is not empty; clone into a new directory, or use \`agentgit init -C ${a.dir} --remote ${a.url}\` to merge what is there with the hub`);
  }
  const cloned = await cloneRepo(a.url, a.dir, { ...a, timeoutMs: a.timeout * 1000 });
  const head = await cloned.revParse('HEAD');
  if (head) {
    const progress = progressLine('agentgit: checking commits', { json: a.json, unit: 'commits' });
    const bad = [...(await verifyRange(cloned, { exclude: [], tip: head, allowBootstrap: true, progress })), ...(await cloneTreeRejections(cloned, head))];
    if (bad.length > 0) {
      cloned.close();
      process.stderr.write(`agentgit: the hub's history does not verify (${bad.length} commit${bad.length === 1 ? '' : 's'}; first: ${bad[0]!.commit.slice(0, 10)} by ${JSON.stringify(bad[0]!.author)}: ${bad[0]!.reason}). The clone in ${a.dir} is kept for inspection; do not sync it.\n`);
      process.exitCode = 1;
      return;
    }
  }
  if (head) await writeWorkTree(cloned, head, progressLine('agentgit: writing files', { json: a.json })); // verified: now the work tree (cloned --no-checkout)
  cloned.close();
  const setup = await initRepo(a.dir, { agent: a.agent, instance: a.instance });
  const { repo, agent, instance } = setup;
  const principal = `${agent}/${instance}`;
  const key = await loadKey((await repo.config('user.signingkey')) ?? keyPath(agent, instance), principal);
  const line = signerLine(principal, key.publicKey);
  try {
    // the policy as found: what it tightens applies, what it relaxes waits for this operator (docs/security.md)
    await settleAccepted(repo);
    const policy = await loadPolicyState(repo);
    if (policy.pending.length) {
      const { pendingLine, pendingPolicy } = await import('./policy.js');
      const { openContext } = await import('../sync/context.js');
      const ctx = await openContext(repo.root);
      try {
        (a.json ? process.stderr : process.stdout).write(`${pendingLine(await pendingPolicy(ctx, repo.root))}\n`);
      } finally {
        ctx.repo.close();
      }
    }
    let admitted = head ? await isAdmitted(repo, 'HEAD', key.publicKey) : false;
    if (!head) {
      // an empty hub: this instance founds the state (admits itself; the first sync commits and pushes it)
      await selfAdmit(repo, principal, key.publicKey);
      admitted = true;
    }
    if (a.trustSelf && !admitted) {
      const policy = await readPolicy(repo.root);
      if (!policy.config.trust.openEnrollment) {
        throw new UsageError('--trust-self is refused: this state does not allow open enrollment (trust.openEnrollment in .agentgit/config.json). Ask an admitted instance to run the `agentgit trust add` line below, or have its operator enable open enrollment');
      }
      await commitSigners(repo, addSigner(await readSignersFile(repo), principal, key.publicKey), withInstanceTrailer(`agentgit: ${principal} enrolls itself (open enrollment)`, instance));
      admitted = true;
    }
    if (!a.json) process.stdout.write(`cloned ${a.url} into ${repo.root} as ${principal}${head ? '' : ': the hub was empty, so this instance founds the state'}\n`);
    if (!admitted) {
      if (a.json) printJson({ root: repo.root, principal, admitted: false, trustCommand: `agentgit trust add '${line}'` });
      else process.stdout.write(`this instance is not admitted yet: until it is, sync commits and merges but pushes nothing.\nOn an admitted instance, run:\n  agentgit trust add '${line}'\n`);
      return;
    }
    repo.close();
    const o = await syncRound({ dir: a.dir, push: true, timeoutSec: a.timeout, waitSec: 5 });
    reportSync(o, { json: a.json, quiet: !a.json });
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`agentgit: ${e.message}\nOn an admitted instance, run:\n  agentgit trust add '${line}'\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  } finally {
    repo.close();
  }
}
