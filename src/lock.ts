/**
 * The per-repo sync lock: `.git/agentgit/sync.lock` holding the owner's pid
 * and process start time. A lock whose process is gone (kill -9) or whose
 * pid now belongs to another process is stale and is taken over.
 *
 * A lock written on another host (a container recreated on a shared volume
 * gets a new hostname) cannot be checked that way: it counts as held while
 * it is younger than foreignLockBound (far above the longest its holder may
 * hold it), and is stale past that. Its age is read twice, and both must be
 * past the bound: by its `since` (the holder's clock) against this host's
 * clock, and by the file's mtime against a file this process has just
 * written (the file system's clock alone), so a skewed clock on either side
 * never makes a young lock look old.
 */
import { closeSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { link, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { LockBusyError, TemporaryError } from './errors.js';

export interface LockInfo {
  pid: number;
  /** Process start time from /proc (clock ticks since boot), '' when unknown. */
  start: string;
  host: string;
  since: number;
  /** Tells apart two takings by one process in one millisecond (absent in locks of older versions). */
  nonce?: string;
  /** The longest the holder may hold it (ms), for a reader on another host; absent: FOREIGN_UNKNOWN_HOLD_MS. */
  holdMs?: number;
}

/** A lock from another host counts as held for at least this long. */
export const FOREIGN_LOCK_MIN_MS = 15 * 60_000;
/** The hold assumed for a lock that does not say (written by an older version): its bound is then one hour. */
export const FOREIGN_UNKNOWN_HOLD_MS = 20 * 60_000;

/** How long after its `since` a lock written on another host counts as held: three times the holder's own bound, at least 15 min. */
export function foreignLockBound(info: LockInfo): number {
  const hold = typeof info.holdMs === 'number' && info.holdMs > 0 ? info.holdMs : FOREIGN_UNKNOWN_HOLD_MS;
  return Math.max(FOREIGN_LOCK_MIN_MS, 3 * hold);
}

export { LockBusyError };

/** The sync lock this round held was taken over while the round was stopped (SyncLock.assertHeld): temporary, nothing lost. */
export class LockLostError extends TemporaryError {
  constructor(file: string, now: LockInfo | null) {
    const by = now ? ` by ${now.host === hostname() ? `pid ${now.pid}` : `${now.host} (pid ${now.pid})`}` : '';
    super(`${file} was taken over${by} while this round was stopped past its time limit: this round stopped before its next write, and the round that holds the lock now goes on (nothing is lost)`);
    this.name = 'LockLostError';
  }
}

/** The lock in `file` now, or null (none, unreadable, not one this version wrote). */
function readLockFile(file: string): LockInfo | null {
  const st = readLockState(file);
  return st.kind === 'lock' ? st.info : null;
}

/** What `file` holds: a lock (parsed), none, something not a lock of this version, or a read that failed (EIO, ESTALE…). */
function readLockState(file: string): { kind: 'lock'; info: LockInfo } | { kind: 'gone' } | { kind: 'other' } | { kind: 'unreadable'; why: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { kind: 'gone' } : { kind: 'unreadable', why: code ?? String(e) };
  }
  const info = parseLock(text);
  return info ? { kind: 'lock', info } : { kind: 'other' };
}

/** Start time of a process, to tell a live owner from a reused pid. */
export function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" that ends the command name; starttime is field 22
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? '';
  } catch {
    return '';
  }
}

/** Whether the process a lock or watcher file names on this host still runs (the callers judge another host's by age). */
export function isAlive(info: Pick<LockInfo, 'pid' | 'start'>): boolean {
  if (info.pid <= 0) return false;
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(info.pid);
  return !(info.start && start && start !== info.start);
}

/**
 * Whether the lock `info` (its file's mtime `mtimeMs`) is held: by a live
 * process on this host (isAlive), or, written on another host, while it is
 * younger than foreignLockBound by either reading of its age (`fsNowMs`: the
 * mtime of a file just written, or this host's clock when none was).
 */
