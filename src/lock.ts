/**
 * The per-repo sync lock: `.git/agentgit/sync.lock` holding the owner's pid
 * and process start time. A lock whose process is gone (kill -9) or whose
 * pid now belongs to another process is stale and is taken over.
 */
import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { LockBusyError } from './errors.js';

export interface LockInfo {
  pid: number;
  /** Process start time from /proc (clock ticks since boot), '' when unknown. */
  start: string;
  host: string;
  since: number;
}

export { LockBusyError };

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

export function isAlive(info: LockInfo): boolean {
  if (info.pid <= 0) return false;
  if (info.host !== hostname()) return true; // cannot tell: assume alive
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStart(info.pid);
  return !(info.start && start && start !== info.start);
}

export class SyncLock {
  private held = false;
  constructor(readonly file: string) {}

  /** Take the lock, taking over a stale one; waits up to waitMs for a live one. */
  async acquire(waitMs = 0): Promise<void> {
    const deadline = Date.now() + waitMs;
    await mkdir(dirname(this.file), { recursive: true });
    for (;;) {
      const holder = await this.tryCreate();
      if (holder === null) {
        this.held = true;
        return;
      }
      if (!isAlive(holder)) {
        await this.takeOver(holder);
        continue;
      }
      if (Date.now() >= deadline) throw new LockBusyError(holder, this.file);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }

  private async tryCreate(): Promise<LockInfo | null> {
    const me: LockInfo = { pid: process.pid, start: processStart(process.pid), host: hostname(), since: Date.now() };
    // write the content first, then link it into place: the lock never exists half-written
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(me) + '\n');
    try {
      await link(tmp, this.file);
      return null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    try {
      const info = JSON.parse(await readFile(this.file, 'utf8')) as LockInfo;
      if (typeof info.pid === 'number') return info;
    } catch {
      /* unreadable: not written by this version; treat as stale */
    }
    return { pid: -1, start: '', host: hostname(), since: 0 };
  }

  /** Move the stale lock aside; if what we moved was a fresh lock, put it back. */
  private async takeOver(stale: LockInfo): Promise<void> {
    const aside = `${this.file}.stale.${process.pid}`;
    try {
      await rename(this.file, aside);
    } catch {
      return; // someone else took it over first
    }
    let moved: LockInfo | null = null;
    try {
      moved = JSON.parse(await readFile(aside, 'utf8')) as LockInfo;
    } catch {
      moved = null;
    }
    if (moved && moved.pid !== stale.pid && isAlive(moved)) {
      await link(aside, this.file).catch(() => undefined);
      await unlink(aside).catch(() => undefined);
      return;
    }
    await unlink(aside).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    await unlink(this.file).catch(() => undefined);
  }
}
