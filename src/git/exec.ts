/**
 * Running git. The only module that spawns git (src/git/* builds on it).
 *
 * Why not simple-git here: importing it costs ~90 ms on the reference
 * machine, more than a whole no-op sync round may take (see
 * docs/performance.md); and it strips the GIT_* variables that cron users
 * and our tests rely on. This runner is small: argument arrays only (never a
 * shell string), a hard deadline that kills the whole process group, and an
 * environment that can never prompt.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { sshCommand } from './ssh.js';

export class GitError extends Error {
  readonly code = 'EGIT';
  constructor(
    message: string,
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly timedOut: boolean,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

/**
 * An object or pack from a hub the isomorphic-git engine refuses to
 * inflate: over its caps (git/iso/pack.ts). Wrapped into the hub's error
 * (exit 1, naming the hub) before it leaves the engine, its advice fitting
 * the direction (iso/connected.ts hubObjectError: a push reads the hub's
 * history too).
 */
export class ObjectTooBigError extends Error {
  constructor(
    readonly what: string,
    op: 'fetch' | 'push' = 'fetch',
  ) {
    super(`${what}, more than the isomorphic-git engine inflates from a hub; ${op} once with git (AGENTGIT_ENGINE=git)`);
    this.name = 'ObjectTooBigError';
  }
}

/** An object, pack or pack index the isomorphic-git engine finds damaged or malformed: what is wrong, in words (wrapped like ObjectTooBigError). */
export class BadObjectError extends Error {
  constructor(what: string) {
    super(what);
    this.name = 'BadObjectError';
  }
}

export interface RunOptions {
  cwd: string;
  input?: string | Uint8Array;
  env?: Record<string, string | undefined>;
  /** Kill git (and ssh under it) after this many ms. */
  timeoutMs?: number;
  /** Exit codes that are not errors (e.g. 1 for `merge-base --is-ancestor`). */
  okCodes?: number[];
  /**
   * The process reads no object that only this process's unwritten batch
   * holds (a fetch: it reads refs, and every ref names objects already on
   * disk), so the batch is not written before it starts (git/objects.ts).
   */
  noFlush?: boolean;
  /** Stop git (and ssh under it) when this fires: the call then fails as stopped. */
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/**
 * The environment every git call gets: no terminal prompt, no askpass
 * program, ssh in batch mode with a connect timeout unless the operator
 * configured an ssh command (GIT_SSH_COMMAND, GIT_SSH or the repo's
 * core.sshCommand), sharing one connection during a sync round (git/ssh.ts),
 * C locale for parseable messages.
 */
export function gitEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_ASKPASS = env.GIT_ASKPASS_AGENTGIT ?? 'true';
  env.SSH_ASKPASS_REQUIRE = 'never';
  env.LC_ALL = 'C';
  env.GIT_MERGE_AUTOEDIT = 'no';
  env.GIT_EDITOR = 'true';
  const ssh = sshCommand(env); // the operator's, the repo's core.sshCommand, or agentgit's (git/ssh.ts)
  if (ssh !== undefined) env.GIT_SSH_COMMAND = ssh;
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

/**
 * The round's backstop deadline (sync/round.ts sets it): every git child
 * alive then is killed, the calls waiting on them fail, and so the round
 * ends with a reason instead of hanging on hostile input. Children register
 * here (runGit's, the cat-file session's).
 */
const live = new Set<ChildProcess>();
let deadlineAt: number | null = null;
let deadlineTimer: NodeJS.Timeout | undefined;
let deadlinePassed = false;

/** Kill `child` (and its process group) when the deadline passes; forgotten when it exits. */
/** The git command an argv runs (`clone` in `-c k=v clone …`), for messages. */
export function subcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-c' || a === '-C') i++;
    else if (!a.startsWith('-')) return a;
  }
  return args[0] ?? '';
}

/** The error of a git command that exited with `code`: its first stderr line (what runGit throws; callers that let a code through throw it themselves). */
export function gitFailure(args: string[], code: number, stderr: string): GitError {
  const first = stderr.split('\n').find((l) => l.trim() !== '') ?? `exit ${code}`;
  return new GitError(`git ${subcommand(args)} failed: ${first.trim()}`, args, code, stderr, false);
}

export function trackChild(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  live.add(child);
  child.once('exit', () => live.delete(child)); // 'exit': a reader's close() removes its 'close' listeners
  if (deadlinePassed) killTree(child.pid);
}

