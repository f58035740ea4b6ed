/**
 * Scale of a run (`npm test`: a sample; AGENTGIT_RELIABILITY=long: the long run)
 * and the results each scenario leaves for docs/reliability.md
 * (one JSON line per scenario in $AGENTGIT_RELIABILITY_OUT).
 */
import { appendFileSync } from 'node:fs';
import type { HubKind } from '../../helpers/hubs.js';
import type { CheckResult } from './checker.js';

export const LONG = process.env.AGENTGIT_RELIABILITY === 'long';

/** AGENTGIT_RELIABILITY_KILL_TRIALS=N: N kill -9 trials on each hub kind instead of the mode's default. */
const KILL_TRIALS = Number(process.env.AGENTGIT_RELIABILITY_KILL_TRIALS ?? 0);
const killTrials = (d: Record<HubKind, number>): Record<HubKind, number> => (KILL_TRIALS > 0 ? { file: KILL_TRIALS, ssh: KILL_TRIALS, https: KILL_TRIALS } : d);

export const SCALE = LONG
  ? {
      mode: 'long' as const,
      concurrentRounds: 4,
      burst: 5,
      twoSyncRounds: 2,
      killTrials: killTrials({ file: 80, ssh: 64, https: 64 }),
      hubDownRounds: 2,
      hungTimeoutSec: 4,
      partitionRounds: 3,
      diskFullLevels: [0, 4096, 65536],
      skewRounds: 1,
      busyRounds: 3,
    }
  : {
      mode: 'sample' as const,
      concurrentRounds: 1,
      burst: 4,
      twoSyncRounds: 1,
      killTrials: killTrials({ file: 4, ssh: 2, https: 2 }),
      hubDownRounds: 1,
      hungTimeoutSec: 3,
      partitionRounds: 2,
      diskFullLevels: [16384],
      skewRounds: 0,
      busyRounds: 1,
    };

export interface ScenarioResult {
  scenario: string;
  title: string;
  hub: HubKind;
  /** the engine of the world's instances (world.ts Engine); absent in results of older runs: git */
  engine: 'git' | 'isomorphic-git' | 'mixed';
  mode: 'long' | 'sample';
  instances: number;
  rounds: number;
  writes: { entries: number; jsonWrites: number; items: number };
  faults: string;
  syncs: number;
  exitCodes: Record<string, number>;
  check: CheckResult | null;
  ok: boolean;
  ms: number;
  seed: number;
  notes: string[];
  skipped?: string;
  killPoints?: Record<string, { landed: number; tried: number }>;
}

export function record(r: ScenarioResult): void {
  const out = process.env.AGENTGIT_RELIABILITY_OUT;
  if (out) appendFileSync(out, JSON.stringify(r) + '\n');
}
