/**
 * Start-up: `agentgit --version` beside `node -e 0`, interleaved, and (as a
 * diagnostic) the cost of loading the modules of `agentgit sync` alone: a sync
 * of a directory that does not exist loads the round's chunks and stops.
 *
 * Every command runs in a cron job's environment (instanceEnv: its own HOME
 * and AGENTGIT_HOME, where the code cache goes), not the bench's: a variable
 * such as NODE_EXTRA_CA_CERTS (set on this VM) makes every Node start read a
 * certificate bundle, 45 ms here, which a cron job does not pay.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, instanceEnv, NODE, run, shuffled, summary } from '../lib/util.mjs';

export async function startupSuite(reps) {
  const env = instanceEnv(mkdtempSync(join(tmpdir(), 'bench-startup-')));
  const missing = join(env.HOME, 'no-such-dir');
  const entries = {
    node: () => run(NODE, ['-e', '0'], { env }),
    version: () => run(NODE, [BIN, '--version'], { env }),
    syncImport: async () => {
      const r = await run(NODE, [BIN, 'sync', '-C', missing, '--quiet'], { env });
      return { ...r, code: r.code === 1 ? 0 : -1 }; // fails as it should, after loading the round
    },
  };
  for (const f of Object.values(entries)) await f(); // the first run writes the code cache
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
