/**
 * `agentgit compact history [--export FILE]`, `agentgit compact logs
 * [--older-than 90d]` and `agentgit compact auto` (docs/compaction.md).
 */
import { FailedError, TemporaryError } from '../errors.js';
import { compactionSchedule, POLICY_PATH, type CompactionSchedule } from '../policy/policy.js';
import { openContext, UsageError, type Context } from '../sync/context.js';
import type { SyncOutcome } from '../sync/round.js';
import { printJson, reportSync } from './output.js';

type CompactArgs = { what: string; C: string; json: boolean; export?: string; before?: string; ttl?: string; quiet?: boolean; olderThan: string; today?: string; timeout: number; wait: number };

export async function compactCommand(a: CompactArgs): Promise<void> {
  if (!(a.timeout > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  if (a.today !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(a.today)) throw new UsageError(`--today ${JSON.stringify(a.today)}: give a date as YYYY-MM-DD`);
  if (a.what === 'auto') return autoCommand(a);
  const c = await import('../sync/compact.js');
  if (a.what === 'logs') {
    const days = /^(\d{1,5})d$/.exec(a.olderThan);
    if (!days) throw new UsageError(`--older-than ${JSON.stringify(a.olderThan)}: give a number of days, like 90d`);
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
  const before = a.before === undefined ? undefined : c.parseCutDate(a.before);
  if (before === null) throw new UsageError(`--before ${JSON.stringify(a.before)}: give a date as YYYY-MM-DD (00:00 UTC) or a time with a zone like 2026-08-01T12:00:00Z`);
  const r = await c.compactHistory({ dir: a.C, exportFile: a.export, timeoutSec: a.timeout, waitSec: Math.max(0, a.wait), before });
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
  for (const n of r.notes) process.stdout.write(`${n}\n`);
  reportSync(o, {});
}

/** The lease `compact auto` takes, renewed every ttl/3 while it compacts (docs/compaction.md). */
const AUTO_LEASE = 'compaction';
const AUTO_TTL = '30m';

/** What the policy's `compaction` block says is due now, judged from the local branch's history. */
async function dueKinds(ctx: Context, today: string): Promise<{ logs: string[]; history: string | null }> {
  const c = await import('../sync/compact.js');
  const cfg = compactionSchedule(ctx.policy.config.compaction);
  const head = await ctx.repo.revParse('HEAD');
  if (!head) return { logs: [], history: null };
  const logs = cfg.logsOlderThanDays === null ? [] : await c.dueLogs(ctx.repo, ctx.policy, head, today, cfg.logsOlderThanDays);
  let history: string | null = null;
  if (cfg.historyEveryMs !== null) {
    const h = await c.historyDue(ctx.repo, head, cfg.historyEveryMs, Date.now());
    if (h.due) history = `${h.length} commits since ${h.since}`;
  }
  return { logs, history };
}

async function dueNow(dir: string, today: string): Promise<{ logs: string[]; history: string | null; cfg: CompactionSchedule }> {
  const ctx = await openContext(dir);
  try {
    return { ...(await dueKinds(ctx, today)), cfg: compactionSchedule(ctx.policy.config.compaction) };
  } finally {
    ctx.repo.close();
  }
}

/**
 * `agentgit compact auto`: run what the policy's `compaction` block says is
 * due, on one instance at a time (lease `compaction`, taken without
 * waiting). Another instance holding it, or nothing due: exit 0.
 */
async function autoCommand(a: CompactArgs): Promise<void> {
  const today = a.today ?? new Date().toISOString().slice(0, 10);
  const say = (line: string, extra: Record<string, unknown> = {}): void => {
    if (a.json) printJson({ ok: true, compacted: false, message: line, ...extra });
    else if (!a.quiet) process.stdout.write(`${line}\n`);
  };
  const { parseDuration } = await import('../policy/duration.js');
  const ttlMs = parseDuration(a.ttl ?? AUTO_TTL);
  if (ttlMs === null || ttlMs < 1000 || ttlMs > 7 * 86_400_000) throw new UsageError(`--ttl ${JSON.stringify(a.ttl)}: give a duration from 1s to 7d, like 30m`);
  const first = await dueNow(a.C, today);
  if (first.cfg.logsOlderThanDays === null && first.cfg.historyEveryMs === null) {
    return say(`no "compaction" block in ${POLICY_PATH}: nothing is compacted automatically (see docs/compaction.md)`);
  }
  if (first.logs.length === 0 && first.history === null) return say('no compaction due');
  const ctx = await openContext(a.C);
  const { readPause } = await import('../sync/pause.js');
  if (readPause(ctx.repo.gitDir)) {
    ctx.repo.close();
    return say('sync is paused here (`agentgit pause`): no compaction until `agentgit resume`; another instance may do it meanwhile');
  }
  const { syncRound } = await import('../sync/round.js');
  const round = async (): Promise<SyncOutcome> => {
    const o = await syncRound({ dir: a.C, push: true, timeoutSec: a.timeout, waitSec: Math.max(0, a.wait) });
    if (o.exitCode === 75) throw new TemporaryError(`the sync around the compaction failed: ${o.error ?? 'temporary failure'}; the next \`agentgit compact auto\` retries`);
    if (o.exitCode !== 0) throw new FailedError(`the sync around the compaction failed: ${o.error ?? 'see agentgit status'}`);
    return o;
  };
  try {
    const [{ checkWriter }, { acquire, renewOnce, renewInBackground }] = await Promise.all([import('./lease.js'), import('../coord/holder.js')]);
    await checkWriter(ctx);
    const r = await acquire(ctx, AUTO_LEASE, ttlMs, 0);
    if (!r.ok) {
      const gen = r.decision.generation === null ? '' : ` (generation ${r.decision.generation})`;
      return say(`compaction is left to ${r.decision.holder}, which holds lease ${AUTO_LEASE}${gen}: nothing to do here`, { heldBy: r.decision.holder });
    }
    const notes: string[] = [];
    const renewer = renewInBackground(ctx, AUTO_LEASE, ttlMs, r.held);
    /** Before each step: a lease no longer ours (lost, or not renewed in time) stops the run; another instance may have taken it. */
    const stillHeld = (): void => {
      const why = renewer.lost();
      if (why) throw new TemporaryError(`${why}: stopped compacting before the next step (another instance may have taken it over); the next \`agentgit compact auto\` looks again`);
    };
    try {
      // judge again after taking in the hub's latest: another instance may have just compacted
      await round();
      stillHeld();
      const due = await dueNow(a.C, today);
      const c = await import('../sync/compact.js');
      let logs: Awaited<ReturnType<typeof c.compactLogs>> | null = null;
      let history: Awaited<ReturnType<typeof c.compactHistory>> | null = null;
      if (due.logs.length > 0 && due.cfg.logsOlderThanDays !== null) {
        logs = await c.compactLogs({ dir: a.C, olderThanDays: due.cfg.logsOlderThanDays, today });
        if (logs.commit) await round();
      }
      if (due.history !== null) {
        stillHeld();
        history = await c.compactHistory({ dir: a.C, timeoutSec: a.timeout, waitSec: Math.max(0, a.wait) });
        if (history.epoch) await round();
      }
      if (!logs?.commit && !history?.epoch) return say('no compaction due (after syncing with the hub)');
      const lines = [
        ...(logs?.commit ? [`moved ${logs.moved.length} daily log${logs.moved.length === 1 ? '' : 's'} older than ${due.cfg.logsOlderThanDays}d into ${logs.archives.join(', ')} in ${logs.commit.slice(0, 10)}`] : []),
        ...(history?.epoch ? [`new epoch ${history.epoch.slice(0, 10)}: ${history.archivedCommits} commits archived on the hub under refs/agentgit/archive/${history.epoch}`] : []),
        ...(logs?.notes ?? []),
        ...(history?.notes ?? []),
      ];
      if (a.json) printJson({ ok: true, compacted: true, logs, history, notes });
      else if (!a.quiet) process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      await renewer.stop();
      await renewOnce(ctx, AUTO_LEASE, renewer.held(), ttlMs, 'released', []).catch((e: unknown) => {
        process.stderr.write(`agentgit: could not release lease ${AUTO_LEASE} (${(e as Error).message}); it expires by itself after its ttl (${a.ttl ?? AUTO_TTL})\n`);
      });
    }
  } finally {
    ctx.repo.close();
  }
}
