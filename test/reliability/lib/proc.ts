/**
 * Processes for the reliability suite: run the real `bin/agentgit` with an
 * optional wrapper (unshare for partitions), watch its trace, and kill -9 it
 * (alone, or with every descendant) at a chosen point.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BIN } from '../../helpers/agents.js';

export interface Proc {
  pid: number;
  ppid: number;
  state: string;
  start: string;
}

export function readProc(pid: number): Proc | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), state: f[0] ?? '?', start: f[19] ?? '' };
  } catch {
    return undefined;
  }
}

function allProcs(): Proc[] {
  const out: Proc[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const p = readProc(Number(n));
    if (p) out.push(p);
  }
  return out;
}

/**
 * Wait (at most timeoutMs) until no git process works in `dir` (its cwd inside
 * it): git's auto gc runs detached after a sync has exited (gc.autoDetach), and
 * a `git fsck` racing its repack reports packs it cannot open. Not a check of
 * agentgit: only so that fsck reads a repo nobody is repacking.
 */
export function waitGitIdle(dir: string, timeoutMs = 120_000): void {
  const end = Date.now() + timeoutMs;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let busy = false;
    for (const n of readdirSync('/proc')) {
      if (!/^\d+$/.test(n)) continue;
      try {
        if (!readFileSync(`/proc/${n}/comm`, 'utf8').startsWith('git')) continue;
        const cwd = readlinkSync(`/proc/${n}/cwd`);
        if (cwd === dir || cwd.startsWith(dir + '/')) busy = true;
      } catch {
        /* gone */
      }
      if (busy) break;
    }
    if (!busy || Date.now() > end) return;
    Atomics.wait(nap, 0, 0, 50);
  }
}

/** Live descendants of pid (children, grandchildren...), found through /proc. */
export function descendants(pid: number): Proc[] {
  const procs = allProcs();
  const kids = new Map<number, Proc[]>();
  for (const p of procs) {
    const l = kids.get(p.ppid);
    if (l) l.push(p);
    else kids.set(p.ppid, [p]);
  }
  const out: Proc[] = [];
  const queue = [pid];
  while (queue.length) {
    const q = queue.pop()!;
    for (const k of kids.get(q) ?? []) {
      if (k.state === 'Z' || k.state === 'X') continue;
      out.push(k);
      queue.push(k.pid);
    }
  }
  return out;
}

function signal(p: { pid: number; start: string }, sig: NodeJS.Signals): void {
  const now = readProc(p.pid);
  if (!now || now.start !== p.start) return;
  try {
    process.kill(p.pid, sig);
  } catch {
    /* gone */
  }
}

/**
 * kill -9 of `pid`. mode 'tree': freeze it and every descendant, then SIGKILL them all
 * (an OOM kill of the cgroup, a power cut for these processes). mode 'main': SIGKILL the
 * agentgit process only; its git children run on as orphans (cron's `kill -9 PID`).
 * Returns the orphans still running (mode 'main'), to wait for.
 */
export function kill9(pid: number, mode: 'tree' | 'main'): Proc[] {
  const self = readProc(pid);
  if (!self) return [];
  if (mode === 'main') {
    signal(self, 'SIGSTOP');
    const orphans = descendants(pid);
    signal(self, 'SIGKILL');
    return orphans;
  }
  const frozen = new Map<number, Proc>([[pid, self]]);
  signal(self, 'SIGSTOP');
  for (let pass = 0; pass < 20; pass++) {
    const fresh = descendants(pid).filter((p) => !frozen.has(p.pid));
    if (fresh.length === 0) break;
    for (const p of fresh) {
      signal(p, 'SIGSTOP');
      frozen.set(p.pid, p);
    }
  }
  for (const p of frozen.values()) signal(p, 'SIGKILL');
  return [];
}

/** Wait until these processes are gone (or zombies), at most timeoutMs. */
export async function waitGone(procs: Proc[], timeoutMs = 30_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = procs.filter((p) => {
      const now = readProc(p.pid);
      return now && now.start === p.start && now.state !== 'Z' && now.state !== 'X';
    });
    if (left.length === 0) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface RunOut {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Spawned {
  child: ChildProcess;
  pid: number;
  /** called for each complete stderr line as it arrives */
  onLine: (f: (line: string) => void) => void;
  done: Promise<RunOut>;
}

/**
 * Spawn `agentgit ARGS` (through `wrapper`, e.g. ['unshare', '-n']) in its own session,
 * stdin closed: it can never prompt. A hard timeout kills the whole tree.
 */
export function spawnAgentgit(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; wrapper?: string[]; timeoutMs?: number } = {}): Spawned {
  const argv = [...(opts.wrapper ?? []), process.execPath, BIN, ...args];
  const t0 = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  let partial = '';
  const listeners: Array<(line: string) => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) for (const f of listeners) f(l);
  });
  const pid = child.pid ?? -1;
  const timer = setTimeout(() => kill9(pid, 'tree'), opts.timeoutMs ?? 180_000);
  const done = new Promise<RunOut>((resolve, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, signal: sig, stdout, stderr, ms: Math.round(performance.now() - t0) });
    });
  });
  return { child, pid, onLine: (f) => listeners.push(f), done };
}

export function runAgentgit(args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; wrapper?: string[]; timeoutMs?: number } = {}): Promise<RunOut> {
  return spawnAgentgit(args, env, opts).done;
}

/** Whether a command works here (e.g. `unshare -n true` needs CAP_SYS_ADMIN). */
export function canRun(cmd: string, args: string[]): boolean {
  try {
    const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
    return r.status === 0;
  } catch {
    return false;
  }
}

export function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, input: opts.input, encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function shOk(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string | Buffer } = {}): string {
  const r = sh(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}
