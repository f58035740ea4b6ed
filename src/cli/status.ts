/**
 * `agentgit status [--json] [--check] [--prometheus FILE]`: this instance
 * and every instance that syncs with the same hub (from their heartbeats):
 * lag, commits behind, drift, state checksum, conflicts, held files,
 * recovery time, and a verdict (ok, warn, fail) with the reasons.
 * Never touches the network: it reports what the last sync fetched.
 *
 * --check exits 0 ok, 1 warn, 2 fail, for cron jobs and probes.
 */
import { gatherStatus, type StatusReport } from '../health/report.js';
import { writePrometheus } from '../health/prometheus.js';
import { openContext } from '../sync/context.js';
import { redactDeep } from '../sync/secrets.js';
import { printJson } from './output.js';
import { pendingLine, pendingPolicy } from './policy.js';

function watchLine(w: StatusReport['watch'], ago: (t: string | null) => string): string {
  if (!w.running) return `watch: not running${w.lastRoundAt ? ` (last watcher round ${ago(w.lastRoundAt)})` : ''}`;
  return `watch: running (pid ${w.pid}), ${w.rounds} round${w.rounds === 1 ? '' : 's'}, last ${ago(w.lastRoundAt)}${w.backoffUntil ? `, backing off until ${w.backoffUntil} (${w.failures} failed)` : ''}`;
}

const mib = (b: number): string => (b < 1024 * 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1024 / 1024).toFixed(1)} MiB`);

export async function statusCommand(a: { C: string; json: boolean; check?: boolean; prometheus?: string }): Promise<void> {
  const ctx = await openContext(a.C);
  try {
    // the hub URL, git's errors, rebuild stderr: no token, key or URL credential in status (sync/secrets.ts)
    const r = redactDeep(await gatherStatus(ctx));
    const policy = await pendingPolicy(ctx, a.C);
    if (a.prometheus) await writePrometheus(a.prometheus, r);
    if (a.json) printJson({ ...r, policy: { pending: policy } });
    else if (!a.check || r.health.level !== 'ok') {
      const ago = (t: string | null): string => (t ? `${t} (${Math.round((Date.now() - Date.parse(t)) / 1000)} s ago)` : 'never');
      const lines = [
        `${r.agent}/${r.instance} on ${r.branch}, hub ${r.hub ?? '(none)'}`,
        `health: ${r.health.level}${r.health.reasons.length ? '\n  ' + r.health.reasons.join('\n  ') : ''}`,
        r.hub ? `ahead ${r.ahead}, behind ${r.behind} (as of the last sync)` : 'no hub',
        `drift: ${(r.drift.ratio * 100).toFixed(1)} % (${r.drift.differing.length} of ${r.drift.files} files differ from the hub)`,
        `checksum: ${r.checksum ?? '-'}`,
        ...(r.history ? [`history: ${r.history.length} commit${r.history.length === 1 ? '' : 's'}${r.history.epoch ? `, since the epoch ${r.history.epoch.commit.slice(0, 10)} of ${r.history.epoch.at} (\`agentgit log --archive\` shows the history before it)` : ', never compacted'}`] : []),
        ...(r.storage ? [`${r.storage.of === 'hub' ? 'hub size' : "this clone's object store (the hub is not on this disk)"}: ${mib(r.storage.bytes)} (${r.storage.path})`] : []),
        `uncommitted: ${r.uncommitted.length ? r.uncommitted.join(', ') : 'none'}`,
        pendingLine(policy),
        `held: ${r.held.length ? r.held.map((h) => `${h.path} (${h.reason})`).join(', ') : 'none'}`,
        `last sync: ${ago(r.lastSyncAt)}${r.lastExitCode !== null ? `, exit ${r.lastExitCode}` : ''}${r.lastError ? `: ${r.lastError.replace(/\n/g, '\n  ')}` : ''}`,
        `last success: ${ago(r.lastSuccessAt)}`,
        watchLine(r.watch, ago),
        ...(r.paused ? [`paused: until ${r.paused.until ?? '`agentgit resume`'} (sync and watch do nothing; local writes are kept)`] : []),
        `conflicts resolved: ${r.conflicts.total} (last sync ${r.conflicts.lastSync}), id collisions: ${r.conflicts.collisions}`,
        `recovery: ${r.recovery.ms === null ? 'no rebuild yet' : `${(r.recovery.ms / 1000).toFixed(1)} s`}${r.recovery.failed ? `, FAILED: ${r.recovery.failed}` : ''}`,
        'instances:',
        ...r.instances.map((i) => `  ${i.instance}${i.self ? ' (this)' : ''}: ${i.level}, lag ${i.lagSeconds === null ? '?' : `${Math.round(i.lagSeconds)} s`}, behind ${i.behind ?? '?'}, checksum ${i.checksum?.slice(0, 12) ?? '-'}`),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
    if (a.check) process.exitCode = { ok: 0, warn: 1, fail: 2 }[r.health.level];
  } finally {
    ctx.repo.close();
  }
}
