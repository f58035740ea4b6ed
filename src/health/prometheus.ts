/**
 * The node_exporter textfile format, written atomically (temp file +
 * rename) so the collector never reads half a file.
 */
import { rename, writeFile } from 'node:fs/promises';
import type { StatusReport } from './report.js';

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function formatPrometheus(r: StatusReport): string {
  const lines: string[] = [];
  const base = `agent="${esc(r.agent)}",instance="${esc(r.instance)}"`;
  const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: [string, number][]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) lines.push(`${name}{${labels}} ${Number.isFinite(v) ? v : 'NaN'}`);
  };
  const ts = (s: string | null): number => (s ? Date.parse(s) / 1000 : 0);
  metric('agentgit_last_success_timestamp_seconds', 'Unix time of the last successful sync round.', 'gauge', [[base, ts(r.lastSuccessAt)]]);
  metric(
    'agentgit_lag_seconds',
    'Seconds since each instance last synced successfully (peer is the instance measured).',
    'gauge',
    r.instances.filter((i) => i.lagSeconds !== null).map((i) => [`${base},peer="${esc(i.instance)}"`, Math.round(i.lagSeconds! * 1000) / 1000]),
  );
  metric('agentgit_behind_commits', 'Commits the hub holds that this instance has not merged.', 'gauge', [[base, r.behind]]);
  metric('agentgit_drift_ratio', 'Share of synced files whose content differs from the hub head.', 'gauge', [[base, r.drift.ratio]]);
  metric('agentgit_conflicts_total', 'Concurrent writes resolved by last-writer-wins on this instance.', 'counter', [[base, r.conflicts.total]]);
  metric('agentgit_collisions_total', 'Items created on two instances under the same id.', 'counter', [[base, r.conflicts.collisions]]);
  metric('agentgit_sync_duration_seconds', 'Duration of the last sync round.', 'gauge', [[base, (r.lastDurationMs ?? 0) / 1000]]);
  metric('agentgit_held_files', 'Files held back from sync (secrets, rewritten logs, too large).', 'gauge', [[base, r.held.length]]);
  metric('agentgit_recovery_seconds', 'Duration of the last rebuild of derived state.', 'gauge', [[base, (r.recovery.ms ?? 0) / 1000]]);
  metric('agentgit_health', 'Health verdict: 0 ok, 1 warn, 2 fail.', 'gauge', [[base, { ok: 0, warn: 1, fail: 2 }[r.health.level]]]);
  metric('agentgit_watch_running', 'Whether `agentgit watch` runs for this instance (1) or not (0).', 'gauge', [[base, r.watch.running ? 1 : 0]]);
  metric('agentgit_watch_rounds', 'Rounds the current (or last) watcher ran since it started.', 'gauge', [[base, r.watch.rounds]]);
  metric('agentgit_watch_last_round_timestamp_seconds', 'Unix time of the watcher\'s last round.', 'gauge', [[base, ts(r.watch.lastRoundAt)]]);
  metric('agentgit_watch_backoff_seconds', 'Seconds the watcher still backs off because the hub is down (0: none).', 'gauge', [[base, r.watch.backoffUntil ? Math.max(0, Date.parse(r.watch.backoffUntil) / 1000 - Date.now() / 1000) : 0]]);
  metric('agentgit_watch_failures', 'Consecutive temporarily failed watcher rounds.', 'gauge', [[base, r.watch.failures]]);
  metric('agentgit_paused', 'Whether sync is paused by `agentgit pause` (1) or not (0).', 'gauge', [[base, r.paused ? 1 : 0]]);
  return lines.join('\n') + '\n';
}

export async function writePrometheus(file: string, r: StatusReport): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, formatPrometheus(r));
  await rename(tmp, file);
}
