/**
 * One sync round, as in docs/sync.md: syncRound runs the phases in order,
 * each a function that returns its result, and assembles the outcome:
 *   lockAndRecover (SyncLock.acquire, recover, repairClone) →
 *   commitLocal (commitLocalChanges, sync/commit.ts) →
 *   exchangeWithHub, retried while another instance pushes first:
 *     fetchAndVerify (fetchHub, relate, verifyIncoming: verifyRange +
 *     treeRejections) → integrate (fast-forward, crossEpoch, or
 *     mergeCommits in sync/integrate.ts) → checkoutMerged (sync/checkout.ts)
 *     → publish (admission, foldUnverifiable, scanBeforePush, pushHub) →
 *   rebuildDerived → record.
 * A phase that fails partway throws a PhaseError carrying what it did: the
 * round reports and records that exactly as if the phase had returned it.
 *
 * Exit codes: 0 ok; 1 failed, nothing lost (held files, bad policy, a merge
 * started by hand, auth refused); 75 temporary (hub unreachable or slow,
 * another sync holds the lock); local work is always committed first.
 */
import { treeLimitsOf, treeRejections } from '../git/paths.js';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { isClockPath } from './clocks.js';
import { fetchRefspec, makeHeartbeat, pushRefspec } from './heartbeat.js';
import { join, normalize } from 'node:path';
import { GitError, gitFailure, setChildDeadline } from '../git/exec.js';
import { exitCodeOf, EXIT, firstLine, messageOf, PhaseError, TemporaryError } from '../errors.js';
import type { CommitInfo, Repo, StatusEntry } from '../git/repo.js';
import { commitLocalChanges } from './commit.js';
import { openContext, settleAccepted, type Context } from './context.js';
import { Policy } from '../policy/policy.js';
import type { Held } from './guard.js';
import { ClockSource } from './hlc.js';
import { LockLostError, SyncLock } from '../lock.js';
import { pauseLine, readPause } from './pause.js';
import { shareSshConnection, stopSharing, warmSshConnection } from '../git/ssh.js';
import { ownedByMe, pushGoesElsewhere, rewritesUrls, urlRules } from './ssh-ahead.js';
import { agentgitHome } from '../identity/keys.js';
import { repairClone, writeVersionedSetup } from './setup.js';
import { allDone } from './all-done.js';
import { heldSummary, readState, trackOutage, writeState } from './state.js';
import { armFailpoints, failpoint } from '../failpoint.js';
import { withInstanceTrailer } from '../git/trailers.js';
import { RejectedError } from '../errors.js';
import type { CrossingOutcome } from './compact.js';
import type { IntegrateResult } from './integrate.js';

// The modules a round needs only when the hub brought something, or local
// work must be checked, are loaded on first use: a no-op round (every minute,
// on every instance) loads none of the merge kinds, identity or rebuild code.
const admission = () => import('../identity/admission.js');
const lazyCheckout = () => import('./checkout.js');

export interface SyncOptions {
  dir: string;
  push: boolean;
  timeoutSec: number;
  waitSec: number;
  /** Max push attempts before giving up with 75. */
  maxTries?: number;
  /**
   * The watcher's cheap look at the hub (its ref files, for a hub on this
   * machine): the hub's branch head, or undefined when it cannot tell. When
   * it equals the remote-tracking ref, the round's first fetch is skipped (a
   * hub that moved meanwhile rejects the push, and the next attempt fetches).
   */
  hubHead?: () => string | null | undefined;
  /**
   * A round of `agentgit sync` (cron): when the hub is a repository on this
   * machine whose branch and heartbeats equal what the last fetch brought,
   * skip the fetch (sync/hub-files.ts). The watcher passes hubHead itself.
   */
  quietHub?: boolean;
  /** Leave the shared ssh connection up when the round ends (the watcher polls and syncs over it, and closes it itself). */
  keepSsh?: boolean;
}

export interface SyncOutcome {
  exitCode: 0 | 1 | 75;
  /** The round stopped because its sync lock was taken over while it was stopped (lock.ts LockLostError). */
  lockLost?: boolean;
  committed: number;
  mergedFromHub: number;
  mergedByKind: Record<string, number>;
  conflicts: number;
  collisions: number;
  pushed: string | null;
  fastForward: boolean;
  held: Held[];
  notes: string[];
  error: string | null;
  durationMs: number;
  head: string | null;
  /** Set when this instance's key is not admitted: its allowed_signers line. */
  notAdmitted?: string;
  /** Set when the round rebuilt derived state. */
  rebuild?: { ms: number; error: string | null };
  /** Set on exit 75: since when syncs fail temporarily, and whether a quiet run should say so now. */
  outage?: { since: number; seconds: number; report: boolean; thresholdSec: number };
  /** Set when the round did nothing because of `agentgit pause` (ISO end, or null: until resume). */
  paused?: { until: string | null };
}

// error classes and the sorting of git's failures live in src/errors.ts
export { TemporaryError, classifyGitError } from '../errors.js';

export class Deadline {
  private readonly end: number;
  constructor(sec: number) {
    this.end = Date.now() + sec * 1000;
  }
  left(): number {
    const ms = this.end - Date.now();
    if (ms <= 0) throw new TemporaryError('the sync ran out of time (--timeout); local work is committed, the next run goes on');
    return ms;
  }
}

/** A small file's text, or `fallback` when it cannot be read (synchronous: read once a round). */
function readTextOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** Recover what a kill -9 left. Returns notes; throws on a person's merge in progress. */
export async function recover(repo: Repo, ctx: Context): Promise<string[]> {
  const notes: string[] = [];
  const g = repo.gitDir;
  for (const f of ['MERGE_HEAD', 'rebase-merge', 'rebase-apply', 'CHERRY_PICK_HEAD', 'REVERT_HEAD']) {
    if (existsSync(join(g, f))) {
      throw new Error(`a ${f.startsWith('rebase') ? 'rebase' : f === 'MERGE_HEAD' ? 'merge' : 'cherry-pick/revert'} started by hand is in progress in ${repo.root}; finish it or abort it (\`git merge --abort\` / \`git rebase --abort\`), then sync again`);
    }
  }
  await removeStaleIndexLock(repo, notes);
  if (existsSync(repo.stateFile('checkout.json'))) {
    const r = await (await lazyCheckout()).recoverCheckout(repo, ctx.policy);
    if (r) notes.push(r);
  }
  // temp files of an interrupted round
  rmSync(repo.stateFile(`index.${process.pid}.tmp`), { force: true });
  return notes;
}

