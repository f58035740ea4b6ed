/** What the compaction tests share: exit-0 runs, counting entries, a run killed at a failpoint. */
import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import { BIN, type Instance, type Run } from '../helpers/agents.js';

/** How many lines of `text` are exactly `entry`. */
export const count = (text: string, entry: string): number => text.split('\n').filter((l) => l === entry).length;

/** The run, which must have exited 0 (its output in the failure message). */
export async function ok(r: Promise<Run>): Promise<Run> {
  const x = await r;
  expect(x.code, `${x.stderr}${x.stdout}`).toBe(0);
  return x;
}

/** `agentgit ARGS -C DIR` on `inst` with the failpoint `point` armed: it must die there by SIGKILL. */
export async function killedAt(inst: Instance, point: string, args: string[]): Promise<void> {
  const r = await new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((res) => {
    const child = spawn(process.execPath, [BIN, ...args, '-C', inst.dir], { env: { ...inst.env, AGENTGIT_FAILPOINT: point } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (_code, signal) => res({ signal, stderr }));
  });
  expect(r.signal, r.stderr).toBe('SIGKILL');
  expect(r.stderr).toContain(`failpoint ${point}: kill`);
}
