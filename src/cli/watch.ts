/**
 * `agentgit watch [-C DIR] [--debounce MS] [--poll SEC] [--interval SEC]
 * [--quiet] [--json]`: stay up and sync on change (see src/sync/watch.ts).
 */
import { runWatch } from '../sync/watch.js';
import { checkDirExists } from '../sync/context.js';
import { reportError } from './main.js';

export async function watchCommand(a: { C: string; debounce: number; poll: number; interval: number; quiet: boolean; json: boolean }): Promise<void> {
  for (const [flag, v] of [['--debounce', a.debounce], ['--poll', a.poll], ['--interval', a.interval]] as const) {
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) {
      reportError(`${flag} must be a positive number (${flag === '--debounce' ? 'milliseconds' : 'seconds'})`, 2, a.json);
      return;
    }
  }
  checkDirExists(a.C);
  process.exitCode = await runWatch({ dir: a.C, debounceMs: a.debounce, pollSec: a.poll, intervalSec: a.interval, quiet: a.quiet, json: a.json });
}
