/**
 * `agentgit watch`: a foreground process that runs sync rounds in-process
 * (Node's start-up is paid once) when
 *   - local changes settle (recursive fs.watch; `.git/` and the local layer
 *     ignored; `--debounce MS` after the last change, or 10× that while a
 *     writer never stops),
 *   - the hub moved (every `--poll SEC` the hub's branch is compared with
 *     the remote-tracking ref: a hub on this machine by reading its ref
 *     files, no process; any other with `git ls-remote`, over ssh riding
 *     the watcher's ControlMaster),
 *   - every `--interval SEC` regardless,
 *   - at start and on `agentgit resume`.
 * Rounds never overlap, and each takes the same lock as `agentgit sync`, so
 * cron and watch coexist (a round that finds the lock held is skipped and
 * tried again a poll later). While the hub is down (exit 75) the watcher
 * backs off exponentially up to 5 minutes and says so once; it says once
 * when the hub is back. SIGTERM/SIGINT let the current round finish, then
 * exit 0 (a second signal exits at once: a round is crash-safe). SIGHUP
 * re-reads the policy (the watcher's ignore rules; every round opens a fresh
 * context anyway). The watcher's state is in `.git/agentgit/watch.json` for
 * `agentgit status`.
 *
 * The decisions are small pure functions (dueTrigger, nextWake, backoffMs,
 * afterRound); the loop around them does the I/O.
 */
import { lstatSync, readdirSync, statSync, watch as fsWatch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openContext, type Context } from './context.js';
import { syncRound, type SyncOutcome } from './round.js';
import { readPause, type PauseInfo } from './pause.js';
import { processStart, isAlive } from '../lock.js';
import { isSshUrl, retireOldMasters, shareSshConnection, stopSharing } from '../git/ssh.js';
import { pushGoesElsewhere, urlRules } from './ssh-ahead.js';
import { Repo } from '../git/repo.js';
import { forgetWrittenObjects, keepObjectReaders } from '../git/objects.js';
import { agentgitHome } from '../identity/keys.js';
import type { Policy } from '../policy/policy.js';
import { redactDeep, redactSecrets } from './secrets.js';

export type Trigger = 'start' | 'local' | 'hub' | 'interval' | 'resume';

export interface WatchOptions {
  dir: string;
  debounceMs: number;
  pollSec: number;
  intervalSec: number;
  quiet: boolean;
  json: boolean;
  /** Deadline of one round (seconds). */
  timeoutSec?: number;
  /** Where lines go (tests, the CLI): out for --json rounds and summaries, err for state changes and errors. */
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Stop after this many rounds (tests of memory); undefined: run until a signal. */
  maxRounds?: number;
}

/** What the loop knows between wakes. Fixed size: nothing grows over days. */
export interface LoopState {
  /** A round to run at the next chance, whatever else is due (start, resume). */
  forced: Trigger | null;
  /** First and last local change not yet covered by a round. */
  dirtySince: number | null;
  lastEventAt: number | null;
  /** The last poll saw the hub's branch differ from the remote-tracking ref (or could not tell). */
  hubMoved: boolean;
  nextPollAt: number;
  nextIntervalAt: number;
  /** Consecutive temporary failures, and no round before backoffUntil. */
  failures: number;
  backoffUntil: number;
}

export const MAX_BACKOFF_MS = 5 * 60_000;

export function initialState(now: number, o: Pick<WatchOptions, 'pollSec' | 'intervalSec'>): LoopState {
  return { forced: 'start', dirtySince: null, lastEventAt: null, hubMoved: false, nextPollAt: now + o.pollSec * 1000, nextIntervalAt: now + o.intervalSec * 1000, failures: 0, backoffUntil: 0 };
}

/** Back-off after `failures` consecutive temporary failures: 2 s, 4 s, 8 s … up to 5 min. */
export function backoffMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(failures, 20));
}