/**
 * Remove git's lock files left by a killed git (index.lock; HEAD.lock,
 * packed-refs.lock and refs/**.lock of a killed `git update-ref`) only when
 * no git process is at work in this repo. A lock is held only while its
 * process lives, so a stale one carries nothing: the change it guarded was
 * never applied.
 */
async function removeStaleIndexLock(repo: Repo, notes: string[]): Promise<void> {
  const g = repo.gitDir;
  const locks: string[] = ['index.lock', 'HEAD.lock', 'packed-refs.lock'].filter((f) => existsSync(join(g, f)));
  const walk = (rel: string): void => {
    let ents;
    try {
      ents = readdirSync(join(g, rel), { withFileTypes: true }); // synchronous: a handful of small directories, every round
    } catch {
      return;
    }
    for (const e of ents) {
      if (e.isDirectory()) walk(`${rel}/${e.name}`);
      else if (e.name.endsWith('.lock')) locks.push(`${rel}/${e.name}`);
    }
  };
  walk('refs');
  if (locks.length === 0) return;
  let stale = locks;
  // the in-process engine takes git's locks from node: another agentgit process (a lease renewal, a trust) may hold them
  const inProcess = repo.caps.engine === 'isomorphic-git';
  if ((await gitProcessIn(repo.root, inProcess)) !== false) {
    // git at work, or no way to tell (no /proc) (a detached auto gc holds packed-refs.lock for a moment): only locks older than 10 min are stale
    const fresh = new Set<string>();
    for (const l of locks) if (Date.now() - (await stat(join(g, l)).then((s) => s.mtimeMs, () => 0)) < 10 * 60_000) fresh.add(l);
    if (fresh.has('index.lock')) throw new TemporaryError(`git is running in ${repo.root} (index.lock held); will retry next round`);
    stale = locks.filter((l) => !fresh.has(l));
    if (stale.length === 0) return;
  }
  for (const l of stale) await rm(join(g, l), { force: true });
  notes.push(`removed a stale .git/${stale.join(', .git/')} left by an interrupted git process`);
}

/**
 * Whether a git process works in `root` (or, with `anyAgentgit`, whether any
 * other agentgit process works on this repo, started in it or pointed at it
 * with `-C ROOT`: the isomorphic-git engine holds git's lock files from
 * node); null
 * when this system cannot tell (no /proc): the caller keeps fresh locks then.
 */
async function gitProcessIn(root: string, anyAgentgit = false): Promise<boolean | null> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  } catch {
    return null; // not Linux: only the caller's age check decides
  }
  const mine = anyAgentgit ? await ancestors() : new Set([String(process.pid)]);
  for (const pid of pids) {
    if (mine.has(pid)) continue;
    try {
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
      const git = comm.startsWith('git');
      if (!git && !anyAgentgit) continue;
      const cwd = await readlink(`/proc/${pid}/cwd`);
      const inRoot = cwd === root || cwd.startsWith(root + '/');
      if (git) {
        if (inRoot) return true;
        continue;
      }
      // another agentgit process on this repo: started in it, or pointed at it (-C ROOT)
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      if (argv.some((a) => a.includes('agentgit')) && (inRoot || argv.some((a) => a === root || a.startsWith(root + '/')))) return true;
    } catch {
      /* gone or not ours */
    }
  }
  return false;
}

/** This process and its ancestors (the shell or `lease run` that started it name this repo too, and hold no lock). */
async function ancestors(): Promise<Set<string>> {
  const out = new Set<string>();
  for (let pid = String(process.pid); pid !== '0' && !out.has(pid); ) {
    out.add(pid);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    pid = /\) \S (\d+)/.exec(stat)?.[1] ?? '0';
  }
  return out;
}

/** Fetch the hub's branch into its remote-tracking ref; false when the hub has no such branch yet. */
export async function fetchHub(repo: Repo, remote: string, branch: string, dl: Deadline): Promise<boolean> {
  const found = await fetchOnly(repo, remote, branch, dl);
  if (found) await failpoint('fetch'); // fetched, nothing has used it yet (docs/reliability.md)
  return found;
}

/** git's words when a ref the fetch updates is locked or moved by another git process at that moment. */
const REF_BUSY = /cannot lock ref '[^']+': (?:is at [0-9a-f]+ but expected [0-9a-f]+|Unable to create '[^']*\.lock': File exists)/;

async function fetchOnly(repo: Repo, remote: string, branch: string, dl: Deadline, signal?: AbortSignal): Promise<boolean> {
  const track = `refs/remotes/${remote}/${branch}`;
  const fetch = () => repo.fetch(remote, [`+refs/heads/${branch}:${track}`, fetchRefspec()], { timeoutMs: dl.left(), ...(signal ? { signal } : {}) });
  let r = await fetch();
  // Another git updates the same ref (a fetch a kill -9 of agentgit alone left
  // running, the operator's own fetch): once more after it had a moment, then
  // temporary, never "failed". A lock no process holds is removed at the
  // round's start (recover).
  if (r.code !== 0 && REF_BUSY.test(r.stderr) && !signal?.aborted) {
    await new Promise((done) => setTimeout(done, Math.min(1000, Math.max(0, dl.left() - 1000))));
    if (!signal?.aborted) r = await fetch();
    if (r.code !== 0 && REF_BUSY.test(r.stderr)) throw new TemporaryError(`git fetch: another git process is updating the remote-tracking refs in ${repo.root} (${firstLine(r.stderr.split('\n').find((l) => REF_BUSY.test(l)) ?? r.stderr)}); retry later (a lock no git process holds is removed by the next sync)`);
  }
  if (r.code === 1) throw gitFailure(['fetch'], r.code, r.stderr);
  if (r.code === 128) {
    if (r.missingRemoteRef) return false; // empty hub: nothing to merge
    throw new GitError(`git fetch failed: ${firstLine(r.stderr)}`, ['fetch'], 128, r.stderr, false);
  }
  return true;
}

/** The round's first fetch, run beside the local commit; settled, so that a failure waits for the commit to finish. */
type Prefetch = Promise<{ found: boolean } | { error: unknown }>;

