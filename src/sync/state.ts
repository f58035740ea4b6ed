/** Per-clone sync state in `.git/agentgit/state.json` (never synced). */
import type { Held } from './guard.js';
import { readNoFollow, replaceNoFollow } from './safe-write.js';

export interface SyncState {
  lastSyncAt: number | null;
  lastSuccessAt: number | null;
  lastExitCode: number | null;
  lastDurationMs: number | null;
  lastError: string | null;
  held: { path: string; reason: string; detail: string }[];
  conflictsTotal: number;
  conflictsLastSync: number;
  collisionsTotal: number;
  lastHeartbeatAt: number | null;
  /** Duration of the last derived-state rebuild, and its failure if it failed. */
  recoveryMs: number | null;
  rebuildFailed: string | null;
  rebuildAt: number | null;
  /** Since when every sync has failed temporarily (exit 75); null once one gets through or fails for good. */
  temporarySince: number | null;
  /** When `sync --quiet` last reported the ongoing outage (once per threshold period). */
  outageReportedAt: number | null;
}

export const EMPTY_STATE: SyncState = {
  lastSyncAt: null,
  lastSuccessAt: null,
  lastExitCode: null,
  lastDurationMs: null,
  lastError: null,
  held: [],
  conflictsTotal: 0,
  conflictsLastSync: 0,
  collisionsTotal: 0,
  lastHeartbeatAt: null,
  recoveryMs: null,
  rebuildFailed: null,
  rebuildAt: null,
  temporarySince: null,
  outageReportedAt: null,
};

/**
 * Track an outage: the first temporary failure starts it, any other exit
 * ends it. `report` says whether a quiet run should now say so: once the
 * outage outlasts `thresholdSec`, and again each further `thresholdSec`.
 */
export function trackOutage(s: SyncState, exitCode: number, now: number, thresholdSec: number): { since: number; seconds: number; report: boolean } | null {
  if (exitCode !== 75) {
    s.temporarySince = null;
    s.outageReportedAt = null;
    return null;
  }
  s.temporarySince ??= now;
  const seconds = (now - s.temporarySince) / 1000;
  const last = s.outageReportedAt;
  const report = seconds > thresholdSec && (last === null || last < s.temporarySince || now - last >= thresholdSec * 1000);
  if (report) s.outageReportedAt = now;
  return { since: s.temporarySince, seconds, report };
}

export async function readState(file: string): Promise<SyncState> {
  try {
    return { ...EMPTY_STATE, ...(JSON.parse((await readNoFollow(file))?.toString('utf8') ?? '') as Partial<SyncState>) };
  } catch {
    return { ...EMPTY_STATE };
  }
}

export async function writeState(file: string, s: SyncState): Promise<void> {
  await replaceNoFollow(file, JSON.stringify(s, null, 2) + '\n'); // never through a symbolic link
}

export function heldSummary(h: Held[]): SyncState['held'] {
  return h.map(({ path, reason, detail }) => ({ path, reason, detail }));
}