/** The round due now, if any. */
export function dueTrigger(s: LoopState, now: number, o: Pick<WatchOptions, 'debounceMs'>): Trigger | null {
  if (now < s.backoffUntil) return null;
  if (s.forced) return s.forced;
  if (s.hubMoved) return 'hub';
  if (s.failures > 0) return 'hub'; // the back-off is over: try the hub again (local work may wait to go out)
  if (s.lastEventAt !== null && now - s.lastEventAt >= o.debounceMs) return 'local';
  if (s.dirtySince !== null && now - s.dirtySince >= 10 * o.debounceMs) return 'local'; // a writer that never stops
  if (now >= s.nextIntervalAt) return 'interval';
  return null;
}

/** Whether a poll of the hub is due now (never during a back-off: the round after it finds out). */
export function pollDue(s: LoopState, now: number): boolean {
  return now >= s.backoffUntil && now >= s.nextPollAt && !s.hubMoved && !s.forced && s.failures === 0;
}

/** When something may next be due; the loop sleeps until then, or until woken by an event or signal. */
export function nextWake(s: LoopState, now: number, o: Pick<WatchOptions, 'debounceMs'>, capMs = 1000): number {
  const at = [s.nextPollAt, s.nextIntervalAt];
  if (s.lastEventAt !== null) at.push(s.lastEventAt + o.debounceMs);
  if (s.dirtySince !== null) at.push(s.dirtySince + 10 * o.debounceMs);
  let t = Math.min(...at);
  if (s.backoffUntil > now) t = Math.max(t, s.backoffUntil);
  return Math.max(0, Math.min(t - now, capMs));
}

export type HubState = 'up' | 'down';

/**
 * The state after a round ended with `exitCode` (lockBusy: another sync held
 * the lock). Returns the new state and whether the hub's state changed.
 */
export function afterRound(s: LoopState, trigger: Trigger, startedAt: number, now: number, exitCode: number, lockBusy: boolean, o: Pick<WatchOptions, 'pollSec' | 'intervalSec'>): { state: LoopState; hub: HubState | null } {
  const n: LoopState = { ...s, forced: null, hubMoved: false, nextPollAt: now + o.pollSec * 1000, nextIntervalAt: now + o.intervalSec * 1000 };
  // changes made during the round are kept for the next one
  if (s.lastEventAt !== null && s.lastEventAt < startedAt) {
    n.dirtySince = null;
    n.lastEventAt = null;
  }
  let hub: HubState | null = null;
  if (lockBusy) {
    // another sync (cron, a person) is at work: not the hub's fault; try again a poll later
    n.forced = trigger === 'start' || trigger === 'resume' ? trigger : null;
    n.hubMoved = trigger === 'hub';
    if (trigger === 'local' && n.lastEventAt === null) n.lastEventAt = n.dirtySince = now;
    n.backoffUntil = now + Math.min(o.pollSec * 1000, 5000);
  } else if (exitCode === 75) {
    n.failures = s.failures + 1;
    n.backoffUntil = now + backoffMs(n.failures);
    if (s.failures === 0) hub = 'down';
  } else {
    if (s.failures > 0) hub = 'up';
    n.failures = 0;
    n.backoffUntil = 0;
  }
  return { state: n, hub };
}

/** Whether a changed path (relative to the work tree, as fs.watch gives it) should start a round. */
export function relevantChange(rel: string, policy: Pick<Policy, 'kindOf'> | null): boolean {
  const p = rel.split(sep).join('/');
  if (p === '.git' || p.startsWith('.git/')) return false;
  if (!policy) return true;
  try {
    return policy.kindOf(p) !== 'local';
  } catch {
    return true;
  }
}

/** `.git/agentgit/watch.json`: what `agentgit status` shows about the watcher. */
export interface WatchInfo {
  pid: number;
  start: string;
  host: string;
  startedAt: number;
  lastRoundAt: number | null;
  lastTrigger: Trigger | null;
  lastExitCode: number | null;
  rounds: number;
  failures: number;
  backoffUntil: number | null;
  stoppedAt: number | null;
  /** `--interval`: a round at least this often, so the file is rewritten at least this often (read for a watcher on another host). */
  intervalSec?: number;
}

