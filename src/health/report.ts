/**
 * Gathering the status report: this instance's state, drift against the
 * hub, the fleet's heartbeats, and the health verdict. No network: it uses
 * what the last sync fetched.
 */
import type { Context } from '../sync/context.js';
import { isClockPath } from '../sync/clocks.js';
import { readState } from '../sync/state.js';
import { readVerifiedHeartbeats, type IgnoredHeartbeat } from '../sync/heartbeat.js';
import { activeHeartbeats, signersAtHead } from './fleet.js';
import { readWatchInfo, watcherRunning } from '../sync/watch.js';
import { readPause } from '../sync/pause.js';
import { historyInfo, storeSize, type HistoryInfo } from '../sync/compact.js';
import { assess, lagLevel, type Health, type InstanceSignal } from './signals.js';

export interface StatusReport {
  root: string;
  agent: string;
  instance: string;
  branch: string;
  hub: string | null;
  head: string | null;
  ahead: number;
  behind: number;
  uncommitted: string[];
  held: { path: string; reason: string; detail: string }[];
  lastSyncAt: string | null;
  lastSuccessAt: string | null;
  lastExitCode: number | null;
  lastError: string | null;
  lastDurationMs: number | null;
  drift: { ratio: number; differing: string[]; files: number };
  checksum: string | null;
  conflicts: { total: number; lastSync: number; collisions: number };
  recovery: { ms: number | null; failed: string | null; at: string | null };
  instances: InstanceSignal[];
  /** Heartbeats that did not verify (unsigned, another instance's key, a removed key): not in `instances`. */
  ignoredHeartbeats: IgnoredHeartbeat[];
  health: Health;
  /** `agentgit watch` on this instance (from .git/agentgit/watch.json), and `agentgit pause`. */
  watch: WatchStatus;
  paused: { until: string | null } | null;
  /** Commits in the branch's history, and the last compaction (docs/compaction.md). */
  history: HistoryInfo | null;
  /** The hub's object store when the hub is a repository on this disk, else this clone's (`of`). */
  storage: { bytes: number; of: 'hub' | 'clone'; path: string } | null;
}