/**
 * Start the round's first fetch while the local commit is being made (git
 * CLI engine): the fetch reads only refs that point at objects already on
 * disk and writes only the remote-tracking ref, so it needs nothing the
 * commit writes, and the commit nothing it fetches. Not started when the
 * hub on disk shows its head unmoved (the round then fetches nothing), nor
 * when ssh cannot reach the hub (the round reports that after the commit),
 * nor on first contact: the remote-tracking ref it writes would outlive a
 * round whose commit failed, and the next round would no longer see a first
 * contact (verifyRange's allowBootstrap). A round that ends before using it
 * stops it (`signal`).
 */
function startPrefetch(repo: Repo, settings: Context['settings'], dl: Deadline, sshReady: Promise<string | null> | undefined, signal: AbortSignal): Prefetch {
  const fetched = async (): Promise<{ found: boolean }> => {
    const unreachable = await sshReady;
    if (unreachable) throw new GitError(`git fetch failed: ${firstLine(unreachable)}`, ['fetch'], 128, unreachable, false);
    if (signal.aborted) throw new Error('not needed');
    return { found: await fetchOnly(repo, settings.remote, settings.branch, dl, signal) };
  };
  return fetched().catch((error: unknown) => ({ error }));
}

/** The prefetch's outcome, taken once the local commit is made: its error thrown now, or the fetch's failpoint passed. */
async function takePrefetch(pre: Prefetch): Promise<boolean> {
  const r = await pre;
  if ('error' in r) throw r.error;
  if (r.found) await failpoint('fetch');
  return r.found;
}

type PushResult = 'ok' | 'rejected';
/** Why the last push was refused, when a lock file on the hub said so. */
interface Refused {
  lock: string | null;
}

/** Push the branch (never forced) and, in the same connection, this instance's heartbeat. */
async function pushHub(repo: Repo, remote: string, refspecs: string[], dl: Deadline, refused?: Refused): Promise<PushResult> {
  const r = await repo.push({ remote, refspecs, timeoutMs: dl.left() });
  if (r.code === 0) return 'ok';
  if (r.code === 128) throw gitFailure(['push'], r.code, r.stderr);
  const all = r.stdout + r.stderr;
  if (/\[rejected\]|non-fast-forward|fetch first|stale info|failed to update ref|cannot lock ref/i.test(all)) {
    // a lock file on the hub (another push at work, or one killed there): named if it outlasts the retries
    const held = /Unable to create '([^'\n]+\.lock)': File exists/.exec(all)?.[1];
    if (refused) refused.lock = held ? normalize(held) : null; // git writes it as HUB/./refs/…
    return 'rejected';
  }
  // what the hub said (a pre-receive hook's message, a quota) is what the operator needs
  const said = r.stderr.split('\n').filter((l) => /^remote: \S/.test(l)).map((l) => l.slice(8).trim()).slice(0, 3).join(' / ');
  const why = said ? `the hub refused the push: ${said}` : firstLine(r.stderr) || firstLine(r.stdout);
  throw new GitError(`git push failed: ${why}`, ['push'], r.code, r.stderr, false);
}

export { RejectedError };

/** What each phase had done when it stopped. */
type PhasePartial = { phase: 'recover'; notes: string[] } | { phase: 'commit'; committed: Committed } | { phase: 'exchange'; exchanged: Exchanged } | { phase: 'attempt'; head: string | null };

/** What a phase that throws stops with: its own error, unwrapped from a PhaseError (whose partial `keep` receives). */
function unwrap(e: unknown, keep: (partial: PhasePartial) => void): unknown {
  if (!(e instanceof PhaseError)) return e;
  keep(e.partial as PhasePartial); // only the round's phases throw PhaseErrors, each with its tag
  return e.error;
}

/** What the exchange with the hub needs; nothing in it changes during the round. */
interface Exchange {
  repo: Repo;
  policy: Context['policy'];
  settings: Context['settings'];
  ref: string;
  clocks: ClockSource;
  dl: Deadline;
  push: boolean;
  tries: number;
  /** The heartbeat commit to publish with this push; `due` false: only if one is due anyway. */
  heartbeat: Heartbeat;
  hubHead?: SyncOptions['hubHead'];
  /** The remote-tracking ref as the round found it, read before any fetch (`undefined`: read it at the exchange's start). */
  trackBefore?: string | null;
  /** The first fetch, started beside the local commit (startPrefetch). */
  prefetched?: Prefetch;
  /** Throws unless the round still holds its sync lock (SyncLock.assertHeld): asked before each step that writes. */
  stillHeld: () => Promise<void>;
  /** Filled by a refused push (a lock file the hub named). */
  refused?: Refused;
}

/** What the hub's commits changed here: added up over the exchange's attempts. */
interface Tally {
  mergedFromHub: number;
  mergedByKind: Record<string, number>;
  conflicts: number;
  collisions: number;
  fastForward: boolean;
  notes: string[];
}

/** What the exchange did (so far, when a PhaseError carries it). */
interface Exchanged extends Tally {
  /** The branch head before the exchange (for the rebuild check). */
  startHead: string | null;
  /** The branch head now. */
  head: string | null;
  pushed: string | null;
  notAdmitted?: string;
  /** When the last heartbeat was built (recorded once the round succeeds). */
  heartbeatAt: number | null;
}

/** fetchAndVerify's result: both heads and how they relate; the hub's commits are verified unless the histories are unrelated (integrate decides those). */
interface Fetched {
  ours: string | null;
  theirs: string | null;
  bases: string[];
  incoming: CommitInfo[] | undefined;
  firstContact: boolean;
}

/** integrate's result: what checkoutMerged moves the branch and work tree to. */
type Integrated =
  | { kind: 'none' } // nothing from the hub: the head stays ours
  | { kind: 'crossed'; head: string; tally: CrossingOutcome } // a new epoch, already checked out (compact.ts)
  | { kind: 'fast-forward'; to: string }
  | { kind: 'merge'; merge: IntegrateResult }
  | { kind: 'unborn'; to: string }; // nothing committed here yet: start from the hub

/** checkoutMerged's result. */
interface CheckedOut {
  head: string | null;
  tally: Partial<Tally>;
}