export async function readWatchInfo(file: string): Promise<WatchInfo | null> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as WatchInfo;
    return typeof v.pid === 'number' && typeof v.rounds === 'number' ? v : null;
  } catch {
    return null;
  }
}

/** Running: the file names a live process (same pid and start time) that has not said it stopped. */
/**
 * Whether the watcher that wrote `w` runs. On this host: its process lives.
 * On another (a container on a shared volume; its process cannot be checked
 * from here): while it wrote the file within three of its intervals (a
 * round at least every `--interval`, never counted below 10 min) plus a
 * minute, by its clock; a file that does not say its interval (an older
 * version): within an hour. `now`: for tests.
 */
export function watcherRunning(w: WatchInfo | null, now = Date.now()): boolean {
  if (!w || w.stoppedAt !== null) return false;
  if (w.host === hostname()) return isAlive(w);
  const every = typeof w.intervalSec === 'number' && w.intervalSec > 0 ? Math.max(w.intervalSec, 600) : 1200;
  return now - (w.lastRoundAt ?? w.startedAt) < (3 * every + 60) * 1000;
}

async function writeWatchInfo(file: string, w: WatchInfo): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(w) + '\n');
  await rename(tmp, file);
}

const firstLine = (s: string | null): string => (s ?? 'unknown').split('\n', 1)[0] ?? '';

/** A one-line summary of a round that did something. */
function summary(o: SyncOutcome, trigger: Trigger): string {
  const parts: string[] = [];
  if (o.committed) parts.push(`committed ${o.committed}`);
  if (o.mergedFromHub) parts.push(`${o.fastForward ? 'fast-forwarded' : 'merged'} ${o.mergedFromHub} from hub`);
  if (o.conflicts) parts.push(`${o.conflicts} concurrent write${o.conflicts === 1 ? '' : 's'} resolved`);
  if (o.pushed) parts.push(`pushed ${o.pushed.slice(0, 7)}`);
  return `round (${trigger}): ${parts.join(', ')} in ${o.durationMs} ms`;
}

/**
 * Run the watcher until SIGTERM/SIGINT (or maxRounds). Resolves with the
 * exit code (0 after a signal). Throws when the directory is not an
 * agentgit repo at start.
 */