export interface WatchStatus {
  running: boolean;
  pid: number | null;
  startedAt: string | null;
  lastRoundAt: string | null;
  lastTrigger: string | null;
  lastExitCode: number | null;
  rounds: number;
  failures: number;
  backoffUntil: string | null;
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/**
 * `history`: also count the history and size the object store (two walks of
 * the whole history and a walk of the hub's objects): what `agentgit status`
 * shows; `sync --prometheus`, run every round, exports neither and skips them.
 */
export async function gatherStatus(ctx: Context, now = Date.now(), o: { history?: boolean } = {}): Promise<StatusReport> {
  const { repo, policy, settings } = ctx;
  const st = await readState(repo.stateFile('state.json'));
  const track = `refs/remotes/${settings.remote}/${settings.branch}`;
  const branch = repo.headBranchFromFile() ?? settings.branch;
  const refs = await repo.exactRefs([`refs/heads/${branch}`, track]);
  const head = refs.get(`refs/heads/${branch}`) ?? null;
  const hubHead = refs.get(track) ?? null;
  const ab = head && hubHead ? await repo.aheadBehind(head, hubHead) : { ahead: 0, behind: 0 };
  const status = await repo.status();
  const synced = (p: string): boolean => !isClockPath(p) && !p.endsWith('/') && policy.kindOf(p) !== 'local';
  const uncommitted = status.filter((s) => synced(s.path)).map((s) => s.path);

  // drift: synced files whose content here differs from the hub's head
  let differing: string[] = [];
  let files = 0;
  if (hubHead) {
    differing = (await repo.changedSince(hubHead)).filter((p) => synced(p));
    const untracked = status.filter((s) => s.xy === '??' && synced(s.path)).map((s) => s.path);
    differing = [...new Set([...differing, ...untracked])];
    files = (await repo.listFiles(hubHead)).filter((p) => synced(p)).length;
  }
  const ratio = files === 0 ? (differing.length ? 1 : 0) : differing.length / files;
  const tree = head ? await repo.treeOf(head) : null;
  const checksum = tree ? `${tree}${uncommitted.length ? '+dirty' : ''}` : null;

  const t = policy.config.health;
  const { heartbeats: verified, ignored: ignoredHeartbeats } = await readVerifiedHeartbeats(repo, head);
  const heartbeats = activeHeartbeats(verified, await signersAtHead(repo, head)); // removed and retired instances leave the view
  const instances: InstanceSignal[] = [];
  const selfLag = st.lastSuccessAt === null ? null : (now - st.lastSuccessAt) / 1000;
  instances.push({ instance: settings.instance, self: true, lagSeconds: selfLag, behind: hubHead ? ab.behind : null, checksum, lastSuccessAt: iso(st.lastSuccessAt), level: lagLevel(selfLag, t) });
  for (const hb of heartbeats) {
    if (hb.instance === settings.instance) continue;
    const lag = hb.lastSuccessAt === null ? null : (now - hb.lastSuccessAt) / 1000;
    let behind: number | null = null;
    if (hubHead && hb.head && (await repo.objects.read(hb.head))) {
      behind = await repo.countCommits({ include: [hubHead], exclude: [hb.head] });
    }
    instances.push({ instance: hb.instance, self: false, lagSeconds: lag, behind, checksum: hb.checksum ? `${hb.checksum}${hb.dirty ? '+dirty' : ''}` : null, lastSuccessAt: iso(hb.lastSuccessAt), level: lagLevel(lag, t) });
  }
  const health = assess({
    now,
    self: { instance: settings.instance, lastSuccessAt: st.lastSuccessAt, lastExitCode: st.lastExitCode, lastError: st.lastError, temporarySince: st.temporarySince },
    drift: ratio,
    held: st.held.length,
    recoveryMs: st.recoveryMs,
    rebuildFailed: st.rebuildFailed,
    others: heartbeats,
    thresholds: t,
  });
  for (const i of ignoredHeartbeats) health.reasons.push(`note: ignored the heartbeat at ${i.ref}: ${i.reason}`);
  return {
    root: repo.root,
    agent: settings.agent,
    instance: settings.instance,
    branch: settings.branch,
    hub: ctx.config.get(`remote.${settings.remote}.url`) ?? null,
    head,
    ahead: ab.ahead,
    behind: ab.behind,
    uncommitted,
    held: st.held,
    lastSyncAt: iso(st.lastSyncAt),
    lastSuccessAt: iso(st.lastSuccessAt),
    lastExitCode: st.lastExitCode,
    lastError: st.lastError,
    lastDurationMs: st.lastDurationMs,
    drift: { ratio, differing, files },
    checksum,
    conflicts: { total: st.conflictsTotal, lastSync: st.conflictsLastSync, collisions: st.collisionsTotal },
    recovery: { ms: st.recoveryMs, failed: st.rebuildFailed, at: iso(st.rebuildAt) },
    instances,
    ignoredHeartbeats,
    health,
    watch: await watchStatus(repo.stateFile('watch.json'), now),
    paused: pausedStatus(repo.gitDir, now),
    history: o.history === false ? null : await historyInfo(repo, head),
    storage: o.history === false ? null : await storeSize(repo, ctx.config.get(`remote.${settings.remote}.url`) ?? null),
  };
}

async function watchStatus(file: string, now: number): Promise<WatchStatus> {
  const w = await readWatchInfo(file);
  const running = watcherRunning(w);
  return {
    running,
    pid: w && running ? w.pid : null,
    startedAt: w ? iso(w.startedAt) : null,
    lastRoundAt: w ? iso(w.lastRoundAt) : null,
    lastTrigger: w?.lastTrigger ?? null,
    lastExitCode: w?.lastExitCode ?? null,
    rounds: w?.rounds ?? 0,
    failures: w?.failures ?? 0,
    backoffUntil: w && running && w.backoffUntil !== null && w.backoffUntil > now ? iso(w.backoffUntil) : null,
  };
}

function pausedStatus(gitDir: string, now: number): StatusReport['paused'] {
  const p = readPause(gitDir, now);
  return p ? { until: iso(p.until) } : null;
}
