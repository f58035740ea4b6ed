/**
 * Start-up: `agentgit --version` beside `node -e 0`, interleaved, and (as a
 * diagnostic) the cost of loading the modules of `agentgit sync` alone.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { APP, BIN, NODE, run, shuffled, summary } from '../lib/util.mjs';

export async function startupSuite(reps) {
  const syncModule = pathToFileURL(join(APP, 'dist', 'cli', 'sync.js')).href;
  const entries = {
    node: () => run(NODE, ['-e', '0']),
    version: () => run(NODE, [BIN, '--version']),
    syncImport: () => run(NODE, ['--input-type=module', '-e', `await import(${JSON.stringify(syncModule)})`]),
  };
  const samples = [];
  for (let i = 0; i < reps; i++) {
    const s = {};
    for (const [k, f] of shuffled(Object.entries(entries))) {
      const r = await f();
      s[k] = r.code === 0 ? r.ms : NaN;
    }
    samples.push(s);
  }
  const col = (k) => summary(samples.map((s) => s[k]));
  return {
    reps,
    stats: { node: col('node'), version: col('version'), syncImport: col('syncImport') },
    ratios: {
      version: summary(samples.map((s) => s.version / s.node)),
      syncImport: summary(samples.map((s) => s.syncImport / s.node)),
    },
  };
}
