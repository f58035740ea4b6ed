/**
 * `agentgit sync`: one round: commit local changes, fetch, merge in-process,
 * push (retrying with backoff when another instance pushed first).
 * Limitations: one branch and one hub per repo; never force-pushes, so a hub
 * whose branch was rewritten by hand needs a person (exit 1 with the reason).
 */
import { syncRound } from '../sync/round.js';
import { reportError } from './main.js';
import { reportSync } from './output.js';

export async function syncCommand(a: { C: string; quiet: boolean; json: boolean; push: boolean; timeout: number; wait: number; prometheus?: string }): Promise<void> {
  if (!(a.timeout > 0)) {
    reportError('--timeout must be a positive number of seconds', 2, a.json);
    return;
  }
  const o = await syncRound({ dir: a.C, push: a.push, timeoutSec: a.timeout, waitSec: Math.max(0, a.wait), quietHub: true });
  if (o.paused && !a.json) {
    if (!a.quiet) process.stdout.write(`${o.notes[0]}\n`); // "paused until …"
    return;
  }
  reportSync(o, a);
  if (a.prometheus) {
    const [{ openContext }, { gatherStatus }, { writePrometheus }] = await Promise.all([import('../sync/context.js'), import('../health/report.js'), import('../health/prometheus.js')]);
    const ctx = await openContext(a.C);
    try {
      await writePrometheus(a.prometheus, await gatherStatus(ctx, Date.now(), { history: false }));
    } catch (e) {
      process.stderr.write(`agentgit: could not write ${a.prometheus}: ${(e as Error).message}\n`);
    } finally {
      ctx.repo.close();
    }
  }
}