/** publish's result: 'rejected' when another instance pushed first (the exchange tries again). */
interface Published {
  status: 'done' | 'rejected';
  head: string | null;
  pushed?: string;
  notAdmitted?: string;
  heartbeatAt?: number;
}

/**
 * How our head and the hub's relate: their merge bases (one merge-base
 * answers both "is the hub behind us?" and "can we fast-forward?") and,
 * when known without git, the commits the hub brings. In the usual round
 * the hub's head at the last fetch is the base: our local commits lead back
 * to it, and the hub's new commits lead back to it or to its near
 * ancestors (another instance's merge brings its own older parent). Short
 * walks through the cat-file session prove it: no `merge-base`, and no
 * `git log` for the commits to verify. The list of incoming commits holds
 * every commit `git log theirs ^ours` gives; rarely (a path back that meets
 * our history below the near ancestors) also an older one of ours, which
 * verification then checks again: a refusal is only ever decided on git's
 * exact list.
 */
async function relate(repo: Repo, ours: string, theirs: string, lastSeen: string | null): Promise<{ bases: string[]; incoming: CommitInfo[] | undefined }> {
  if ((await repo.parentsOf(ours)).includes(theirs)) return { bases: [theirs], incoming: undefined };
  if (lastSeen !== null) {
    // Both walks stop at lastSeen or a near ancestor of it. When both meet
    // lastSeen itself, every ancestor of either head is a commit of its walk
    // or below lastSeen; so lastSeen is the one best common ancestor, unless
    // a commit is in both walks (the hub already holds one of ours): git then.
    // (A retry after our merge commit walks back through lastSeen too.)
    const near = await repo.ancestorsNear(lastSeen, 32);
    const [local, incoming] = await Promise.all([repo.commitsSince(ours, near), repo.commitsSince(theirs, near)]);
    if (local && incoming && local.reached.has(lastSeen) && incoming.reached.has(lastSeen)) {
      const mine = new Set(local.commits.map((c) => c.oid));
      if (!incoming.commits.some((c) => mine.has(c.oid))) return { bases: [lastSeen], incoming: incoming.commits };
    }
  }
  return { bases: await repo.mergeBases(ours, theirs), incoming: undefined };
}


const unrelated = (f: Fetched): boolean => f.theirs !== null && f.ours !== null && f.theirs !== f.ours && f.bases.length === 0;

/**
 * The hub's exchange: fetchAndVerify → integrate → checkoutMerged → publish,
 * retried while another instance keeps pushing first. Throws a PhaseError
 * carrying what it did before the step that failed.
 */
async function exchangeWithHub(x: Exchange): Promise<Exchanged> {
  const { repo, settings, ref } = x;
  const track = `refs/remotes/${settings.remote}/${settings.branch}`;
  const before = await repo.exactRefs(x.trackBefore === undefined ? [ref, track] : [ref]);
  if (x.trackBefore) before.set(track, x.trackBefore);
  const firstContact = !before.has(track);
  const publicKey = readTextOr(`${settings.signingKey}.pub`, '');
  const ex: Exchanged = { startHead: before.get(ref) ?? null, mergedFromHub: 0, mergedByKind: {}, conflicts: 0, collisions: 0, fastForward: false, notes: [], head: null, pushed: null, heartbeatAt: null };
  let lastSeen = before.get(track) ?? null; // the hub's head as of the last fetch
  try {
    for (let attempt = 1; ; attempt++) {
      const f = await fetchAndVerify(x, { lastSeen, attempt, firstContact });
      lastSeen = f.theirs;
      const merged = await integrate(x, f);
      await x.stillHeld(); // stopped past the lock's bound meanwhile (a paused container): leave the work tree to the round that holds it now
      const c = await checkoutMerged(x, f, merged);
      addTally(ex, c.tally);
      ex.head = c.head;
      await x.stillHeld();
      const p = await publish(x, { head: c.head, theirs: f.theirs, conflicts: ex.conflicts, publicKey });
      ex.head = p.head;
      ex.heartbeatAt = p.heartbeatAt ?? ex.heartbeatAt;
      if (p.notAdmitted) ex.notAdmitted = p.notAdmitted;
      if (p.pushed) ex.pushed = p.pushed;
      if (p.status === 'done') return ex;
      if (attempt >= x.tries) {
        const lock = x.refused?.lock;
        if (lock) throw new TemporaryError(`a ref is locked: ${lock} exists (another git at work there, or one killed there left it; git never removes it); local work is committed, the next run goes on; if the file stays and no git runs there, remove it`);
        throw new TemporaryError(`the hub kept moving: push rejected ${attempt} times; local work is committed, the next run goes on`);
      }
      const backoff = Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random());
      await new Promise((r) => setTimeout(r, Math.min(backoff, Math.max(0, x.dl.left() - 1000))));
    }
  } catch (e) {
    throw new PhaseError(
      { phase: 'exchange', exchanged: ex },
      unwrap(e, (p) => {
        if (p.phase === 'attempt') ex.head = p.head;
      }),
    );
  }
}

function addTally(t: Tally, add: Partial<Tally>): void {
  t.mergedFromHub += add.mergedFromHub ?? 0;
  for (const [kind, n] of Object.entries(add.mergedByKind ?? {})) t.mergedByKind[kind] = (t.mergedByKind[kind] ?? 0) + n;
  t.conflicts += add.conflicts ?? 0;
  t.collisions += add.collisions ?? 0;
  if (add.fastForward) t.fastForward = true;
  t.notes.push(...(add.notes ?? []));
}