export async function runWatch(o: WatchOptions): Promise<number> {
  const out = o.out ?? ((l: string) => void process.stdout.write(l + '\n'));
  const err = o.err ?? ((l: string) => void process.stderr.write(l + '\n'));
  const info = (l: string): void => {
    if (!o.quiet) err(`agentgit watch: ${l}`);
  };
  let ctx: Context = await openContext(o.dir);
  const root = ctx.repo.root;
  const gitDir = ctx.repo.gitDir;
  let policy: Policy = ctx.policy;
  let remote = ctx.settings.remote;
  let branch = ctx.settings.branch;
  let remoteUrl = ctx.config.get(`remote.${remote}.url`) ?? null;
  let hubDir = localHubDir(remoteUrl, ctx.repo.root, ctx.config);
  let shareSsh = !pushGoesElsewhere(ctx.config, remote); // as the round decides (sync/ssh-ahead.ts)
  let sshRules = urlRules(ctx.config);
  ctx.repo.close();
  const watchFile = ctx.repo.stateFile('watch.json');
  const repo = ctx.repo; // kept for ls-remote and ref reads; no cat-file session is opened by those

  let s = initialState(Date.now(), o);
  let stopping = false;
  let wakeUp: (() => void) | null = null;
  const wake = (): void => {
    const w = wakeUp;
    wakeUp = null;
    w?.();
  };
  let reload = false;
  let wasPaused: PauseInfo | null = null;
  let lastNotes = '';
  let lastError = '';
  let lastRoundEnd = 0;
  const ssh: { close: (() => void) | null } = { close: null };

  const w: WatchInfo = { pid: process.pid, start: processStart(process.pid), host: hostname(), startedAt: Date.now(), lastRoundAt: null, lastTrigger: null, lastExitCode: null, rounds: 0, failures: 0, backoffUntil: null, stoppedAt: null, intervalSec: o.intervalSec };
  await writeWatchInfo(watchFile, w);

  // local changes
  // the paths changed since the last round (bounded: past 256 any change counts)
  const changed = new Set<string>();
  let overflow = false;
  const onChange = (rel: string): void => {
    if (rel !== '' && !relevantChange(rel, policy)) return;
    if (rel === '' || changed.size >= 256) overflow = true;
    else changed.add(rel);
    const now = Date.now();
    s.lastEventAt = now;
    s.dirtySince ??= now;
    wake();
  };
  const watcher = new TreeWatcher(root, onChange, (e) => info(`file watching failed (${e}); local changes go out with the next interval round`));
  watcher.start();
  // a hub on disk says when its refs change: poll at once (at most every 100 ms) rather than at the next --poll
  let lastPollAt = 0;
  const hubWatch = new HubRefWatcher(() => {
    s.nextPollAt = Math.min(s.nextPollAt, lastPollAt + 100);
    wake();
  });
  hubWatch.watch(hubDir, branch);

  const onStop = (): void => {
    if (stopping) {
      // second signal: abandon the round (crash-safe: the next round recovers)
      w.stoppedAt = Date.now();
      void writeWatchInfo(watchFile, w).finally(() => process.exit(0));
      return;
    }
    stopping = true;
    wake();
  };
  const onHup = (): void => {
    reload = true;
    wake();
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);

  info(`watching ${root} (debounce ${o.debounceMs} ms, poll ${o.pollSec} s, interval ${o.intervalSec} s)`);
  keepObjectReaders(true); // one `git cat-file --batch` for the rounds, not one a round (git/objects.ts)
  try {
    while (!stopping) {
      if (reload) {
        reload = false;
        try {
          ctx = await openContext(o.dir);
          policy = ctx.policy;
          remote = ctx.settings.remote;
          branch = ctx.settings.branch;
          remoteUrl = ctx.config.get(`remote.${remote}.url`) ?? null;
          hubDir = localHubDir(remoteUrl, ctx.repo.root, ctx.config);
          shareSsh = !pushGoesElsewhere(ctx.config, remote);
          sshRules = urlRules(ctx.config);
          if (!shareSsh) stopSharing(); // the connection shared so far is not this config's to use
          hubWatch.watch(hubDir, branch);
          ctx.repo.close();
          info('SIGHUP: re-read the policy');
        } catch (e) {
          err(`agentgit watch: SIGHUP: could not re-read the policy, keeping the old one: ${redactSecrets((e as Error).message)}`);
        }
        s.forced ??= 'interval'; // a round under the new policy
      }
      const now = Date.now();
      const paused = readPause(gitDir, now);
      if (paused) {
        if (!wasPaused) info(paused.until === null ? 'paused until `agentgit resume`' : `paused until ${new Date(paused.until).toISOString()}`);
        wasPaused = paused;
        await sleep(1000);
        continue;
      }
      if (wasPaused) {
        wasPaused = null;
        info('resumed');
        s.forced = 'resume';
        s.backoffUntil = 0;
      }
      if (pollDue(s, now)) {
        s.nextPollAt = now + o.pollSec * 1000;
        lastPollAt = now;
        const t = performance.now();
        const p = await hubMoved(repo, remote, branch, remoteUrl, hubDir, o.pollSec, shareSsh ? sshRules : null, (c) => (ssh.close = c ?? ssh.close));
        s.hubMoved = p.moved;
        if (TRACE) process.stderr.write(`[trace poll ${p.how} ${Math.round((performance.now() - t) * 1000)}us]\n`);
        continue;
      }
      const trigger = dueTrigger(s, now, o);
      if (!trigger) {
        await sleep(nextWake(s, now, o));
        continue;
      }
      const decidedAt = performance.now();
      if (trigger === 'local' && !overflow && changed.size > 0 && (s.dirtySince ?? 0) <= lastRoundEnd + SELF_WRITE_MS) {
        // A round's own checkout writes files (their events come during the
        // round or just after it): when git sees nothing to commit in the
        // changed paths, no round. Changes that began well after the last
        // round are the agent's: no process spent asking.
        const paths = [...changed];
        changed.clear();
        s.lastEventAt = s.dirtySince = null;
        if (await cleanPaths(repo, paths)) continue;
      }
      changed.clear();
      overflow = false;
      const startedAt = Date.now();
      const hub = hubDir;
      const r = await syncRound({ dir: o.dir, push: true, timeoutSec: o.timeoutSec ?? 120, waitSec: 0, keepSsh: true, hubHead: trigger === 'local' && hub !== null ? () => readHubRef(hub, branch) : undefined });
      forgetWrittenObjects(KEPT_OBJECT_BYTES); // the objects the next round most likely reads again (its trees, the blobs of the logs it appends to), no more
      retireOldMasters(); // the connection kept across rounds is renewed as a cron round's is (git/ssh.ts)
      const end = Date.now();
      lastRoundEnd = end;
      const lockBusy = r.exitCode === 75 && (/another agentgit sync/.test(r.error ?? '') || r.lockLost === true);
      const failedBefore = s.failures;
      const a = afterRound(s, trigger, startedAt, end, r.paused ? 0 : r.exitCode, lockBusy, o);
      // events that arrived during the round were written into s by the watcher callback: keep them
      s = { ...a.state, lastEventAt: s.lastEventAt !== null && s.lastEventAt >= startedAt ? s.lastEventAt : a.state.lastEventAt, dirtySince: s.lastEventAt !== null && s.lastEventAt >= startedAt ? s.dirtySince : a.state.dirtySince };
      if (r.paused) continue; // paused between our check and the round: the loop says so
      w.rounds++;
      w.lastRoundAt = end;
      w.lastTrigger = trigger;
      w.lastExitCode = r.exitCode;
      w.failures = s.failures;
      w.backoffUntil = s.backoffUntil || null;
      await writeWatchInfo(watchFile, w).catch(() => undefined);
      if (o.json) out(JSON.stringify(redactDeep({ ok: r.exitCode === 0, trigger, watchMs: Math.round(performance.now() - decidedAt), ...r, held: r.held.map(({ path, reason, detail }) => ({ path, reason, detail })) })));
      if (a.hub === 'down') err(`agentgit watch: hub unreachable: ${redactSecrets(firstLine(r.error))}; local work is committed and kept; retrying with back-off (up to ${MAX_BACKOFF_MS / 60_000} min)`);
      else if (a.hub === 'up') err(`agentgit watch: hub back after ${failedBefore} failed round${failedBefore === 1 ? '' : 's'}; synced`);
      if (r.exitCode === 1) {
        const e = redactSecrets(r.error ?? 'failed');
        if (e !== lastError) err(`agentgit watch: round failed, nothing lost: ${e}`);
        lastError = e;
      } else if (r.exitCode === 0) {
        if (lastError) info('rounds succeed again');
        lastError = '';
        if (!o.json && !o.quiet && (r.committed || r.mergedFromHub || r.pushed)) out(summary(r, trigger));
      }
      const notes = r.notes.join('\n');
      if (notes !== lastNotes && !o.quiet && !o.json) for (const n of r.notes) err(`agentgit watch: ${redactSecrets(n)}`);
      lastNotes = notes;
      if (o.maxRounds !== undefined && w.rounds >= o.maxRounds) break;
    }
  } finally {
    keepObjectReaders(false);
    watcher.close();
    hubWatch.watch(null, branch);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
    // the rounds kept the shared ssh connection (keepSsh): let it go as a round's end does (a master older than 15 min is stopped), polled over or not
    (ssh.close ?? (remoteUrl && shareSsh ? shareSshConnection(remoteUrl, agentgitHome(), sshRules) : null))?.();
    w.stoppedAt = Date.now();
    await writeWatchInfo(watchFile, w).catch(() => undefined);
    info(`stopped after ${w.rounds} round${w.rounds === 1 ? '' : 's'}`);
  }
  return 0;

  function sleep(ms: number): Promise<void> {
    if (stopping || ms <= 0) return Promise.resolve();
    return new Promise((res) => {
      const t = setTimeout(() => {
        wakeUp = null;
        res();
      }, ms);
      wakeUp = () => {
        clearTimeout(t);
        res();
      };
    });
  }
}

