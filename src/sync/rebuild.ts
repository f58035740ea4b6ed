/**
 * Rebuilding derived state (an index, embeddings) with the policy's
 * `rebuild.command`, run in the state directory with a deadline after a
 * sync that changed `rebuild.paths`, or by hand with `agentgit rebuild`.
 * Its duration is the recovery time that health reports.
 *
 * Its error goes to state.json, `agentgit status` and this instance's
 * heartbeat on the hub: tokens, keys, URL credentials and `password=…`
 * forms in the command or its stderr are redacted (sync/secrets.ts), and
 * only the last stderr line, at most 200 characters, is kept.
 */
import { spawn } from 'node:child_process';
import ignore from 'ignore';
import type { RebuildSpec } from '../policy/policy.js';
import { redactCredentials } from './secrets.js';

export interface RebuildResult {
  ms: number;
  /** null when it succeeded; else what went wrong, for the operator (redacted: it is published). */
  error: string | null;
}

export function needsRebuild(spec: RebuildSpec, changedPaths: string[]): boolean {
  const m = ignore().add(spec.paths);
  return changedPaths.some((p) => {
    try {
      return m.ignores(p);
    } catch {
      return false;
    }
  });
}

export function runRebuild(root: string, spec: RebuildSpec): Promise<RebuildResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const [cmd, ...args] = spec.command;
    const child = spawn(cmd!, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], detached: true, env: { ...process.env, AGENTGIT_REBUILD: '1' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, spec.timeoutSeconds * 1000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - t0, error: redactCredentials(`cannot run ${cmd}: ${e.message}`) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - t0;
      const tail = redactCredentials(stderr.trim().split('\n').pop() ?? '').slice(0, 200);
      const cmdline = redactCredentials(spec.command.join(' '));
      if (timedOut) resolve({ ms, error: `${cmdline} did not finish within ${spec.timeoutSeconds} s` });
      else if (code !== 0) resolve({ ms, error: `${cmdline} exited with status ${code ?? signal}${tail ? `: ${tail}` : ''}` });
      else resolve({ ms, error: null });
    });
  });
}