export function lockAlive(info: LockInfo, mtimeMs: number, fsNowMs: number): boolean {
  if (info.pid <= 0) return false;
  if (info.host === hostname()) return isAlive(info);
  return youngestAge(info, mtimeMs, fsNowMs) <= foreignLockBound(info);
}

/** The younger of a foreign lock's two ages: by its `since` on this host's clock (none: not written by agentgit, its mtime alone), by its mtime on the file system's. */
function youngestAge(info: LockInfo, mtimeMs: number, fsNowMs: number): number {
  const bySince = typeof info.since === 'number' ? Date.now() - info.since : Infinity;
  return Math.min(bySince, fsNowMs - mtimeMs);
}

/** The content of a lock file, or null when it is not one this version wrote (stale). */
function parseLock(text: string): LockInfo | null {
  try {
    const info = JSON.parse(text) as LockInfo;
    return typeof info?.pid === 'number' ? info : null;
  } catch {
    return null;
  }
}

/**
 * Whether another process holds the lock `file` now, read as SyncLock reads
 * it (never taken). No file, or an unreadable one: false.
 */
export function lockHeld(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const info = parseLock(readFileSync(fd, 'utf8'));
    return !!info && info.pid !== process.pid && lockAlive(info, fstatSync(fd).mtimeMs, Date.now());
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Same lock: the same holder's same taking of it. */
function sameLock(a: LockInfo, b: LockInfo): boolean {
  return a.pid === b.pid && a.host === b.host && a.since === b.since && a.start === b.start && a.nonce === b.nonce;
}

/** A name beside the lock no other process uses, on this host or another sharing the volume (pids repeat across containers). */
function besideLock(file: string, what: string): string {
  return `${file}.${what}.${process.pid}.${Math.random().toString(36).slice(2, 10)}`; // not a secret: only distinct
}

/**
 * When a lock from another host held now may be taken over, on this host's
 * clock: once both of its ages (lockAlive) are past the bound.
 */
function takeOverAt(info: LockInfo, mtimeMs: number, fsNowMs: number): number {
  return Date.now() + Math.max(0, foreignLockBound(info) - youngestAge(info, mtimeMs, fsNowMs));
}

/** The lock files some SyncLock of this process holds now. */
const heldHere = new Set<string>();

export class SyncLock {
  /** What this process wrote in the lock while it holds it (release checks that it is still the one there). */
  private mine: LockInfo | null = null;
  /** `holdMs`: the longest this process may hold it (written in the lock, for readers on other hosts). */
  constructor(
    readonly file: string,
    private readonly opts: { holdMs?: number } = {},
  ) {}

  /** Take the lock, taking over a stale one; waits up to waitMs for a live one. */
  async acquire(waitMs = 0): Promise<void> {
    const deadline = Date.now() + waitMs;
    mkdirSync(dirname(this.file), { recursive: true });
    for (;;) {
      const found = this.tryCreate();
      if ('made' in found) {
        this.mine = found.made;
        heldHere.add(this.file);
        return;
      }
      const { info: holder, mtimeMs, fsNowMs } = found;
      // a lock of this very process that no SyncLock of it holds (its release could not read it): left over, taken over
      if (!lockAlive(holder, mtimeMs, fsNowMs) || (holder.host === hostname() && holder.pid === process.pid && holder.start === processStart(process.pid) && !heldHere.has(this.file))) {
        await this.takeOver(holder);
        continue;
      }
      if (Date.now() >= deadline) throw new LockBusyError(holder.host === hostname() ? holder : { ...holder, staleAt: takeOverAt(holder, mtimeMs, fsNowMs) }, this.file);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }

  /** `made`: the lock was made with this content; else what holds it, its file's mtime and the file system's time now (the temp file's mtime). */
  // Synchronous: a few calls on small files in .git/agentgit, each far cheaper
  // than a round trip through libuv's thread pool (a cron round takes it once).
  private tryCreate(): { made: LockInfo } | { info: LockInfo; mtimeMs: number; fsNowMs: number } {
    const me: LockInfo = { pid: process.pid, start: processStart(process.pid), host: hostname(), since: Date.now(), nonce: Math.random().toString(36).slice(2, 10) };
    if (this.opts.holdMs !== undefined) me.holdMs = this.opts.holdMs;
    // write the content first, then link it into place: the lock never exists half-written
    const tmp = `${besideLock(this.file, 'new')}.tmp`;
    writeFileSync(tmp, JSON.stringify(me) + '\n');
    const fsNowMs = statSync(tmp).mtimeMs;
    try {
      linkSync(tmp, this.file);
      return { made: me };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // gone already
      }
    }
    const stale = { info: { pid: -1, start: '', host: hostname(), since: 0 }, mtimeMs: 0, fsNowMs };
    // content and mtime from one open file: the same lock
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return stale; // gone meanwhile: the next try makes it
    }
    try {
      const info = parseLock(readFileSync(fd, 'utf8'));
      return info ? { info, mtimeMs: fstatSync(fd).mtimeMs, fsNowMs } : stale; // unreadable: not written by this version
    } finally {
      closeSync(fd);
    }
  }

  /** Move the stale lock aside; if what we moved was a fresh lock, put it back. */
  private async takeOver(stale: LockInfo): Promise<void> {
    const found = readLockFile(this.file);
    if (found && !sameLock(found, stale)) return; // another lock since: judged on the next try, never moved
    const aside = besideLock(this.file, 'stale');
    try {
      await rename(this.file, aside);
    } catch {
      return; // someone else took it over first
    }
    const moved = parseLock(await readFile(aside, 'utf8').catch(() => ''));
    // another lock than the one found stale (taken over and taken again meanwhile): put back, judged on the next try
    if (moved && !sameLock(moved, stale)) {
      await link(aside, this.file).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
      return;
    }
    await unlink(aside).catch(() => undefined);
  }

  /**
   * Throw LockLostError (exit 75) unless the lock is still the one this
   * process made. A holder stopped past the bound (a paused container, a
   * suspended VM) may find it taken over by another round when it runs
   * again: the round asks before each step that writes the work tree, refs
   * or the hub, and stops there, leaving those steps (and the round's
   * record) to the round that holds it now; its release() still removes
   * only a lock it made. A lock found missing or
   * another's is read once more 50 ms later: a stale holder's release or a
   * take-over puts a lock aside for a moment before putting it back.
   */
  async assertHeld(): Promise<void> {
    const mine = this.mine;
    if (!mine) return; // never taken (or released): nothing to check
    let now = readLockState(this.file);
    if (now.kind === 'lock' && sameLock(now.info, mine)) return;
    await new Promise((r) => setTimeout(r, 50));
    now = readLockState(this.file);
    if (now.kind === 'lock' && sameLock(now.info, mine)) return;
    if (now.kind === 'unreadable') throw new TemporaryError(`${this.file} could not be read (${now.why}): this round stopped before its next write, to be safe; the next round goes on`);
    // gone, or another's: release() still removes only a lock this round made
    throw new LockLostError(this.file, now.kind === 'lock' ? now.info : null);
  }

  /**
   * Remove the lock if it is still the one this process made: a holder that
   * was stopped past the bound (a paused container) may find its lock taken
   * over by another host, and must not remove that one.
   */
  async release(): Promise<void> {
    const mine = this.mine;
    if (!mine) return;
    this.mine = null;
    heldHere.delete(this.file);
    let found = readLockFile(this.file);
    if (!found) {
      await new Promise((r) => setTimeout(r, 50)); // put aside for a moment by a take-over that puts it back
      found = readLockFile(this.file);
    }
    if (!found || !sameLock(found, mine)) return; // another's: not moved (a take-over may still put one aside for a moment)
    const aside = besideLock(this.file, 'done');
    try {
      renameSync(this.file, aside);
    } catch {
      return; // gone: taken over and released meanwhile
    }
    let text = '';
    try {
      text = readFileSync(aside, 'utf8');
    } catch {
      // unreadable: not put back
    }
    const moved = parseLock(text);
    try {
      if (moved && !sameLock(moved, mine)) linkSync(aside, this.file); // another's: put back
    } catch {
      // a lock there again already
    }
    try {
      unlinkSync(aside);
    } catch {
      // gone already
    }
  }
}
