/**
 * `agentgit init`: make a directory an agentgit repo. Adopts the files and
 * any Git history, branch and remote already there. With --remote whose hub
 * holds state, both histories are merged (nothing lost), then pushed.
 * Idempotent: running it again repairs the setup and changes nothing else.
 */
import { commitLocalChanges } from '../sync/commit.js';
import { readPolicy } from '../sync/context.js';
import { ClockSource } from '../sync/hlc.js';
import { syncRound } from '../sync/round.js';
import { initRepo } from '../sync/setup.js';
import { printJson, reportSync } from './output.js';

export async function initCommand(a: { C: string; remote?: string; branch?: string; agent?: string; instance?: string; timeout: number; json: boolean }): Promise<void> {
  const { repo, adopted, instance, agent } = await initRepo(a.C, a);
  try {
    const policy = await readPolicy(repo.root);
    const clocks = new ClockSource(repo.stateFile('hlc'), instance);
    await clocks.load();
    const c = await commitLocalChanges({
      repo,
      policy,
      clocks,
      sign: (await repo.config('commit.gpgsign')) === 'true',
      message: (files) => `agentgit: init ${agent}/${instance} (${files.length} file${files.length === 1 ? '' : 's'})\n\nAgentgit-Instance: ${instance}\n`,
    });
    const lines = [`${adopted ? 'adopted' : 'initialised'} ${repo.root} as ${agent}/${instance}${c.commit ? `, committed ${c.committed.length} file${c.committed.length === 1 ? '' : 's'}` : ''}`];
    for (const n of c.nested) lines.push(`warning: ${n}/ holds its own .git; it is another repository and is not synced`);
    for (const h of c.held) lines.push(`held ${h.path}: ${h.detail.replace(/FILE/g, h.path)}`);
    const remote = await repo.config(`remote.${(await repo.config('agentgit.remote')) ?? 'origin'}.url`);
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
