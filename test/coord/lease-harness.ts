/**
 * The lease tests' harness (test/coord/lease-*.test.ts): three real
 * instances, leased workers that log `start`/`end` lines to one shared file
 * (O_APPEND: the file's order is the real order), the checks of that log
 * (never two at once, tokens grow: ordering, never durations), and a
 * handover after a disruption of the holder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { BIN, Instance, ROOT, tempDir, type Run } from '../helpers/agents.js';

/** Lease processes started by the tests; killLeftovers() (afterEach) kills any still running. */
const running: ChildProcess[] = [];
export function killLeftovers(): void {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/**
 * Leased runs per instance in the loops: AGENTGIT_LEASE_TRIALS, else 40 in
 * the long reliability run, else a sample of 2 (the `npm test` lease files
 * stay under 30 s each). `npm run test:reliability` runs them with 100:
 * three instances × 100 on the file hub, × 50 through sshd and with skew.
 */
export const TRIALS = Number(process.env.AGENTGIT_LEASE_TRIALS ?? (process.env.AGENTGIT_RELIABILITY === 'long' ? '40' : '2'));
export const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** A command that logs `start INST TOKEN`, works `secs`, logs `end INST TOKEN` (also when stopped by SIGTERM). */
export function worker(log: string, inst: string, secs: number): string[] {
  const line = (what: string): string => `echo "${what} ${inst} $AGENTGIT_LEASE_TOKEN $AGENTGIT_LEASE_NAME" >> '${log}'`;
  return ['sh', '-c', `trap '${line('end').replace(/'/g, `'\\''`)}; exit 143' TERM; ${line('start')}; sleep ${secs} & wait $!; ${line('end')}`];
}

export interface Span {
  inst: string;
  token: number;
}

/** The runs in the log, checked: strictly one at a time, each ends before the next starts, tokens increase. */
export function checkLog(log: string): Span[] {
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  const spans: Span[] = [];
  let open: Span | null = null;
  for (const l of lines) {
    const [what, inst, token] = l.split(' ');
    const s = { inst: inst!, token: Number(token) };
    if (what === 'start') {
      expect(open, `overlap: ${inst} started while ${open?.inst} (token ${open?.token}) ran\n${lines.join('\n')}`).toBeNull();
      if (spans.length) expect(s.token, `token did not grow\n${lines.join('\n')}`).toBeGreaterThan(spans[spans.length - 1]!.token);
      open = s;
      spans.push(s);
    } else {
      expect(open, `end without start\n${lines.join('\n')}`).toEqual(s);
      open = null;
    }
  }
  return spans;
}

export function lease(inst: Instance, args: string[], extraEnv: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, 'lease', ...args.slice(0, 1), ...args.slice(1)], { env: { ...inst.env, ...extraEnv }, cwd: ROOT });
  running.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((r) => child.on('close', (code, sig) => r({ code: code ?? (sig === 'SIGKILL' ? 137 : -1), stdout, stderr })));
  return { child, done };
}

export async function until(what: string, cond: () => boolean, boundMs = 60_000): Promise<void> {
  const end = Date.now() + boundMs; // a bound for failing, not an assertion
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const started = (log: string, inst: string): (() => boolean) => () => existsSync(log) && readFileSync(log, 'utf8').includes(`start ${inst} `);

/**
 * `a` runs a long leased worker; once it has started, `disrupt` hits it; then
 * `b` waits for the lease and runs a short one. The log must show a's run
 * ended (its command was stopped) before b's began.
 */
export async function handover(a: Instance, b: Instance, name: string, disrupt: (holder: ChildProcess) => void, restore: (holder: ChildProcess) => void = () => undefined): Promise<Run> {
  const log = join(tempDir(), `${name}.log`);
  const holder = lease(a, ['run', name, '-C', a.dir, '--ttl', '2s', '--', ...worker(log, 'a', 60)]);
  await until('a runs', started(log, 'a'));
  disrupt(holder.child);
  try {
    const r = await lease(b, ['run', name, '-C', b.dir, '--ttl', '2s', '--wait', '60', '--', ...worker(log, 'b', 0.1)]).done;
    expect(r.code, r.stderr).toBe(0);
  } finally {
    restore(holder.child);
  }
  expect(checkLog(log).map((s) => s.inst)).toEqual(['a', 'b']);
  return holder.done;
}

/** Three admitted instances (each with the others' keys in its history). */
export async function fleet(hub: string, extraEnv: Record<string, string> = {}, hubForA?: string): Promise<Instance[]> {
  const a = await Instance.init(hubForA ?? hub, 'a', { extraEnv });
  const b = await Instance.clone(hub, 'b', { extraEnv, admitBy: a });
  const c = await Instance.clone(hub, 'c', { extraEnv, admitBy: a });
  for (const i of [b, c, a]) expect((await i.sync()).code).toBe(0);
  return [a, b, c];
}

/** Each instance runs `n` leased workers in a row, all three at once; returns the exit codes. */
export async function loops(insts: Instance[], log: string, n: number, envFor: (i: Instance) => Record<string, string> = () => ({})): Promise<number[]> {
  const codes: number[] = [];
  await Promise.all(
    insts.map(async (i) => {
      for (let k = 0; k < n; k++) {
        const r = await lease(i, ['run', 'job', '-C', i.dir, '--ttl', '2s', '--wait', '60', '--', ...worker(log, i.name, 0.2)], envFor(i)).done;
        expect([0, 75], r.stderr).toContain(r.code);
        codes.push(r.code);
      }
    }),
  );
  return codes;
}
