/**
 * `agentgit pause [--for DURATION]` / `agentgit resume`: while
 * `.git/agentgit/paused.json` says so, `sync` and `watch` rounds do nothing
 * (exit 0). Local writes stay in the work tree and go out on the first
 * round after resume. A pause with an end lifts itself when it is over.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface PauseInfo {
  /** Unix ms the pause was set. */
  since: number;
  /** Unix ms the pause ends by itself; null: until `agentgit resume`. */
  until: number | null;
}

export function pauseFile(gitDir: string): string {
  return join(gitDir, 'agentgit', 'paused.json');
}

export { parseDuration } from '../policy/duration.js';

/** The pause in force at `now`, or null (none, expired, or unreadable: a broken file never stops sync). */
export function activePause(info: PauseInfo | null, now: number): PauseInfo | null {
  if (!info) return null;
  if (info.until !== null && info.until <= now) return null;
  return info;
}

export function readPause(gitDir: string, now = Date.now()): PauseInfo | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(pauseFile(gitDir), 'utf8'));
  } catch {
    return null;
  }
  const r = raw as Partial<PauseInfo>;
  const info: PauseInfo = { since: typeof r.since === 'number' ? r.since : 0, until: typeof r.until === 'number' ? r.until : null };
  return activePause(info, now);
}

export async function writePause(gitDir: string, info: PauseInfo): Promise<void> {
  const f = pauseFile(gitDir);
  await mkdir(dirname(f), { recursive: true });
  const tmp = `${f}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(info) + '\n');
  await rename(tmp, f);
}

/** Remove the pause; true when there was one. */
export async function removePause(gitDir: string): Promise<boolean> {
  const had = readPause(gitDir) !== null;
  await rm(pauseFile(gitDir), { force: true });
  return had;
}

/** "paused until 2026-12-03T06:00:00.000Z" / "paused until `agentgit resume`". */
export function pauseLine(p: PauseInfo): string {
  return p.until === null ? 'paused until `agentgit resume`: this round did nothing (local writes are kept)' : `paused until ${new Date(p.until).toISOString()}: this round did nothing (local writes are kept)`;
}
