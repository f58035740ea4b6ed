/**
 * `agentgit init`: make a directory an agentgit repo. Adopts the files and
 * any Git history, branch and remote already there. With --remote whose hub
 * holds state, both histories are merged (nothing lost), then pushed.
 * Idempotent: running it again repairs the setup and changes nothing else.
 *
 * Trust: the instance that founds the state (no hub, or a hub without
 * agentgit state) admits itself. Joining a hub that already has admitted
 * instances works like `clone`: this instance must be admitted before it
 * pushes (it prints the command to run on an admitted instance).
 */
import { ensureKey } from '../identity/keys.js';
import { parseSigners, SIGNERS_PATH } from '../identity/signers.js';
import { selfAdmit } from '../identity/trust.js';
import { commitLocalChanges } from '../sync/commit.js';
import { readPolicy } from '../sync/context.js';
import { ClockSource } from '../sync/hlc.js';
import { syncRound } from '../sync/round.js';
import { initRepo } from '../sync/setup.js';
import type { Repo } from '../git/repo.js';
import { printJson, progressLine, reportSync } from './output.js';

/** Does the hub's branch already list admitted instances? Fetches into a scratch ref. */
async function hubHasSigners(repo: Repo, url: string, branch: string, timeoutMs: number): Promise<boolean> {
  const probe = 'refs/agentgit/probe';
  // by URL, not remote name: git would also move the remote-tracking ref, and
  // the first sync must still see this as first contact with the hub
  const r = await repo.run(['fetch', '--no-tags', '--no-write-fetch-head', url, `+refs/heads/${branch}:${probe}`], { timeoutMs, okCodes: [1, 128] });
  if (r.code !== 0) return false; // empty or unreachable hub: found it here
  const b = await repo.objects.read(`${probe}:${SIGNERS_PATH}`);
  await repo.run(['update-ref', '-d', probe]);
  return parseSigners(b ? b.toString('utf8') : null).length > 0;
}

export async function initCommand(a: { C: string; remote?: string; branch?: string; agent?: string; instance?: string; timeout: number; json: boolean }): Promise<void> {
  const { repo, adopted, instance, agent } = await initRepo(a.C, a);
  try {
    const remoteName = (await repo.config('agentgit.remote')) ?? 'origin';
    const remote = await repo.config(`remote.${remoteName}.url`);
    const branch = (await repo.config('agentgit.branch')) ?? 'main';
    const key = await ensureKey(agent, instance);
    const joining = remote ? await hubHasSigners(repo, remote, branch, a.timeout * 1000) : false;
    if (!joining) await selfAdmit(repo, `${agent}/${instance}`, key.publicKey);
    const policy = await readPolicy(repo.root);
    const clocks = new ClockSource(repo.stateFile('hlc'), instance);
    await clocks.load();
    const c = await commitLocalChanges({
      repo,
      policy,
      clocks,
      sign: true,
      progress: progressLine('agentgit: committing', { json: a.json }),
      message: (files) => `agentgit: init ${agent}/${instance} (${files.length} file${files.length === 1 ? '' : 's'})\n\nAgentgit-Instance: ${instance}\n`,
    });
    const lines = [`${adopted ? 'adopted' : 'initialised'} ${repo.root} as ${agent}/${instance}${c.commit ? `, committed ${c.committed.length} file${c.committed.length === 1 ? '' : 's'}` : ''}`];
    for (const n of c.nested) lines.push(`warning: ${n}/ holds its own .git; it is another repository and is not synced`);
    for (const h of c.held) lines.push(`held ${h.path}: ${h.detail.replace(/FILE/g, h.path)}`);
    repo.close();
    if (!remote) {
      if (a.json) printJson({ root: repo.root, adopted, agent, instance, committed: c.committed, held: c.held.map((h) => h.path), nested: c.nested });
      else process.stdout.write(lines.join('\n') + '\nno hub yet: `agentgit init --remote URL` sets one; `agentgit sync` from cron keeps it in sync\n');
      process.exitCode = c.held.length ? 1 : 0;
      return;
    }
    if (!a.json) process.stdout.write(lines.join('\n') + '\n');
    const o = await syncRound({ dir: repo.root, push: true, timeoutSec: a.timeout, waitSec: 5 });
    reportSync(o, { json: a.json });
  } finally {
    repo.close();
  }
}