/** Fetch the hub's branch (skipped when the watcher saw it unmoved), relate the heads, and verify what the hub brings: signatures, then hostile trees (docs/security.md). */
async function fetchAndVerify(x: Exchange, at: { lastSeen: string | null; attempt: number; firstContact: boolean }): Promise<Fetched> {
  const { repo, settings, ref, dl } = x;
  const track = `refs/remotes/${settings.remote}/${settings.branch}`;
  const pre = at.attempt === 1 ? x.prefetched : undefined;
  const known = at.attempt === 1 && at.lastSeen !== null && !pre ? x.hubHead?.() : undefined;
  const found = pre ? await takePrefetch(pre) : known === at.lastSeen || (await fetchHub(repo, settings.remote, settings.branch, dl));
  const now = await repo.exactRefs(found ? [ref, track] : [ref]);
  const theirs = found ? now.get(track) ?? null : null;
  const ours = now.get(ref) ?? null;
  const { bases, incoming } = theirs && ours && theirs !== ours ? await relate(repo, ours, theirs, at.lastSeen) : { bases: [], incoming: undefined };
  const f: Fetched = { ours, theirs, bases, incoming, firstContact: at.firstContact };
  if (theirs && !ours) {
    const bad = await rejections(x, f, f.incoming);
    if (bad.length > 0) throw new RejectedError(`refused the hub's history: ${bad.slice(0, 5).map((b) => `${b.commit.slice(0, 10)} by ${JSON.stringify(b.author)}: ${b.reason}`).join('; ')}. Nothing from the hub was written. Remove those commits from the hub`);
  } else if (needsMerge(f) && !unrelated(f)) await verifyIncoming(x, f);
  return f;
}

/** The hub brings commits we lack (not only commits we already have). */
const needsMerge = (f: Fetched): boolean => f.theirs !== null && f.ours !== null && f.theirs !== f.ours && !(f.bases.length === 1 && f.bases[0] === f.theirs);

/** The hub's commits that fail verification (signatures, then hostile trees), on the walk's list (`f.incoming`) or, with undefined, git's exact one. */
async function rejections(x: Exchange, f: Fetched, commits: Fetched['incoming'] | undefined) {
  const { verifyRange } = await import('../identity/verify.js');
  const exclude = f.ours ? [f.ours] : [];
  const tip = f.theirs!;
  return [
    ...(await verifyRange(x.repo, { exclude, tip, allowBootstrap: f.firstContact, commits })),
    ...(await treeRejections(x.repo, { exclude, tip, commits, limits: treeLimitsOf(x.policy.config), timeoutMs: x.dl.left() })),
  ];
}

/** Refuse the hub's history when a commit fails verification. */
async function verifyIncoming(x: Exchange, f: Fetched): Promise<void> {
  let bad = await rejections(x, f, f.incoming);
  // The walk's list can hold an old commit of our own history besides the
  // new ones (see relate): before refusing anything, ask git for the exact list.
  if (bad.length > 0 && f.incoming) bad = await rejections(x, f, undefined);
  if (bad.length > 0) {
    const list = bad.slice(0, 5).map((b) => `${b.commit.slice(0, 10)} by ${JSON.stringify(b.author)}: ${b.reason}`).join('; ');
    throw new RejectedError(
      `refused the hub's history: ${bad.length} commit${bad.length === 1 ? '' : 's'} failed verification (${list}${bad.length > 5 ? '; …' : ''}). Nothing from the hub was merged; local work is committed and kept. Remove those commits from the hub${bad.every((b) => b.reason.startsWith('its tree holds')) ? '' : ', or admit the key with `agentgit trust add`'}`,
    );
  }
  await failpoint('verify');
}

/**
 * Decide how the hub's commits come in and build the merge commit (touches
 * no ref, index or file, except a new epoch, which compact.ts carries our
 * work into and checks out itself). Unrelated histories that are no epoch
 * are verified here, and refused unless this is the first contact.
 */
async function integrate(x: Exchange, f: Fetched): Promise<Integrated> {
  const { repo, policy, settings, ref, clocks, dl } = x;
  const { ours, theirs } = f;
  if (theirs && !ours) return { kind: 'unborn', to: theirs };
  if (!ours || !theirs || !needsMerge(f)) return { kind: 'none' };
  if (unrelated(f)) {
    // the hub's branch shares no history with ours: a new epoch (docs/compaction.md) is carried over, anything else verified like any history
    const tally: CrossingOutcome = { mergedFromHub: 0, mergedByKind: {}, conflicts: 0, notes: [] };
    const crossed = await (await import('./compact.js')).crossEpoch({ repo, policy, settings, ref, ours, theirs, clocks, out: tally, timeoutMs: () => dl.left() });
    if (crossed) return { kind: 'crossed', head: crossed, tally };
    await verifyIncoming(x, f);
  }
  if (f.bases.length === 1 && f.bases[0] === ours) return { kind: 'fast-forward', to: theirs };
  const { mergeCommits } = await import('./integrate.js');
  const merge = await mergeCommits(
    { repo, policy, instance: settings.instance, sign: settings.sign },
    { ours, theirs, message: withInstanceTrailer(`agentgit: merge hub into ${settings.instance}`, settings.instance), bases: f.bases },
  );
  for (const s of merge.seenClocks) clocks.see(s);
  await clocks.save();
  return { kind: 'merge', merge };
}

/** Move the branch and the work tree to what integrate decided (checkout.ts: the agent's writes made meanwhile are kept); what the hub changed here. */
async function checkoutMerged(x: Exchange, f: Fetched, i: Integrated): Promise<CheckedOut> {
  const { repo, policy, ref } = x;
  switch (i.kind) {
    case 'none':
      return { head: f.ours, tally: {} };
    case 'crossed':
      return { head: i.head, tally: i.tally };
    case 'unborn':
      await repo.checkout(i.to, 'keep');
      return { head: i.to, tally: {} };
    case 'fast-forward': {
      const co = await (await lazyCheckout()).checkout(repo, policy, ref, f.ours!, i.to);
      return { head: i.to, tally: { mergedFromHub: co.changed.filter((p) => !isClockPath(p)).length, fastForward: true } };
    }
    case 'merge': {
      const m = i.merge;
      const co = await (await lazyCheckout()).checkout(repo, policy, ref, f.ours!, m.commit);
      const mergedByKind: Record<string, number> = {};
      for (const r of m.reports) if (!isClockPath(r.path)) mergedByKind[r.kind] = (mergedByKind[r.kind] ?? 0) + 1;
      const notes = [...m.notes];
      if (co.keptLocal.length) notes.push(`kept the agent's writes made during the sync: ${co.keptLocal.join(', ')} (committed next round)`);
      return { head: m.commit, tally: { mergedFromHub: m.changedFromHub, mergedByKind, conflicts: m.conflicts.length, collisions: m.reports.reduce((n, r) => n + r.collisions.length, 0), notes } };
    }
  }
}

/**
 * Publish the head: only the heartbeat when the hub has it already; else,
 * once this instance is admitted, fold its work from before admission,
 * scan for secrets and push (never forced) with the heartbeat. Throws a
 * PhaseError carrying the head after the fold when a later step fails.
 */
