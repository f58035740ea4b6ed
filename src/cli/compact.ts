/**
 * `agentgit compact history [--export FILE]` and `agentgit compact logs
 * [--older-than 90d]` (docs/compaction.md).
 */
import { UsageError } from '../sync/context.js';
import { printJson, reportSync } from './output.js';

export async function compactCommand(a: { what: string; C: string; json: boolean; export?: string; olderThan: string; today?: string; timeout: number; wait: number }): Promise<void> {
  if (!(a.timeout > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  const c = await import('../sync/compact.js');
  if (a.what === 'logs') {
    const days = /^(\d{1,5})d$/.exec(a.olderThan);
    if (!days) throw new UsageError(`--older-than ${JSON.stringify(a.olderThan)}: give a number of days, like 90d`);
    if (a.today !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(a.today)) throw new UsageError(`--today ${JSON.stringify(a.today)}: give a date as YYYY-MM-DD`);
    const r = await c.compactLogs({ dir: a.C, olderThanDays: Number(days[1]), today: a.today });
    const o = r.commit ? await (await import('../sync/round.js')).syncRound({ dir: a.C, push: true, timeoutSec: a.timeout, waitSec: Math.max(0, a.wait) }) : null;
    if (a.json) {
      printJson({ ok: !o || o.exitCode === 0, ...r, sync: o });
      if (o) process.exitCode = o.exitCode;
      return;
    }
    for (const n of r.notes) process.stdout.write(`${n}\n`);
    process.stdout.write(r.commit ? `moved ${r.moved.length} daily log${r.moved.length === 1 ? '' : 's'} into ${r.archives.join(', ')} in ${r.commit.slice(0, 10)}\n` : `no daily log older than ${a.olderThan}: nothing to compact\n`);
    if (o) reportSync(o, {});
    return;
  }
  const r = await c.compactHistory({ dir: a.C, exportFile: a.export, timeoutSec: a.timeout, waitSec: Math.max(0, a.wait) });
  if (!r.epoch) {
    if (a.json) printJson({ ok: true, ...r });
    else process.stdout.write(`${r.notes.join('\n')}\n`);
    return;
  }
  // this instance's own work crosses into the epoch like any other instance's
  const { syncRound } = await import('../sync/round.js');
  const o = await syncRound({ dir: a.C, push: true, timeoutSec: a.timeout, waitSec: Math.max(0, a.wait) });
  if (a.json) {
    printJson({ ok: o.exitCode === 0, ...r, sync: o });
    process.exitCode = o.exitCode;
    return;
  }
  process.stdout.write(`new epoch ${r.epoch.slice(0, 10)}: ${r.archivedCommits} commits archived on the hub under refs/agentgit/archive/${r.epoch}${r.exported ? ` and in ${r.exported}` : ''}\n`);
  reportSync(o, {});
}
