/**
 * Issue #6, the reliability suite: the promises of README.md under real hubs
 * (file path, ssh, https) and injected faults, each scenario followed by one
 * checker (lib/checker.ts).
 *
 * `npm test` runs a sample: every scenario at least once, spread over the hub
 * kinds, worlds running two at a time. `npm run test:reliability`
 * (AGENTGIT_RELIABILITY=long) runs every scenario over every hub kind with
 * more instances, rounds and kill -9 trials, and writes docs/reliability.md.
 */
import { afterAll } from 'vitest';
import { cleanupTemp } from '../helpers/agents.js';
import type { HubKind } from '../helpers/hubs.js';
import { badInput } from './lib/badinput.js';
import { LONG } from './lib/report.js';
import { pick, SCENARIOS } from './lib/scenarios.js';
import { defineSuite } from './lib/suite.js';

afterAll(() => cleanupTemp());

/**
 * AGENTGIT_RELIABILITY_ONLY=kill-9[,hub-down…]: only these scenarios (a partial
 * run, e.g. `npm run test:reliability -- --only kill-9`); unset: all of them.
 */
const only = (process.env.AGENTGIT_RELIABILITY_ONLY ?? '')
  .split(',')
  .map((x) => x.trim())
  .filter(Boolean);
const suite = (o: Parameters<typeof defineSuite>[0]): void => {
  const scenarios = only.length ? o.scenarios.filter((d) => only.includes(d.id)) : o.scenarios;
  if (scenarios.length) defineSuite({ ...o, scenarios });
};

if (LONG) {
  for (const kind of ['file', 'ssh', 'https'] as HubKind[]) {
    suite({ kind, names: ['a', 'b', 'c'], tmpfsLast: true, checkEach: true, scenarios: [...SCENARIOS, badInput] });
  }
} else {
  suite({ kind: 'file', names: ['a', 'b', 'c'], tmpfsLast: true, checkEach: false, scenarios: pick('concurrent', 'kill-9', 'hub-hung', 'local-disk-full') });
  suite({ kind: 'ssh', names: ['a', 'b'], checkEach: false, scenarios: pick('hub-hung', 'auth-refused', 'kill-9', 'partition', 'clock-skew') });
  suite({ kind: 'https', names: ['a', 'b'], checkEach: false, scenarios: pick('hub-down', 'hub-rejects', 'auth-refused', 'kill-9', 'busy-agent', 'two-syncs') });
  suite({ kind: 'file', label: 'bad input', names: ['a', 'b'], checkEach: false, scenarios: [badInput] });
}