async function publish(x: Exchange, p: { head: string | null; theirs: string | null; conflicts: number; publicKey: string }): Promise<Published> {
  const { repo, settings, dl } = x;
  let { head } = p;
  if (!x.push || !head) return { status: 'done', head };
  if (head === p.theirs) {
    // nothing to push: publish the heartbeat only when the last one is getting old
    const hb = await x.heartbeat(head, false, p.conflicts);
    if (hb) await pushHub(repo, settings.remote, [pushRefspec(hb.commit, settings.instance)], dl);
    return { status: 'done', head, heartbeatAt: hb?.at };
  }
  const { foldUnverifiable, isAdmitted, markUnadmitted } = await admission();
  if (p.publicKey && !(await isAdmitted(repo, head, p.publicKey))) {
    await markUnadmitted(repo);
    const { signerLine } = await import('../identity/signers.js');
    return { status: 'done', head, notAdmitted: signerLine(`${settings.agent}/${settings.instance}`, p.publicKey) };
  }
  head = await foldUnverifiable(repo, x.ref, p.theirs, head, settings.sign, withInstanceTrailer(`agentgit: work of ${settings.instance} from before its admission`, settings.instance));
  try {
    await (await import('./scan.js')).scanBeforePush(repo, x.policy, head, p.theirs); // nothing secret leaves: docs/security.md
    const hb = await x.heartbeat(head, true, p.conflicts);
    const r = await pushHub(repo, settings.remote, [`${head}:refs/heads/${settings.branch}`, ...(hb ? [pushRefspec(hb.commit, settings.instance)] : [])], dl, x.refused);
    if (r === 'rejected') return { status: 'rejected', head, heartbeatAt: hb?.at };
    await failpoint('push'); // the hub has it, this instance has not recorded it
    // git push moves the remote-tracking ref itself when the remote's fetch refspec covers it
    const track = `refs/remotes/${settings.remote}/${settings.branch}`;
    if (repo.readRef(track) !== head) await repo.setRef(track, head).catch(() => undefined);
    return { status: 'done', head, pushed: head, heartbeatAt: hb?.at };
  } catch (e) {
    throw new PhaseError({ phase: 'attempt', head }, e);
  }
}

/** Builds this instance's heartbeat for a push (with the round's conflicts so far): always when `due`, else only when the last is older than `everySec`. */
type Heartbeat = (head: string | null, due: boolean, conflicts: number) => Promise<{ commit: string; at: number } | null>;

function heartbeatMaker(repo: Repo, settings: Context['settings'], everySec: number, st: Awaited<ReturnType<typeof readState>>, held: Held[], t0: number): Heartbeat {
  return async (head, due, conflicts) => {
    const now = Date.now();
    if (!due && st.lastHeartbeatAt !== null && now - st.lastHeartbeatAt < everySec * 1000) return null;
    const commit = await makeHeartbeat(
      repo,
      {
        v: 1,
        agent: settings.agent,
        instance: settings.instance,
        at: now,
        lastSuccessAt: now,
        head,
        checksum: head ? await repo.treeOf(head) : null,
        dirty: held.length > 0,
        conflictsTotal: st.conflictsTotal + conflicts,
        held: held.length,
        lastDurationMs: now - t0,
        recoveryMs: st.recoveryMs,
        rebuildFailed: st.rebuildFailed,
      },
      settings.sign,
    );
    return { commit, at: now };
  };
}

/** Derived state: rebuild when the round brought changes to the paths it depends on. */
async function rebuildDerived(repo: Repo, policy: Context['policy'], from: string | null, to: string | null): Promise<SyncOutcome['rebuild']> {
  const spec = policy.config.rebuild;
  if (!spec || !from || !to || from === to) return undefined;
  const changed = (await repo.diffTree(from, to)).map((c) => c.path);
  const { needsRebuild, runRebuild } = await import('./rebuild.js');
  return needsRebuild(spec, changed) ? runRebuild(repo.root, spec) : undefined;
}


/** What `agentgit status` reads: times, exit code, held files, counters, recovery. Returns what the outcome adds: the outage, the rebuild's failure. */
async function record(file: string, out: SyncOutcome, t0: number, exchanged: boolean, heartbeatAt: number | null, outageSec: number): Promise<{ outage?: SyncOutcome['outage']; notes: string[] }> {
  await failpoint('record');
  const st = await readState(file);
  const outage = trackOutage(st, out.exitCode, t0, outageSec);
  const notes: string[] = [];
  st.lastSyncAt = t0;
  if (exchanged) st.lastSuccessAt = Date.now();
  if (heartbeatAt !== null && exchanged) st.lastHeartbeatAt = heartbeatAt;
  if (out.rebuild) {
    st.recoveryMs = out.rebuild.ms;
    st.rebuildFailed = out.rebuild.error;
    st.rebuildAt = Date.now();
    if (out.rebuild.error) notes.push(`derived-state rebuild failed: ${out.rebuild.error}`);
  }
  st.lastExitCode = out.exitCode;
  st.lastDurationMs = out.durationMs;
  st.lastError = out.error;
  st.held = heldSummary(out.held);
  st.conflictsLastSync = out.conflicts;
  st.conflictsTotal += out.conflicts;
  st.collisionsTotal += out.collisions;
  await writeState(file, st).catch(() => undefined);
  return { outage: outage ? { ...outage, thresholdSec: outageSec } : undefined, notes };
}

/**
 * Take the round's lock (waiting up to waitSec for another sync), recover
 * what a kill -9 left, bring the clone's setup and accepted policy up to
 * date. Returns notes; once the lock is held, a failure is a PhaseError
 * carrying the notes so far (and the lock is held: the round records it).
 *
 * With `askStatus` (the git CLI engine) it also starts `git status` as soon
 * as the work tree is recovered, beside the setup steps: they change what
 * status would say only when they repair something (the attributes, the
 * config, .gitignore), and then status is asked again after them. The
 * promise returned never rejects unawaited (a round that fails before its
 * commit never awaits it).
 */
