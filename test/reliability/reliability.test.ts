/**
 * Issue #6, the reliability suite: the promises of README.md under real hubs
 * (file path, ssh, https) and injected faults, each scenario followed by one
 * checker (lib/checker.ts).
 *
 * `npm test` runs a sample: every scenario at least once, spread over the hub
 * kinds, worlds running two at a time. `npm run test:reliability`
 * (AGENTGIT_RELIABILITY=long) runs every scenario over every hub kind with
 * more instances, rounds and kill -9 trials, and writes docs/reliability.md.
 *
 * Engines (docs/engines.md, issue #16): every world on a file or https hub runs
 * once on the git CLI and once on isomorphic-git, and one more world is a mixed
 * fleet (instances on both engines, one hub); ssh worlds run on git only (the
 * isomorphic-git engine has no ssh transport). The sample runs a few scenarios
 * on isomorphic-git and on a mixed fleet.
 */
import { afterAll } from 'vitest';
import { cleanupTemp } from '../helpers/agents.js';
import type { HubKind } from '../helpers/hubs.js';
import { badInput } from './lib/badinput.js';
import { LONG } from './lib/report.js';
import { pick, SCENARIOS } from './lib/scenarios.js';
import { defineSuite } from './lib/suite.js';
import { ENGINES, type Engine } from './lib/world.js';

afterAll(() => cleanupTemp());

/**
 * AGENTGIT_RELIABILITY_ONLY=kill-9[,hub-down…]: only these scenarios (a partial
 * run, e.g. `npm run test:reliability -- --only kill-9`); unset: all of them.
 */
const only = (process.env.AGENTGIT_RELIABILITY_ONLY ?? '')
  .split(',')
  .map((x) => x.trim())
  .filter(Boolean);
/** AGENTGIT_RELIABILITY_ENGINES=isomorphic-git[,mixed…]: only worlds on these engines; unset: all. */
const engines = (process.env.AGENTGIT_RELIABILITY_ENGINES ?? '')
  .split(',')
  .map((x) => x.trim())
  .filter(Boolean);
const unknown = engines.filter((e) => !ENGINES.includes(e as Engine));
if (unknown.length) throw new Error(`AGENTGIT_RELIABILITY_ENGINES: unknown engine ${unknown.join(', ')} (use ${ENGINES.join(', ')})`);
const suite = (o: Parameters<typeof defineSuite>[0]): void => {
  const scenarios = only.length ? o.scenarios.filter((d) => only.includes(d.id)) : o.scenarios;
  if (engines.length && !engines.includes(o.engine ?? 'git')) return;
  if (scenarios.length) defineSuite({ ...o, scenarios });
};

if (LONG) {
  for (const kind of ['file', 'ssh', 'https'] as HubKind[]) {
    for (const engine of kind === 'ssh' ? (['git'] as const) : (['git', 'isomorphic-git'] as const)) {
      suite({ kind, engine, names: ['a', 'b', 'c'], tmpfsLast: true, checkEach: true, scenarios: [...SCENARIOS, badInput] });
    }
  }
  // a mixed fleet: a and c on git, b on isomorphic-git, over the https hub (the isomorphic-git engine's own ground)
  suite({ kind: 'https', engine: 'mixed', names: ['a', 'b', 'c'], tmpfsLast: true, checkEach: true, scenarios: [...SCENARIOS, badInput] });
} else {
  suite({ kind: 'file', names: ['a', 'b', 'c'], tmpfsLast: true, checkEach: false, scenarios: pick('concurrent', 'kill-9', 'hub-hung', 'local-disk-full') });
  suite({ kind: 'ssh', names: ['a', 'b'], checkEach: false, scenarios: pick('hub-hung', 'auth-refused', 'kill-9', 'partition', 'clock-skew') });
  suite({ kind: 'https', names: ['a', 'b'], checkEach: false, scenarios: pick('hub-down', 'hub-rejects', 'auth-refused', 'kill-9', 'busy-agent', 'two-syncs') });
  suite({ kind: 'file', label: 'bad input', names: ['a', 'b'], checkEach: false, scenarios: [badInput] });
  suite({ kind: 'https', engine: 'isomorphic-git', names: ['a', 'b'], checkEach: false, scenarios: pick('kill-9', 'hub-hung', 'auth-refused') });
  suite({ kind: 'file', engine: 'mixed', names: ['a', 'b'], checkEach: false, scenarios: pick('concurrent', 'kill-9', 'busy-agent') });
}
