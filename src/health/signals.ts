/**
 * Health signals, computed from what status gathered. Pure.
 * Thresholds come from the policy (`health` in .agentgit/config.json);
 * defaults follow the seed article: drift above 1 % of files, lag above
 * 5 minutes, recovery above 30 seconds.
 */
import type { HealthThresholds } from '../policy/policy.js';
import type { Heartbeat } from '../sync/heartbeat.js';

export type Level = 'ok' | 'warn' | 'fail';

export interface InstanceSignal {
  instance: string;
  self: boolean;
  lagSeconds: number | null;
  behind: number | null;
  checksum: string | null;
  lastSuccessAt: string | null;
  level: Level;
}

export interface Health {
  level: Level;
  reasons: string[];
}

const order: Record<Level, number> = { ok: 0, warn: 1, fail: 2 };
export function worst(a: Level, b: Level): Level {
  return order[a] >= order[b] ? a : b;
}

export function lagLevel(lagSeconds: number | null, t: HealthThresholds): Level {
  if (lagSeconds === null) return 'warn';
  if (lagSeconds > t.lagFailSeconds) return 'fail';
  if (lagSeconds > t.lagWarnSeconds) return 'warn';
  return 'ok';
}

export interface HealthInput {
  now: number;
  self: { instance: string; lastSuccessAt: number | null; lastExitCode: number | null; lastError: string | null; temporarySince?: number | null };
  drift: number;
  held: number;
  recoveryMs: number | null;
  rebuildFailed: string | null;
  others: Heartbeat[];
  thresholds: HealthThresholds;
}

export function assess(x: HealthInput): Health {
  const t = x.thresholds;
  const reasons: string[] = [];
  let level: Level = 'ok';
  const add = (l: Level, why: string): void => {
    level = worst(level, l);
    reasons.push(`${l}: ${why}`);
  };
  const selfLag = x.self.lastSuccessAt === null ? null : (x.now - x.self.lastSuccessAt) / 1000;
  const sl = lagLevel(selfLag, t);
  if (sl !== 'ok') add(sl, selfLag === null ? 'this instance has never synced successfully' : `this instance last synced ${Math.round(selfLag)} s ago (warn ${t.lagWarnSeconds} s, fail ${t.lagFailSeconds} s)`);
  const outage = x.self.temporarySince == null ? null : (x.now - x.self.temporarySince) / 1000;
  if (outage !== null && outage > t.lagFailSeconds) add('fail', `every sync for ${Math.round(outage)} s has failed temporarily (exit 75; fail after ${t.lagFailSeconds} s): ${(x.self.lastError ?? '').split('\n')[0]}`);
  if (x.self.lastExitCode === 1 && x.self.lastError && !/^held /.test(x.self.lastError)) add('fail', `the last sync failed: ${x.self.lastError.replace(/\n\s*/g, ' ')}`);
  if (x.drift > t.driftFail) add('fail', `${(x.drift * 100).toFixed(1)} % of synced files differ from the hub (fail above ${(t.driftFail * 100).toFixed(1)} %)`);
  else if (x.drift > t.driftWarn) add('warn', `${(x.drift * 100).toFixed(1)} % of synced files differ from the hub (warn above ${(t.driftWarn * 100).toFixed(1)} %)`);
  if (x.held > 0) add('warn', `${x.held} file${x.held === 1 ? ' is' : 's are'} held back from sync and need a person (\`agentgit status\`)`);
  if (x.rebuildFailed) add('fail', `the derived-state rebuild failed: ${x.rebuildFailed}`);
  else if (x.recoveryMs !== null && x.recoveryMs / 1000 > t.recoveryWarnSeconds) add('warn', `the last rebuild of derived state took ${(x.recoveryMs / 1000).toFixed(1)} s (warn above ${t.recoveryWarnSeconds} s)`);
  for (const hb of x.others) {
    if (hb.instance === x.self.instance) continue;
    const lag = hb.lastSuccessAt === null ? null : (x.now - hb.lastSuccessAt) / 1000;
    const l = lagLevel(lag, t);
    if (l !== 'ok') add(l, `instance ${hb.instance} last synced ${lag === null ? 'never' : `${Math.round(lag)} s ago`}`);
    if (hb.rebuildFailed) add('warn', `instance ${hb.instance}: derived-state rebuild failed: ${hb.rebuildFailed}`);
  }
  return { level, reasons };
}