/** Whether git sees nothing to commit in these work-tree paths (false when it cannot tell). */
async function cleanPaths(repo: Context['repo'], paths: string[]): Promise<boolean> {
  try {
    return await repo.pathsClean(paths, 10_000);
  } catch {
    return false;
  }
}

const TRACE = process.env.AGENTGIT_TRACE === '1';
/** How long after a round the events of its own writes may still arrive (inotify delivers them within milliseconds; a later one costs a round that finds nothing and writes nothing). */
const SELF_WRITE_MS = 1000;
/** Objects kept in memory between rounds (git/objects.ts): the last round's trees and blobs, bounded so memory stays flat for days. */
const KEPT_OBJECT_BYTES = 4 << 20;

/**
 * The bare repository a hub URL names on this machine (a path, relative to
 * the work tree, or a file:// URL), whose refs the poll may read from its
 * files; null for any other hub, or when a url.*.insteadOf rule could
 * rewrite the URL git would use.
 */
export function localHubDir(url: string | null, root: string, config: Map<string, string>): string | null {
  if (!url || isSshUrl(url)) return null;
  for (const k of config.keys()) if (/^url\..*\.(push)?insteadof$/i.test(k)) return null;
  let p: string;
  if (/^file:\/\//i.test(url)) {
    try {
      p = fileURLToPath(url);
    } catch {
      return null;
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return null;
  else p = resolve(root, url);
  try {
    return statSync(join(p, 'objects')).isDirectory() && statSync(join(p, 'HEAD')).isFile() ? p : null;
  } catch {
    return null;
  }
}

/** A hub's branch head read from its files; undefined when only git can tell (or a file there is not a small regular file: a FIFO would hang the read). */
export function readHubRef(hubDir: string, branch: string): string | null | undefined {
  const ref = `refs/heads/${branch}`;
  for (const [f, max] of [[ref, 4096], ['packed-refs', 64 << 20]] as const) {
    try {
      const st = lstatSync(join(hubDir, f));
      if (!st.isFile() || st.size > max) return undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    }
  }
  return Repo.bareAt(hubDir).readRef(ref);
}

/**
 * The cheap poll: the hub's branch head against the remote-tracking ref. A
 * hub on this machine is read in-process (its ref files, no process); any
 * other hub, or one whose refs only git can read, is asked with `git
 * ls-remote`, over ssh on a shared connection (a ControlMaster that stays
 * up between polls). Moved when they differ or the hub could not be asked
 * (the round then finds out and backs off).
 */
async function hubMoved(repo: Context['repo'], remote: string, branch: string, url: string | null, hubDir: string | null, pollSec: number, share: string | null, keepCloser: (c: (() => void) | null) => void): Promise<{ moved: boolean; how: 'file' | 'ls-remote' | 'none' }> {
  if (!url) return { moved: false, how: 'none' };
  const track = `refs/remotes/${remote}/${branch}`;
  const inProcess = hubDir !== null ? readHubRef(hubDir, branch) : undefined;
  if (inProcess !== undefined) {
    const local = repo.readRef(track);
    if (local !== undefined) return { moved: inProcess !== local, how: 'file' };
  }
  if (share !== null) keepCloser(shareSshConnection(url, agentgitHome(), share)); // share: the repo's URL rules (urlRules)
  try {
    const r = await repo.lsRemote(remote, [`refs/heads/${branch}`], { timeoutMs: Math.max(10_000, pollSec * 1000) });
    if (r.code !== 0 && r.code !== 2) return { moved: true, how: 'ls-remote' }; // unreachable: as when git fails
    const theirs = r.refs.get(`refs/heads/${branch}`) ?? null;
    const local = repo.readRef(track) ?? (await repo.exactRefs([track])).get(track) ?? null;
    return { moved: theirs !== local, how: 'ls-remote' };
  } catch {
    return { moved: true, how: 'ls-remote' };
  }
}

/**
 * The directories of a hub on disk where its branch ref changes: the
 * loose ref's directory and the top (packed-refs). An event only makes the
 * poll come sooner; what the poll reads decides.
 */
class HubRefWatcher {
  private ws: FSWatcher[] = [];
  constructor(private readonly onChange: () => void) {}

  watch(hubDir: string | null, branch: string): void {
    for (const w of this.ws.splice(0)) w.close();
    if (!hubDir) return;
    for (const d of new Set([dirname(join(hubDir, 'refs', 'heads', branch)), hubDir])) {
      try {
        const w = fsWatch(d, { persistent: false }, () => this.onChange());
        w.on('error', () => w.close());
        this.ws.push(w);
      } catch {
        /* not there (yet): the poll still runs every --poll */
      }
    }
  }
}

/**
 * Recursive file watching with one inotify watch per directory (`.git`
 * left out). Node 20's own `recursive: true` on Linux watches files one by
 * one and loses a file replaced by rename (as a checkout writes it), so
 * later appends to it go unseen; a directory watch sees every change to
 * its entries. New directories are added as they appear, removed ones
 * dropped: the map holds exactly the directories that exist.
 */
export class TreeWatcher {
  private readonly dirs = new Map<string, FSWatcher>();
  constructor(
    private readonly root: string,
    private readonly onChange: (rel: string) => void,
    private readonly onError: (message: string) => void,
  ) {}

  start(): void {
    this.add('');
  }

  private add(rel: string): void {
    if (this.dirs.has(rel) || rel === '.git' || rel.startsWith('.git/')) return;
    const abs = rel ? join(this.root, rel) : this.root;
    let w: FSWatcher;
    try {
      w = fsWatch(abs, { persistent: true }, (event, name) => {
        if (name === null) {
          this.onChange(rel);
          return;
        }
        const child = rel ? `${rel}/${String(name)}` : String(name);
        if (child === '.git' || child.startsWith('.git/')) return;
        this.onChange(child);
        if (event === 'rename') {
          let isDir = false;
          try {
            isDir = statSync(join(this.root, child)).isDirectory();
          } catch {
            this.drop(child);
          }
          if (isDir) this.add(child);
        }
      });
    } catch (e) {
      if (rel === '') this.onError((e as Error).message);
      return;
    }
    w.on('error', () => this.drop(rel));
    this.dirs.set(rel, w);
    let entries: string[] = [];
    try {
      entries = readdirSync(abs, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      /* gone meanwhile */
    }
    for (const e of entries) this.add(rel ? `${rel}/${e}` : e);
  }

  /** Stop watching a directory that went away, and everything under it. */
  private drop(rel: string): void {
    for (const [d, w] of this.dirs) {
      if (d === rel || d.startsWith(rel + '/')) {
        w.close();
        this.dirs.delete(d);
      }
    }
  }

  get size(): number {
    return this.dirs.size;
  }

  close(): void {
    for (const w of this.dirs.values()) w.close();
    this.dirs.clear();
  }
}