/** Set (ms from now) or clear (null) the deadline of every git child of this process. */
export function setChildDeadline(ms: number | null): void {
  if (deadlineTimer) clearTimeout(deadlineTimer);
  deadlineTimer = undefined;
  deadlinePassed = false;
  deadlineAt = ms === null ? null : Date.now() + ms;
  if (ms === null) return;
  deadlineTimer = setTimeout(() => {
    deadlinePassed = true;
    for (const c of live) killTree(c.pid);
  }, ms);
  deadlineTimer.unref();
}

/** The deadline set by setChildDeadline (epoch ms), null when none: the isomorphic-git engine's hub requests stop there too. */
export function childDeadlineAt(): number | null {
  return deadlineAt;
}

const TRACE = process.env.AGENTGIT_TRACE === '1';
const T0 = Date.now();
/** How long a git's pipes may stay open after it exited (see runGitInner). */
const EXIT_GRACE_MS = 250;

let beforeSpawn: (() => void) | null = null;
/**
 * Run `f` before every git process starts: git/objects.ts writes the
 * objects it holds in memory there, so that no git process is ever told of
 * an object that is not on disk yet.
 */
export function setBeforeSpawn(f: () => void): void {
  beforeSpawn = f;
}

/** With AGENTGIT_TRACE=1: a step done in-process in place of a git command, started at `startedAt` (`[trace +Tms Dms] in-process push …`, beside the git calls). */
export function traceInProcess(what: string, startedAt: number): void {
  if (TRACE) process.stderr.write(`[trace +${startedAt - T0}ms ${Date.now() - startedAt}ms] in-process ${what.slice(0, 100)}\n`);
}

export function runGit(args: string[], opts: RunOptions): Promise<RunResult> {
  if (!TRACE) return runGitInner(args, opts);
  const t = Date.now();
  return runGitInner(args, opts).finally(() => process.stderr.write(`[trace +${t - T0}ms ${Date.now() - t}ms] git ${args.join(' ').slice(0, 100)}\n`));
}

function runGitInner(args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (!opts.noFlush) beforeSpawn?.(); // a throw (a full disk) rejects: git is not run
    const child = spawn('git', args, {
      cwd: opts.cwd,
      env: gitEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let stopped = false;
    const stop = (): void => {
      stopped = true;
      killTree(child.pid);
    };
    if (opts.signal?.aborted) stop();
    else opts.signal?.addEventListener('abort', stop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const left = deadlineAt === null ? undefined : Math.max(0, deadlineAt - Date.now());
    const timeoutMs = opts.timeoutMs === undefined ? left : left === undefined ? opts.timeoutMs : Math.min(opts.timeoutMs, left);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        killTree(child.pid);
      }, timeoutMs);
    }
    trackChild(child);
    // An ssh master that git's ssh rode holds the stderr it was handed (OpenSSH passes a session's descriptors
    // to the master) for as long as that session lasts, which a frozen hub makes forever. git's stdout is its
    // own (ssh talks to git through git's pipes). So once git has exited, its stderr gets a moment more and
    // then, after a poll of the event loop has read what is already in the pipe (setImmediate), is let go.
    child.once('exit', () => {
      if (timer) clearTimeout(timer); // exited in time: never "did not finish", whatever its pipes do
      setTimeout(() => setImmediate(() => child.stderr.destroy()), EXIT_GRACE_MS).unref();
    });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new GitError(`cannot run git: ${e.message} (is git installed and on PATH?)`, args, null, '', false));
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', stop);
      const stderr = Buffer.concat(err).toString('utf8');
      const stdout = Buffer.concat(out);
      const c = code ?? -1;
      if (stopped && code !== 0) {
        reject(new GitError(`git ${subcommand(args)} was stopped: the round no longer needed it`, args, c, stderr, false));
      } else if (timedOut) {
        reject(new GitError(`git ${subcommand(args)} did not finish within ${Math.round((timeoutMs ?? 0) / 1000)} s`, args, c, stderr, true));
      } else if (deadlinePassed && code === null) {
        reject(new GitError(`git ${subcommand(args)} was stopped: the round passed its deadline`, args, c, stderr, true));
      } else if (c === 0 || opts.okCodes?.includes(c)) {
        resolve({ stdout, stderr, code: c });
      } else {
        reject(gitFailure(args, c, stderr));
      }
    });
    child.stdin.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

function killTree(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** stdout as trimmed text. */
export async function gitText(args: string[], opts: RunOptions): Promise<string> {
  return (await runGit(args, opts)).stdout.toString('utf8').trim();
}