async function lockAndRecover(ctx: Context, lock: SyncLock, waitSec: number, askStatus: boolean): Promise<{ notes: string[]; status?: Promise<StatusEntry[]> }> {
  const { repo, policy, settings } = ctx;
  await lock.acquire(waitSec * 1000);
  const notes: string[] = [];
  const ask = (): Promise<StatusEntry[]> | undefined => {
    if (!askStatus) return undefined;
    const p = repo.status();
    p.catch(() => undefined); // awaited by the commit, or above
    return p;
  };
  let status: Promise<StatusEntry[]> | undefined;
  try {
    notes.push(...(await recover(repo, ctx)));
    status = ask();
    // three steps on files of their own, side by side: each is a few small reads (and a write when something is off).
    // Side by side, a step that fails does not stop the others: each is idempotent and only brings a file to what the policy says
    const [fixed, , versioned] = await allDone([
      repairClone(repo, policy, settings, ctx.config),
      settleAccepted(repo), // tightenings of the policy file become this machine's accepted policy
      // .gitattributes/.gitignore follow the policy file (the same bytes on every instance)
      writeVersionedSetup(repo.root, new Policy(ctx.consent.proposed), false),
    ] as const);
    if (status && (fixed.length > 0 || versioned)) {
      await status.catch(() => undefined); // its process gone first: git status may hold index.lock for a moment
      status = ask();
    }
    const pend = ctx.consent.pending;
    if (pend.length) notes.push(`.agentgit/config.json asks for ${pend.length} change${pend.length === 1 ? '' : 's'} this machine has not accepted (${[...new Set(pend.map((c) => c.key))].join(', ')}): not applied here; review with \`agentgit policy diff\`, accept with \`agentgit policy accept\``);
    if (fixed.length) notes.push(`repaired: ${fixed.join(', ')}`);
    return { notes, status };
  } catch (e) {
    await status?.catch(() => undefined); // no git left running in the work tree once the round lets go of its lock
    throw new PhaseError({ phase: 'recover', notes }, e);
  }
}

interface Committed {
  committed: number;
  held: Held[];
  notes: string[];
}

/** Commit the agent's local changes (sync/commit.ts: guarded, signed); work committed while not admitted is marked for re-signing once admitted (identity/admission.ts). */
async function commitLocal(ctx: Context, clocks: ClockSource, status?: Promise<StatusEntry[]>): Promise<Committed> {
  const { repo, policy, settings } = ctx;
  const msg = (files: string[]): string =>
    withInstanceTrailer(`agentgit: ${files.length} file${files.length === 1 ? '' : 's'} from ${settings.instance}\n\n${files.slice(0, 20).map((f) => `- ${f}`).join('\n')}${files.length > 20 ? `\n- … ${files.length - 20} more` : ''}`, settings.instance);
  const c = await commitLocalChanges({ repo, policy, clocks, message: msg, sign: settings.sign, status });
  const done: Committed = { committed: c.committed.length, held: c.held, notes: [...c.notes] };
  for (const n of c.nested) done.notes.push(`${n}/ holds its own .git: it is another repository and is not synced; move it out or remove its .git`);
  try {
    if (c.commit && settings.signingKey) {
      const pub = readTextOr(`${settings.signingKey}.pub`, '');
      const { isAdmitted, markUnadmitted } = await admission();
      if (pub && !(await isAdmitted(repo, c.commit, pub))) await markUnadmitted(repo);
    }
  } catch (e) {
    throw new PhaseError({ phase: 'commit', committed: done }, e);
  }
  return done;
}

/** The local branch: whatever HEAD is on (an adopted repo keeps its own); agentgit.branch names the hub's branch. */
async function localBranchRef(repo: Repo, settings: Context['settings']): Promise<string> {
  const local = repo.headBranchFromFile() ?? (await repo.currentBranch());
  if (!local) throw new Error(`HEAD is detached in ${repo.root}; check out the branch you sync (\`git switch ${settings.branch}\`), then sync again`);
  return `refs/heads/${local}`;
}

/** The outcome's counters and heads from the exchange (merged in the order the round reports them). */
function takeExchange(out: SyncOutcome, ex: Exchanged): void {
  out.mergedFromHub = ex.mergedFromHub;
  out.mergedByKind = ex.mergedByKind;
  out.conflicts = ex.conflicts;
  out.collisions = ex.collisions;
  out.fastForward = ex.fastForward;
  out.notes.push(...ex.notes);
  out.head = ex.head;
  out.pushed = ex.pushed;
  if (ex.notAdmitted) out.notAdmitted = ex.notAdmitted;
}

/**
 * Run one round: lockAndRecover → commitLocal → exchangeWithHub
 * (fetchAndVerify → integrate → checkoutMerged → publish, retried) →
 * rebuildDerived → record. Each phase returns its result, which the round
 * puts into the outcome before the next runs; a phase that fails partway
 * throws a PhaseError carrying what it did. Never throws: every failure
 * becomes an outcome with an exit code.
 */
export async function syncRound(o: SyncOptions): Promise<SyncOutcome> {
  armFailpoints(); // a testing aid, off unless AGENTGIT_FAILPOINT is set (docs/reliability.md)
  const t0 = Date.now();
  const out: SyncOutcome = {
    exitCode: 0,
    committed: 0,
    mergedFromHub: 0,
    mergedByKind: {},
    conflicts: 0,
    collisions: 0,
    pushed: null,
    fastForward: false,
    held: [],
    notes: [],
    error: null,
    durationMs: 0,
    head: null,
  };
  let ctx: Context;
  try {
    ctx = await openContext(o.dir);
  } catch (e) {
    out.exitCode = 1;
    out.error = (e as Error).message;
    return out;
  }
  const { repo, policy, settings } = ctx;
  const pause = readPause(repo.gitDir, t0); // `agentgit pause`: do nothing, keep local writes (src/sync/pause.ts)
  if (pause) {
    out.paused = { until: pause.until === null ? null : new Date(pause.until).toISOString() };
    out.notes.push(pauseLine(pause));
    out.durationMs = Date.now() - t0;
    repo.close();
    return out;
  }
  /** The backstop below: the lock is held no longer (written in it for a reader on another host, lock.ts). */
  const holdMs = Math.max(2 * o.timeoutSec, o.timeoutSec + 60) * 1000;
  const lock = new SyncLock(repo.stateFile('sync.lock'), { holdMs });
  const stateFile = repo.stateFile('state.json');
  const dl = new Deadline(o.timeoutSec);
  let locked = false;
  /** The round reached the end: committed, merged and pushed (or had nothing to push). */
  let exchanged = false;
  let heartbeatAt: number | null = null;
  let closeSsh: (() => void) | null = null;
  let prefetched: Prefetch | undefined;
  /** The round's `git status`, awaited before the lock goes: it may hold index.lock while it refreshes the index. */
  let status: Promise<StatusEntry[]> | undefined;
  const prefetchStop = new AbortController();
  const takeCommitted = (c: Committed): void => {
    out.committed = c.committed;
    out.held = c.held;
    out.notes.push(...c.notes);
  };
  // backstop: whatever a step waits on, every git child is stopped by then (git/exec.ts)
  setChildDeadline(holdMs + o.waitSec * 1000);
  try {
    // the work tree's status, asked as soon as the work tree is recovered (git CLI engine): nothing after that changes the work tree or the index before the commit reads it
    const recovered = await lockAndRecover(ctx, lock, o.waitSec, repo.caps.engine === 'git CLI');
    out.notes.push(...recovered.notes);
    locked = true;
    status = recovered.status;

    const remoteUrl = ctx.config.get(`remote.${settings.remote}.url`);
    // an ssh hub: one connection for the round's fetches and pushes, opened
    // now so that it is up by the time the local commit is made (git/ssh.ts)
    let sshReady: Promise<string | null> | undefined;
    if (remoteUrl && pushGoesElsewhere(ctx.config, settings.remote)) stopSharing(); // a watcher's earlier rounds may have shared one
    else if (remoteUrl) {
      closeSsh = shareSshConnection(remoteUrl, agentgitHome(), urlRules(ctx.config));
      if (closeSsh && !o.keepSsh && repo.caps.engine === 'git CLI' && !rewritesUrls(ctx.config) && ownedByMe(repo.gitDir)) sshReady = warmSshConnection(remoteUrl, Math.min(dl.left(), 20_000));
    }

    // the first fetch runs beside the local commit (startPrefetch); the tracking ref is read before it
    const track = `refs/remotes/${settings.remote}/${settings.branch}`;
    const hubHead = remoteUrl ? o.hubHead ?? (o.quietHub ? await (await import('./hub-files.js')).quietHubHead(repo, remoteUrl, ctx.config, settings.branch) : undefined) : undefined;
    let trackBefore: string | null | undefined;
    // (refs in files: with reftable, the fetch and the commit's update-ref would contend for its one table lock)
    if (remoteUrl && repo.caps.engine === 'git CLI' && repo.caps.refStorage === 'files') {
      trackBefore = (await repo.exactRefs([track])).get(track) ?? null;
      if (trackBefore !== null && hubHead?.() !== trackBefore) prefetched = startPrefetch(repo, settings, dl, sshReady, prefetchStop.signal);
    }

    const clocks = new ClockSource(repo.stateFile('hlc'), settings.instance);
    await clocks.load();
    const ref = await localBranchRef(repo, settings);
    await lock.assertHeld();
    takeCommitted(await commitLocal(ctx, clocks, status));

    if (!remoteUrl) {
      out.notes.push('no hub configured: committed locally only (`agentgit init --remote URL` sets one)');
    } else {
      // ssh could not reach the hub at all: the fetch would fail alike, after a second connect timeout (git/ssh.ts)
      const unreachable = await sshReady;
      if (unreachable) throw new GitError(`git fetch failed: ${firstLine(unreachable)}`, ['fetch'], 128, unreachable, false);
      const heartbeat = heartbeatMaker(repo, settings, policy.config.health.heartbeatSeconds, await readState(stateFile), out.held, t0);
      const ex = await exchangeWithHub({ repo, policy, settings, ref, clocks, dl, push: o.push, tries: o.maxTries ?? 6, heartbeat, hubHead, trackBefore, prefetched, stillHeld: () => lock.assertHeld(), refused: { lock: null } });
      takeExchange(out, ex);
      heartbeatAt = ex.heartbeatAt;
      out.rebuild = await rebuildDerived(repo, policy, ex.startHead, out.head);
    }
    // what `git commit` used to start after every commit: objects are written in-process now
    await repo.housekeeping(ctx.config).catch((e: unknown) => out.notes.push(`git housekeeping failed: ${(e as Error).message}`));
    exchanged = !out.notAdmitted;
    if (out.notAdmitted) {
      out.exitCode = 1;
      out.error = `this instance is not admitted yet: it commits and merges, but pushes nothing. On an admitted instance run:\n  agentgit trust add '${out.notAdmitted}'`;
    } else if (out.held.length > 0) {
      out.exitCode = 1;
      out.error = out.held.map((h) => `held ${h.path}: ${h.detail}`).join('; ');
    }
  } catch (e) {
    // a PhaseError comes only from a phase run under the lock; what it did is reported as if it had returned
    locked ||= e instanceof PhaseError;
    const cause = unwrap(e, (p) => {
      if (p.phase === 'exchange') takeExchange(out, p.exchanged);
      else if (p.phase === 'commit') takeCommitted(p.committed);
      else if (p.phase === 'recover') out.notes.push(...p.notes);
    });
    // the error's own exit code (src/errors.ts maps every class); a round ends temporary or failed
    out.exitCode = exitCodeOf(cause) === EXIT.TEMPORARY ? EXIT.TEMPORARY : EXIT.FAILED;
    out.error = messageOf(cause);
    // the lock is another round's now: that round records; this one only lets go of its own lock, if it is still there (release checks)
    if (cause instanceof LockLostError) out.lockLost = true;
  } finally {
    // a round that failed before taking its prefetch: the fetch is stopped, and gone before the lock goes
    prefetchStop.abort();
    await prefetched;
    await status?.catch(() => undefined); // a round that failed before its commit awaited it (a detached HEAD, a lost lock)
    setChildDeadline(null);
    if (!o.keepSsh) closeSsh?.();
    out.durationMs = Date.now() - t0;
    if (locked) {
      if (!out.lockLost) {
        const r = await record(stateFile, out, t0, exchanged, heartbeatAt, policy.config.health.lagFailSeconds);
        if (r.outage) out.outage = r.outage;
        out.notes.push(...r.notes);
      }
      await lock.release(); // removes only the lock this round made
    }
    repo.close();
  }
  return out;
}
