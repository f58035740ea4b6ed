/**
 * Real git hubs on 127.0.0.1 for tests and benchmarks.
 *
 * Each hub lives in its own temp dir and is torn down with `stop()`, which freezes
 * (SIGSTOP) and then SIGKILLs every process the hub started: the servers' process
 * groups, every descendant found through /proc (sshd's per-connection children
 * call setsid(), so a process-group kill alone misses them), and every process
 * that carries the hub's marker in its environment (git-shell, git-http-backend
 * and the git commands they run). A detached watchdog per hub kills the servers'
 * process groups if the test process itself dies without calling stop().
 *
 * Kinds:
 *   - file:  `git init --bare -b main`; url is the absolute path.
 *   - ssh:   OpenSSH sshd, key-only, forced command `git-shell -c` serving a repos
 *            dir; GitHub-style url `git@agentgit-test-hub:agent.git`, reached
 *            through an ssh config file (GIT_SSH_COMMAND="ssh -F <config> -l <user>").
 *   - https: nginx + fcgiwrap + git-http-backend with basic auth and a self-signed
 *            certificate; credentials come from a `credential.helper=store` file
 *            set through GIT_CONFIG_* env vars, never from the url.
 *
 * Binaries come from Debian's openssh-server, openssh-client, nginx-light, fcgiwrap
 * and openssl packages; `.ci/install-deps.sh` installs them. `hubsAvailable()` says
 * whether they are present so that a test can skip with a reason on a dev machine.
 *
 * Set AGENTGIT_KEEP_HUBS=1 to keep the temp dirs (logs, configs) after stop().
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile, readFile, stat, rm, mkdir, chmod } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import path from 'node:path';

// ---------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------

export type HubKind = 'file' | 'ssh' | 'https';

export interface Hub {
  kind: HubKind;
  /** url of the default repo (`agent.git`): a path, `git@agentgit-test-hub:agent.git` or `https://127.0.0.1:PORT/agent.git` */
  url: string;
  /** path of the bare repo on disk, for inspection with git (owned by the current user) */
  repoPath: string;
  /** the hub's temp dir (configs, logs, keys); removed by stop() */
  dir: string;
  /**
   * Env a client process (git / agentgit) needs to reach the hub with no prompt.
   * Merge it over process.env, or use gitEnv(hub.clientEnv, ...) which also renumbers
   * GIT_CONFIG_COUNT entries when several parts set some.
   * It does not set GIT_TERMINAL_PROMPT: the caller (or agentgit) must.
   */
  clientEnv: Record<string, string>;
  /** make another bare repo `name` (e.g. `other.git`) on this hub */
  createRepo(name: string): Promise<{ url: string; repoPath: string }>;
  /**
   * The hub's live processes right now (servers, workers, per-connection children);
   * `start` is the start time from /proc (tells a pid apart from a later reuse of it).
   */
  processes(): Array<{ pid: number; comm: string; start: string }>;
  /** kill every process of the hub and remove its dir; idempotent */
  stop(): Promise<void>;
  /** freeze the server (SIGSTOP): new and open connections hang. For fault tests. */
  pause?(): Promise<void>;
  /** undo pause() */
  resume?(): Promise<void>;
  /**
   * Kill the server (hub down: connection refused) but keep its dir, port, keys and
   * clientEnv, so that up() can bring the same hub back. For fault tests.
   */
  down?(): Promise<void>;
  /** restart the server after down(), on the same port with the same keys and repos */
  up?(): Promise<void>;
}

export interface SshHub extends Hub {
  kind: 'ssh';
  port: number;
  /** Host alias in the client's ssh config (`agentgit-test-hub` unless asked otherwise) */
  hostAlias: string;
  /** the client's ssh config file (HostName, Port, User, IdentityFile, known_hosts, BatchMode...) */
  sshConfigPath: string;
  /** the client's private key (authorized on the hub) */
  identityFile: string;
  /** the client's known_hosts, pinning this hub's host key for [127.0.0.1]:PORT */
  knownHostsPath: string;
  /** the user sshd authenticates (the current user); GIT_SSH_COMMAND passes `-l` with it */
  serverUser: string;
  /** ssh connections that passed public-key authentication so far (from sshd's VERBOSE log) */
  connectionCount(): number;
  /** sshd's log so far */
  log(): string;
  /**
   * clientEnv for a fresh key that the hub does not know (auth failure tests).
   * Same host key pinning and BatchMode, so the only difference is the key.
   */
  clientEnvWithUnknownKey(): Promise<Record<string, string>>;
}

export interface HttpsHub extends Hub {
  kind: 'https';
  port: number;
  user: string;
  password: string;
  /** the self-signed certificate (GIT_SSL_CAINFO in clientEnv) */
  caFile: string;
  /** TLS connections that made at least one request so far (from nginx's access log) */
  connectionCount(): number;
  /** HTTP requests served so far, including 401s */
  requestCount(): number;
  /** nginx's access log lines so far: `<conn> <conn_requests> <user> <status> "<request>"` */
  accessLog(): string[];
  /** nginx's error log so far (git-http-backend stderr lands there too) */
  log(): string;
  /** clientEnv whose credential store holds other credentials (e.g. a wrong password) */
  clientEnvWithCredentials(user: string, password: string): Promise<Record<string, string>>;
}

export interface HungHub {
  /** https://127.0.0.1:PORT/agent.git */
  url: string;
  httpsUrl: string;
  httpUrl: string;
  /** ssh://git@127.0.0.1:PORT/agent.git (ssh-style url with a port) */
  sshUrl: string;
  port: number;
  /** env for ssh clients: BatchMode, no config file, no known_hosts (it never gets that far) */
  sshClientEnv: Record<string, string>;
  /** TCP connections accepted so far */
  connectionCount(): number;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------
// Small process utilities
// ---------------------------------------------------------------------------------

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** wall time in milliseconds */
  ms: number;
  /** true when timeoutMs elapsed and the process group was killed */
  timedOut: boolean;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** kill the whole process group (git and its ssh / remote-https children) after this long */
  timeoutMs?: number;
}

/**
 * Run a command (no shell), in its own process group with no controlling terminal and
 * stdin closed (or fed `input`), so it can never prompt. Never rejects on a non-zero exit.
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      }, opts.timeoutMs);
    }
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      // whatever the leader left behind in its group (e.g. ssh after git was killed)
      if (timedOut && child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      resolve({ code, signal, stdout, stderr, ms: performance.now() - start, timedOut });
    });
  });
}

/** run() that throws with the command's stderr unless it exits 0 */
/**
 * openssl's environment for the https hub's certificate: with libfaketime, made
 * two days ago, so that a client whose clock runs hours behind (the clock-skew
 * scenario; an in-process TLS client cannot be left out of the fake time as
 * git-remote-https is) still finds it valid, as it would a real hub's.
 */
function backdated(): NodeJS.ProcessEnv {
  const lib = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'].find((f) => existsSync(f));
  return lib ? { ...process.env, LD_PRELOAD: lib, FAKETIME: '-2d' } : process.env;
}

export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (code ${r.code}, signal ${r.signal}${r.timedOut ? ', timed out' : ''}):\n${r.stderr}${r.stdout}`,
    );
  }
  return r;
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* gone */
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A client env for git: process.env without variables that would redirect git (GIT_DIR...
 * e.g. when tests run from a git hook), no prompts, a fixed identity, then each part in
 * order. GIT_CONFIG_COUNT/KEY_n/VALUE_n entries of all parts are concatenated and renumbered.
 */
export function gitEnv(...parts: Array<Record<string, string | undefined> | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|COMMON_DIR|NAMESPACE|PREFIX|CONFIG_PARAMETERS|CONFIG_COUNT|CONFIG_KEY_\d+|CONFIG_VALUE_\d+)$/.test(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
    GIT_AUTHOR_NAME: 'agentgit test',
    GIT_AUTHOR_EMAIL: 'test@agentgit.invalid',
    GIT_COMMITTER_NAME: 'agentgit test',
    GIT_COMMITTER_EMAIL: 'test@agentgit.invalid',
  });
  const config: Array<[string, string]> = [];
  for (const part of parts) {
    if (!part) continue;
    const n = Number(part.GIT_CONFIG_COUNT ?? 0);
    for (let i = 0; i < n; i++) config.push([part[`GIT_CONFIG_KEY_${i}`] ?? '', part[`GIT_CONFIG_VALUE_${i}`] ?? '']);
    for (const [k, v] of Object.entries(part)) {
      if (/^GIT_CONFIG_(COUNT|KEY_\d+|VALUE_\d+)$/.test(k)) continue;
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
  }
  Object.assign(env, gitConfigEnv(config));
  return env;
}

/** GIT_CONFIG_COUNT/KEY_n/VALUE_n for these pairs (command-line scope, so safe.directory etc. work) */
export function gitConfigEnv(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  if (pairs.length === 0) return {};
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(pairs.length) };
  pairs.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

// ---------------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------------

function findBin(name: string, extra: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];
  for (const c of [...extra, ...dirs.filter(Boolean).map((d) => path.join(d, name))]) {
    if (existsSync(c)) return c;
  }
  return undefined;
}

let gitExecPathCache: string | undefined;
function gitExecPath(): string {
  if (gitExecPathCache === undefined) {
    try {
      gitExecPathCache = execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim();
    } catch {
      gitExecPathCache = '/usr/lib/git-core';
    }
  }
  return gitExecPathCache;
}

interface Bins {
  git?: string;
  sshd?: string;
  ssh?: string;
  sshKeygen?: string;
  gitShell?: string;
  nginx?: string;
  fcgiwrap?: string;
  httpBackend?: string;
  openssl?: string;
}
let binsCache: Bins | undefined;
function bins(): Bins {
  if (!binsCache) {
    const exec = gitExecPath();
    binsCache = {
      git: findBin('git'),
      sshd: findBin('sshd', ['/usr/sbin/sshd']),
      ssh: findBin('ssh'),
      sshKeygen: findBin('ssh-keygen'),
      gitShell: findBin('git-shell', [path.join(exec, 'git-shell')]),
      nginx: findBin('nginx', ['/usr/sbin/nginx']),
      fcgiwrap: findBin('fcgiwrap', ['/usr/sbin/fcgiwrap']),
      httpBackend: [path.join(exec, 'git-http-backend'), '/usr/lib/git-core/git-http-backend'].find((p) => existsSync(p)),
      openssl: findBin('openssl'),
    };
  }
  return binsCache;
}

function need(b: Bins, key: keyof Bins): string {
  const v = b[key];
  if (!v) throw new Error(`agentgit test hubs: ${key} is not installed (run .ci/install-deps.sh)`);
  return v;
}

/** Whether the binaries for the ssh and https hubs exist (CI installs them with .ci/install-deps.sh). */
export function hubsAvailable(): { ssh: boolean; https: boolean; reason?: string } {
  const b = bins();
  const sshMissing = (['git', 'sshd', 'ssh', 'sshKeygen', 'gitShell'] as const).filter((k) => !b[k]);
  const httpsMissing = (['git', 'nginx', 'fcgiwrap', 'httpBackend', 'openssl'] as const).filter((k) => !b[k]);
  const reasons: string[] = [];
  if (process.platform !== 'linux') reasons.push(`real hubs are only supported on Linux (this is ${process.platform})`);
  if (sshMissing.length) reasons.push(`ssh hub needs ${sshMissing.join(', ')}`);
  if (httpsMissing.length) reasons.push(`https hub needs ${httpsMissing.join(', ')}`);
  const linux = process.platform === 'linux';
  const out: { ssh: boolean; https: boolean; reason?: string } = {
    ssh: linux && sshMissing.length === 0,
    https: linux && httpsMissing.length === 0,
  };
  if (reasons.length) out.reason = `${reasons.join('; ')} (install with: sudo bash .ci/install-deps.sh)`;
  return out;
}

// ---------------------------------------------------------------------------------
// /proc based process tracking
// ---------------------------------------------------------------------------------

interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  state: string;
  start: string;
  comm: string;
}

function readProc(pid: number): ProcInfo | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = s.lastIndexOf(')');
  const comm = s.slice(s.indexOf('(') + 1, close);
  const f = s.slice(close + 2).split(' ');
  // f[0]=state f[1]=ppid f[2]=pgrp f[3]=session ... f[19]=starttime
  return { pid, comm, state: f[0] ?? '?', ppid: Number(f[1]), pgrp: Number(f[2]), sid: Number(f[3]), start: f[19] ?? '' };
}

function listProcs(): ProcInfo[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcInfo[] = [];
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const p = readProc(Number(n));
    if (p) out.push(p);
  }
  return out;
}

function hasMarker(pid: number, needle: Buffer): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`).includes(needle);
  } catch {
    return false;
  }
}

const MARKER_VAR = 'AGENTGIT_TEST_HUB';
let hubSeq = 0;

/** Tracks every process a hub started, to freeze, resume and kill them all. */
class ProcessSet {
  readonly marker: string;
  private readonly needle: Buffer;
  private leaders: ChildProcess[] = [];
  private readonly seen = new Map<number, string>(); // pid -> starttime
  private readonly stopped = new Map<number, string>();
  private watchdog: ChildProcess | undefined;

  constructor(readonly dir: string) {
    this.marker = `${process.pid}-${++hubSeq}-${randomBytes(4).toString('hex')}`;
    this.needle = Buffer.from(`${MARKER_VAR}=${this.marker}\0`);
  }

  get env(): Record<string, string> {
    return { [MARKER_VAR]: this.marker };
  }

  /** spawn a server in its own session / process group, stdout+stderr to logFile */
  spawn(cmd: string, args: string[], opts: { env: NodeJS.ProcessEnv; logFile: string; cwd?: string }): ChildProcess {
    const fd = openSync(opts.logFile, 'a');
    try {
      const child = spawn(cmd, args, {
        cwd: opts.cwd ?? this.dir,
        env: { ...opts.env, ...this.env },
        stdio: ['ignore', fd, fd],
        detached: true,
      });
      child.on('error', () => {
        /* reported through exitCode / readiness checks */
      });
      child.unref();
      this.leaders.push(child);
      if (child.pid !== undefined) this.seen.set(child.pid, readProc(child.pid)?.start ?? '');
      return child;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * A detached `sh` that SIGKILLs the servers' process groups and removes the hub dir when
   * its stdin closes, i.e. when this test process dies (even by SIGKILL) without stop().
   */
  armWatchdog(): void {
    this.disarmWatchdog();
    const groups = this.leaders
      .filter((c) => c.exitCode === null && c.signalCode === null)
      .map((c) => c.pid)
      .filter((p): p is number => p !== undefined);
    if (groups.length === 0) return;
    const script = [
      'd=$1; shift',
      'read _x',
      'for g in "$@"; do kill -s KILL -- "-$g" 2>/dev/null; done',
      keepDirs() ? ':' : 'sleep 1; rm -rf -- "$d"',
    ].join('\n');
    const wd = spawn('/bin/sh', ['-c', script, 'agentgit-hub-watchdog', this.dir, ...groups.map(String)], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    });
    wd.on('error', () => {});
    wd.unref();
    (wd.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    wd.stdin?.on('error', () => {});
    this.watchdog = wd;
  }

  private disarmWatchdog(): void {
    const wd = this.watchdog;
    this.watchdog = undefined;
    if (wd?.pid !== undefined) {
      try {
        process.kill(wd.pid, 'SIGKILL'); // before the groups die, so it cannot hit a reused pgid
      } catch {
        /* gone */
      }
    }
    wd?.stdin?.destroy();
  }

  /** live (non-zombie) members: descendants of the leaders, their groups/sessions, marked processes */
  members(procs: ProcInfo[] = listProcs()): ProcInfo[] {
    // leaders' pids are also their process group and session ids (spawned detached: setsid)
    const roots = new Set<number>();
    for (const c of this.leaders) if (c.pid !== undefined) roots.add(c.pid);
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const kids = new Map<number, number[]>();
    for (const p of procs) {
      const list = kids.get(p.ppid);
      if (list) list.push(p.pid);
      else kids.set(p.ppid, [p.pid]);
    }
    const out = new Map<number, ProcInfo>();
    const add = (p: ProcInfo | undefined) => {
      if (p && p.state !== 'Z' && p.state !== 'X' && p.pid !== process.pid) out.set(p.pid, p);
    };
    for (const p of procs) {
      if (roots.has(p.pid) || roots.has(p.pgrp) || roots.has(p.sid)) add(p);
      else if (this.seen.get(p.pid) === p.start) add(p); // reparented orphans we saw before
      else if (p.state !== 'Z' && hasMarker(p.pid, this.needle)) add(p);
    }
    // descendants of everything found so far
    const queue = [...out.keys()];
    while (queue.length) {
      const pid = queue.pop() as number;
      for (const k of kids.get(pid) ?? []) {
        if (!out.has(k)) {
          add(byPid.get(k));
          if (out.has(k)) queue.push(k);
        }
      }
    }
    for (const p of out.values()) this.seen.set(p.pid, p.start);
    return [...out.values()];
  }

  private signal(p: { pid: number; start: string }, sig: NodeJS.Signals): void {
    const now = readProc(p.pid);
    if (!now || now.start !== p.start) return; // gone, or pid reused
    try {
      process.kill(p.pid, sig);
    } catch {
      /* gone */
    }
  }

  /** SIGSTOP everything, repeating until no new process appears (parents stopped first cannot fork) */
  freeze(): void {
    for (let pass = 0; pass < 50; pass++) {
      const fresh = this.members().filter((p) => this.stopped.get(p.pid) !== p.start);
      if (fresh.length === 0) return;
      fresh.sort((a, b) => a.pid - b.pid);
      for (const p of fresh) {
        this.signal(p, 'SIGSTOP');
        this.stopped.set(p.pid, p.start);
      }
    }
  }

  thaw(): void {
    for (const [pid, start] of this.stopped) this.signal({ pid, start }, 'SIGCONT');
    this.stopped.clear();
  }

  /** synchronous kill, for process 'exit' */
  killNow(): void {
    this.disarmWatchdog();
    this.freeze();
    for (const p of this.members()) this.signal(p, 'SIGKILL');
    for (const c of this.leaders) if (c.pid !== undefined) killGroup(c.pid, 'SIGKILL');
  }

  async kill(): Promise<void> {
    this.killNow();
    const deadline = Date.now() + 10_000;
    // leaders: wait until node reaped them (no zombie left under us)
    await Promise.all(
      this.leaders.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return resolve();
            c.once('exit', () => resolve());
            const t = setInterval(() => {
              if (c.exitCode !== null || c.signalCode !== null || Date.now() > deadline) {
                clearInterval(t);
                resolve();
              }
            }, 20);
            c.once('exit', () => clearInterval(t));
          }),
      ),
    );
    // everyone else: gone or a zombie waiting for init (zombies hold nothing)
    for (;;) {
      const left = this.members();
      if (left.length === 0) {
        this.pruneLeaders();
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`agentgit test hub: processes survived SIGKILL: ${left.map((p) => `${p.pid}(${p.comm},${p.state})`).join(' ')}`);
      }
      for (const p of left) this.signal(p, 'SIGKILL');
      await sleep(10);
    }
  }

  /** forget leaders that are dead and reaped, whose pids the kernel may hand out again */
  private pruneLeaders(): void {
    this.leaders = this.leaders.filter((c) => c.exitCode === null && c.signalCode === null);
  }
}

const live = new Set<{ sets: ProcessSet[]; dir: string }>();
let exitHookInstalled = false;
function track(entry: { sets: ProcessSet[]; dir: string }): void {
  live.add(entry);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const e of live) {
        for (const s of e.sets) s.killNow();
        if (!process.env.AGENTGIT_KEEP_HUBS) rmSync(e.dir, { recursive: true, force: true });
      }
    });
  }
}

/** servers (pid -> start time) and dirs of every hub this process started */
const ownedHubPids = new Map<number, string>();
const ownedHubDirs = new Set<string>();
function own(child: ChildProcess): void {
  if (child.pid !== undefined) ownedHubPids.set(child.pid, readProc(child.pid)?.start ?? '');
}

/**
 * Processes (not zombies) that look like they belong to an agentgit test hub started
 * by this process: sshd/nginx/fcgiwrap whose command line names a hub dir, and anything
 * carrying a hub marker of this process in its environment. For leak checks after stop().
 */
export function leakedHubProcesses(): Array<{ pid: number; stat: string; args: string }> {
  const prefix = Buffer.from(`${MARKER_VAR}=${process.pid}-`);
  const out: Array<{ pid: number; stat: string; args: string }> = [];
  for (const p of listProcs()) {
    if (p.pid === process.pid || p.state === 'Z' || p.state === 'X') continue;
    let args = '';
    try {
      args = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    let env: Buffer = Buffer.alloc(0);
    try {
      env = readFileSync(`/proc/${p.pid}/environ`);
    } catch {
      /* not ours to read */
    }
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${p.pid}/cwd`);
    } catch {
      /* gone */
    }
    const namesHubDir = [...ownedHubDirs].some((d) => args.includes(d) || cwd === d || cwd.startsWith(`${d}/`));
    if (env.includes(prefix) || namesHubDir || ownedHubPids.get(p.pid) === p.start) {
      out.push({ pid: p.pid, stat: p.state, args });
    }
  }
  return out;
}

/**
 * `ps -o stat=` for a pid: '' when gone (or, given `start` from processes(), when the pid
 * now belongs to another process); 'Z' for a zombie, which is dead but not yet reaped.
 */
export function processStat(pid: number, start?: string): string {
  const p = readProc(pid);
  if (!p || (start !== undefined && p.start !== start)) return '';
  return p.state;
}

// ---------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------

async function makeHubDir(kind: HubKind): Promise<string> {
  let base = os.tmpdir();
  // unix socket paths must stay under ~104 bytes
  if (base.length > 40) base = '/tmp';
  const dir = await mkdtemp(path.join(base, `agentgit-${kind}-hub-`));
  await chmod(dir, 0o700);
  ownedHubDirs.add(dir);
  return dir;
}

/** a port that was free a moment ago (bound to 127.0.0.1:0, then closed) */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function serverGitEnv(dir: string): Record<string, string> {
  return { HOME: path.join(dir, 'server-home'), GIT_CONFIG_NOSYSTEM: '1' };
}

async function initBareRepo(dir: string, reposDir: string, name: string): Promise<string> {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(name) || name.split('/').includes('..')) {
    throw new Error(`bad repo name ${JSON.stringify(name)}`);
  }
  const repoPath = path.join(reposDir, name);
  const env = { ...gitEnv(), ...serverGitEnv(dir) };
  await runOk(need(bins(), 'git'), ['init', '--quiet', '--bare', '-b', 'main', repoPath], { env });
  // pushes over http need receive-pack enabled (git-http-backend also allows it when REMOTE_USER is set)
  await runOk(need(bins(), 'git'), ['config', '--file', path.join(repoPath, 'config'), 'http.receivepack', 'true'], { env });
  return repoPath;
}

async function prepareServerHome(dir: string): Promise<void> {
  const home = path.join(dir, 'server-home');
  await mkdir(home, { recursive: true });
  // the server's git runs with this HOME: no machine config leaks in, and no "dubious ownership"
  await writeFile(path.join(home, '.gitconfig'), '[safe]\n\tdirectory = *\n[user]\n\tname = hub\n\temail = hub@agentgit.invalid\n');
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, failed?: () => string | undefined): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let i = 0; ; i++) {
    if (await check()) return;
    const f = failed?.();
    if (f !== undefined) throw new Error(f);
    if (performance.now() > deadline) throw new Error(`agentgit test hub: timed out waiting for ${what}`);
    await sleep(i < 20 ? 2 : 10);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

const keepDirs = () => Boolean(process.env.AGENTGIT_KEEP_HUBS);

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

class PortInUse extends Error {}

async function withPortRetry<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (e) {
      if (!(e instanceof PortInUse) || attempt >= 5) throw e;
    }
  }
}

// ---------------------------------------------------------------------------------
// File hub
// ---------------------------------------------------------------------------------

export async function startFileHub(opts: { repo?: string } = {}): Promise<Hub> {
  const dir = await makeHubDir('file');
  const reposDir = path.join(dir, 'repos');
  await mkdir(reposDir);
  await prepareServerHome(dir);
  const repoPath = await initBareRepo(dir, reposDir, opts.repo ?? 'agent.git');
  let stopped = false;
  return {
    kind: 'file',
    url: repoPath,
    repoPath,
    dir,
    clientEnv: {},
    processes: () => [],
    async createRepo(name) {
      const p = await initBareRepo(dir, reposDir, name);
      return { url: p, repoPath: p };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (!keepDirs()) await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------
// SSH hub
// ---------------------------------------------------------------------------------

let sshVersionCache: [number, number] | undefined;
function opensshVersion(): [number, number] {
  if (!sshVersionCache) {
    // `ssh -V` prints e.g. "OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0.17" on stderr
    const r = spawnSync(need(bins(), 'ssh'), ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const m = /OpenSSH_(\d+)\.(\d+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    sshVersionCache = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  }
  return sshVersionCache;
}

async function sshKeygen(file: string, comment: string): Promise<string> {
  await runOk(need(bins(), 'sshKeygen'), ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return (await readFile(`${file}.pub`, 'utf8')).trim();
}

function sshClientConfig(o: { alias: string; port: number; user: string; identityFile: string; knownHosts: string }): string {
  return [
    `# agentgit test hub: what an operator would put in ~/.ssh/config for a deploy key`,
    `Host ${o.alias}`,
    `  HostName 127.0.0.1`,
    `  Port ${o.port}`,
    `  User ${o.user}`,
    `  IdentityFile ${o.identityFile}`,
    `  IdentitiesOnly yes`,
    `  IdentityAgent none`,
    `  BatchMode yes`,
    `  StrictHostKeyChecking yes`,
    `  UserKnownHostsFile ${o.knownHosts}`,
    `  GlobalKnownHostsFile /dev/null`,
    `  CheckHostIP no`,
    `  UpdateHostKeys no`,
    `  PasswordAuthentication no`,
    `  KbdInteractiveAuthentication no`,
    `  ConnectTimeout 10`,
    `  LogLevel ERROR`,
    '',
  ].join('\n');
}

export async function startSshHub(opts: { repo?: string; hostAlias?: string } = {}): Promise<SshHub> {
  const b = bins();
  const sshd = need(b, 'sshd');
  need(b, 'ssh');
  const gitShell = need(b, 'gitShell');
  const dir = await makeHubDir('ssh');
  const serverDir = path.join(dir, 'server');
  const clientDir = path.join(dir, 'client');
  const reposDir = path.join(dir, 'repos');
  const alias = opts.hostAlias ?? 'agentgit-test-hub';
  const serverUser = os.userInfo().username;
  const procs = new ProcessSet(dir);
  const entry = { sets: [procs], dir };
  track(entry);
  try {
    await Promise.all([mkdir(serverDir), mkdir(clientDir), mkdir(reposDir), prepareServerHome(dir)]);
    if (process.getuid?.() === 0) {
      // sshd's privilege separation dir (Debian's package makes it only when the service starts)
      mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    }
    const hostKeyFile = path.join(serverDir, 'ssh_host_ed25519_key');
    const identityFile = path.join(clientDir, 'id_ed25519');
    const [hostPub, clientPub, repoPath] = await Promise.all([
      sshKeygen(hostKeyFile, 'agentgit-test-hub'),
      sshKeygen(identityFile, 'agentgit-test-client'),
      initBareRepo(dir, reposDir, opts.repo ?? 'agent.git'),
    ]);

    // forced command: serve only git over the repos dir, whatever the client asked for
    const serve = path.join(serverDir, 'git-serve.sh');
    const senv = { ...serverGitEnv(dir), ...procs.env };
    await writeFile(
      serve,
      [
        '#!/bin/sh',
        '# agentgit test hub: forced command of every authorized key (like GitHub: git only, repos by relative path)',
        ...Object.entries(senv).map(([k, v]) => `export ${k}=${shQuote(v)}`),
        `cd ${shQuote(reposDir)} || exit 1`,
        `exec ${shQuote(gitShell)} -c "$SSH_ORIGINAL_COMMAND"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const authorizedKeys = path.join(serverDir, 'authorized_keys');
    await writeFile(authorizedKeys, `restrict,command="${serve}" ${clientPub}\n`, { mode: 0o600 });

    const [major, minor] = opensshVersion();
    const knownHosts = path.join(clientDir, 'known_hosts');
    const sshConfigPath = path.join(clientDir, 'ssh_config');
    const logFile = path.join(serverDir, 'sshd.log');

    const cfgFile = path.join(serverDir, 'sshd_config');
    await writeFile(logFile, '');
    const launch = async (port: number): Promise<void> => {
      const config = [
        `Port ${port}`,
        `ListenAddress 127.0.0.1`,
        `HostKey ${hostKeyFile}`,
        `PidFile none`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        `AuthorizedPrincipalsFile none`,
        `AuthenticationMethods publickey`,
        `PubkeyAuthentication yes`,
        `PasswordAuthentication no`,
        `KbdInteractiveAuthentication no`,
        `HostbasedAuthentication no`,
        `PermitEmptyPasswords no`,
        `UsePAM no`,
        `PermitRootLogin prohibit-password`,
        `AllowUsers ${serverUser}`,
        `StrictModes no`,
        `LogLevel VERBOSE`,
        `PrintMotd no`,
        `PrintLastLog no`,
        `X11Forwarding no`,
        `AllowTcpForwarding no`,
        `AllowAgentForwarding no`,
        `PermitTunnel no`,
        `PermitTTY no`,
        // protocol v2 over ssh (GitHub speaks it; without it a clone of an empty repo gets master)
        `AcceptEnv GIT_PROTOCOL`,
        `MaxStartups 100:30:200`,
        `MaxSessions 100`,
        `LoginGraceTime 30`,
        // curve25519 only: sntrup761 (OpenSSH's default) costs ~60 ms of client CPU per connection here
        `KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org`,
        // sshd runs the forced command with the user's shell, and Debian's bash sources ~/.bashrc
        // when it sees SSH_CLIENT with SHLVL<2: root's .bashrc here runs `pyenv init` (+500 ms)
        ...(major > 8 || (major === 8 && minor >= 7) ? ['SetEnv SHLVL=1'] : []),
        ...(major > 9 || (major === 9 && minor >= 8) ? ['PerSourcePenalties no'] : []),
        '',
      ].join('\n');
      await writeFile(cfgFile, config);
      const offset = Buffer.byteLength(readText(logFile));
      const child = procs.spawn(sshd, ['-D', '-f', cfgFile, '-E', logFile], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, logFile });
      own(child);
      const listening = `Server listening on 127.0.0.1 port ${port}.`;
      const fresh = () => readFileSync(logFile).subarray(offset).toString('utf8');
      await waitFor(
        `sshd on port ${port}`,
        () => fresh().includes(listening),
        10_000,
        () => {
          if (child.exitCode === null && child.signalCode === null) return undefined;
          const log = fresh();
          if (/Address already in use|Cannot bind any address/.test(log)) throw new PortInUse(log);
          return `sshd exited (${child.exitCode ?? child.signalCode}):\n${log}`;
        },
      );
      procs.armWatchdog();
    };
    const port = await withPortRetry(async (port) => {
      await launch(port);
      return port;
    });

    // the client side: pinned host key, key-only, never prompts
    await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPub.split(' ').slice(0, 2).join(' ')}\n`);
    await writeFile(sshConfigPath, sshClientConfig({ alias, port, user: serverUser, identityFile, knownHosts }));
    // scp-style urls cannot carry a port, hence the Host alias. `-l` makes the GitHub-style
    // `git@` in the url log in as the server's user: ssh takes the first user it is given.
    const envFor = (configPath: string): Record<string, string> => ({
      GIT_SSH_COMMAND: `ssh -F ${shQuote(configPath)} -l ${shQuote(serverUser)}`,
    });
    const clientEnv = envFor(sshConfigPath);

    const urlFor = (name: string) => `git@${alias}:${name}`;
    let stopped = false;
    let unknownKeys = 0;
    const hub: SshHub = {
      kind: 'ssh',
      url: urlFor(opts.repo ?? 'agent.git'),
      repoPath,
      dir,
      clientEnv,
      port,
      hostAlias: alias,
      sshConfigPath,
      identityFile,
      knownHostsPath: knownHosts,
      serverUser,
      processes: () => procs.members().map((p) => ({ pid: p.pid, comm: p.comm, start: p.start })),
      async createRepo(name) {
        return { url: urlFor(name), repoPath: await initBareRepo(dir, reposDir, name) };
      },
      connectionCount() {
        return (readText(logFile).match(/^Accepted publickey for /gm) ?? []).length;
      },
      log() {
        return readText(logFile);
      },
      async clientEnvWithUnknownKey() {
        const n = ++unknownKeys;
        const key = path.join(clientDir, `unknown_${n}`);
        await sshKeygen(key, 'agentgit-test-stranger');
        const cfg = path.join(clientDir, `ssh_config_unknown_${n}`);
        await writeFile(cfg, sshClientConfig({ alias, port, user: serverUser, identityFile: key, knownHosts }));
        return envFor(cfg);
      },
      async pause() {
        procs.freeze();
      },
      async resume() {
        procs.thaw();
      },
      async down() {
        await procs.kill();
      },
      async up() {
        if (stopped) throw new Error('hub was stopped');
        if (procs.members().length === 0) await launch(port);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await procs.kill();
        } finally {
          live.delete(entry);
          if (!keepDirs()) await rm(dir, { recursive: true, force: true });
        }
      },
    };
    return hub;
  } catch (e) {
    await procs.kill().catch(() => {});
    live.delete(entry);
    if (!keepDirs()) await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------
// HTTPS hub
// ---------------------------------------------------------------------------------

function credentialEnv(port: number, credFile: string, caFile: string): Record<string, string> {
  // scoped to this hub, so that gitEnv() can combine two hubs; the empty value first drops
  // any helper the machine's config has (osxkeychain, manager...) for this url
  const scope = `credential.https://127.0.0.1:${port}`;
  return {
    GIT_SSL_CAINFO: caFile,
    ...gitConfigEnv([
      [`${scope}.helper`, ''],
      [`${scope}.helper`, `store --file ${shQuote(credFile)}`],
    ]),
  };
}

async function writeCredentials(file: string, port: number, user: string, password: string): Promise<void> {
  const enc = (s: string) => encodeURIComponent(s);
  await writeFile(file, `https://${enc(user)}:${enc(password)}@127.0.0.1:${port}\n`, { mode: 0o600 });
}

export async function startHttpsHub(opts: { user?: string; password?: string; repo?: string; workers?: number } = {}): Promise<HttpsHub> {
  const b = bins();
  const nginx = need(b, 'nginx');
  const fcgiwrap = need(b, 'fcgiwrap');
  const backend = need(b, 'httpBackend');
  const openssl = need(b, 'openssl');
  const user = opts.user ?? 'agent';
  const password = opts.password ?? `pw-${randomBytes(9).toString('base64url')}`;
  if (/[:\s]/.test(user)) throw new Error('user must not contain ":" or spaces');
  const dir = await makeHubDir('https');
  const reposDir = path.join(dir, 'repos');
  const clientDir = path.join(dir, 'client');
  const tmpDir = path.join(dir, 'nginx-tmp');
  const caFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const htpasswd = path.join(dir, 'htpasswd');
  const socket = path.join(dir, 'fcgiwrap.sock');
  const errorLog = path.join(dir, 'nginx-error.log');
  const accessLog = path.join(dir, 'nginx-access.log');
  const fcgiLog = path.join(dir, 'fcgiwrap.log');
  const nginxProcs = new ProcessSet(dir);
  const fcgiProcs = new ProcessSet(dir);
  const entry = { sets: [nginxProcs, fcgiProcs], dir };
  track(entry);
  const killAll = () => Promise.all([nginxProcs.kill(), fcgiProcs.kill()]);
  try {
    await Promise.all([mkdir(reposDir), mkdir(clientDir), mkdir(tmpDir), prepareServerHome(dir)]);
    const [repoPath, , hash] = await Promise.all([
      initBareRepo(dir, reposDir, opts.repo ?? 'agent.git'),
      runOk(openssl, [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyFile, '-out', caFile, '-days', '7', '-subj', '/CN=127.0.0.1',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ], { env: backdated() }),
      runOk(openssl, ['passwd', '-apr1', '-stdin'], { input: `${password}\n` }),
    ]);
    await writeFile(htpasswd, `${user}:${hash.stdout.trim()}\n`, { mode: 0o600 });

    // fcgiwrap: prefork workers; each runs git-http-backend (CGI) per request
    const launchFcgi = async (): Promise<void> => {
      await rm(socket, { force: true });
      const fcgi = fcgiProcs.spawn(fcgiwrap, ['-f', '-c', String(opts.workers ?? 4), '-s', `unix:${socket}`], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        logFile: fcgiLog,
      });
      own(fcgi);
      await waitFor(
        'fcgiwrap socket',
        async () => (await stat(socket).catch(() => undefined))?.isSocket() ?? false,
        10_000,
        () => (fcgi.exitCode !== null || fcgi.signalCode !== null ? `fcgiwrap exited:\n${readText(fcgiLog)}` : undefined),
      );
      fcgiProcs.armWatchdog();
    };
    const fcgiReady = launchFcgi();
    fcgiReady.catch(() => {}); // awaited below; only avoid an unhandled rejection meanwhile

    const cgiEnv = { ...serverGitEnv(dir), ...fcgiProcs.env, GIT_PROJECT_ROOT: reposDir, GIT_HTTP_EXPORT_ALL: '1' };
    await writeFile(errorLog, '');
    const launchNginx = async (port: number): Promise<void> => {
      const conf = [
        `daemon off;`,
        `master_process on;`,
        `worker_processes 1;`,
        ...(process.getuid?.() === 0 ? [`user root root;`] : []),
        `pid ${dir}/nginx.pid;`,
        `error_log ${errorLog} notice;`,
        `working_directory ${dir};`,
        `events { worker_connections 512; }`,
        `http {`,
        `  log_format hub '$connection $connection_requests $remote_user $status "$request"';`,
        `  access_log ${accessLog} hub;`,
        `  client_body_temp_path ${tmpDir}/client_body;`,
        `  proxy_temp_path ${tmpDir}/proxy;`,
        `  fastcgi_temp_path ${tmpDir}/fastcgi;`,
        `  uwsgi_temp_path ${tmpDir}/uwsgi;`,
        `  scgi_temp_path ${tmpDir}/scgi;`,
        `  client_max_body_size 0;`,
        `  server_tokens off;`,
        `  server {`,
        `    listen 127.0.0.1:${port} ssl;`,
        `    server_name 127.0.0.1 localhost;`,
        `    ssl_certificate ${caFile};`,
        `    ssl_certificate_key ${keyFile};`,
        `    location / {`,
        `      auth_basic "agentgit test hub";`,
        `      auth_basic_user_file ${htpasswd};`,
        `      fastcgi_pass unix:${socket};`,
        `      fastcgi_read_timeout 600s;`,
        `      fastcgi_param SCRIPT_FILENAME ${backend};`,
        `      fastcgi_param SCRIPT_NAME "";`,
        `      fastcgi_param PATH_INFO $uri;`,
        `      fastcgi_param QUERY_STRING $query_string;`,
        `      fastcgi_param REQUEST_METHOD $request_method;`,
        `      fastcgi_param CONTENT_TYPE $content_type;`,
        `      fastcgi_param CONTENT_LENGTH $content_length;`,
        `      fastcgi_param REQUEST_URI $request_uri;`,
        `      fastcgi_param SERVER_PROTOCOL $server_protocol;`,
        `      fastcgi_param GATEWAY_INTERFACE CGI/1.1;`,
        `      fastcgi_param HTTPS on;`,
        `      fastcgi_param REMOTE_ADDR $remote_addr;`,
        `      fastcgi_param REMOTE_PORT $remote_port;`,
        `      fastcgi_param SERVER_ADDR $server_addr;`,
        `      fastcgi_param SERVER_PORT $server_port;`,
        `      fastcgi_param SERVER_NAME $server_name;`,
        // git-http-backend allows pushes only with REMOTE_USER set
        `      fastcgi_param REMOTE_USER $remote_user;`,
        ...Object.entries(cgiEnv).map(([k, v]) => `      fastcgi_param ${k} "${v}";`),
        `    }`,
        `  }`,
        `}`,
        '',
      ].join('\n');
      const confFile = path.join(dir, 'nginx.conf');
      await writeFile(confFile, conf);
      const offset = Buffer.byteLength(readText(errorLog));
      const fresh = () => readFileSync(errorLog).subarray(offset).toString('utf8');
      const child = nginxProcs.spawn(nginx, ['-p', `${dir}/`, '-c', confFile, '-e', errorLog], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        logFile: path.join(dir, 'nginx-stderr.log'),
      });
      own(child);
      await waitFor(
        `nginx on port ${port}`,
        () => /start worker process/.test(fresh()),
        10_000,
        () => {
          if (child.exitCode === null && child.signalCode === null) return undefined;
          const log = fresh() + readText(path.join(dir, 'nginx-stderr.log'));
          if (/Address already in use/.test(log)) throw new PortInUse(log);
          return `nginx exited (${child.exitCode ?? child.signalCode}):\n${log}`;
        },
      );
      nginxProcs.armWatchdog();
    };
    const port = await withPortRetry(async (port) => {
      await launchNginx(port);
      return port;
    });
    await fcgiReady;

    const credFile = path.join(clientDir, 'git-credentials');
    await writeCredentials(credFile, port, user, password);
    const clientEnv = credentialEnv(port, credFile, caFile);
    const urlFor = (name: string) => `https://127.0.0.1:${port}/${name}`;
    const accessLines = () => readText(accessLog).split('\n').filter(Boolean);
    let stopped = false;
    let otherCreds = 0;
    const hub: HttpsHub = {
      kind: 'https',
      url: urlFor(opts.repo ?? 'agent.git'),
      repoPath,
      dir,
      clientEnv,
      port,
      user,
      password,
      caFile,
      processes: () => [...nginxProcs.members(), ...fcgiProcs.members()].map((p) => ({ pid: p.pid, comm: p.comm, start: p.start })),
      async createRepo(name) {
        return { url: urlFor(name), repoPath: await initBareRepo(dir, reposDir, name) };
      },
      connectionCount() {
        // the first request of each connection (nginx's serial numbers restart with up())
        return accessLines().filter((l) => l.split(' ')[1] === '1').length;
      },
      requestCount() {
        return accessLines().length;
      },
      accessLog: accessLines,
      log() {
        return readText(errorLog);
      },
      async clientEnvWithCredentials(u, p) {
        const file = path.join(clientDir, `git-credentials-${++otherCreds}`);
        await writeCredentials(file, port, u, p);
        return credentialEnv(port, file, caFile);
      },
      async pause() {
        nginxProcs.freeze();
        fcgiProcs.freeze();
      },
      async resume() {
        fcgiProcs.thaw();
        nginxProcs.thaw();
      },
      async down() {
        await killAll();
      },
      async up() {
        if (stopped) throw new Error('hub was stopped');
        await Promise.all([
          fcgiProcs.members().length === 0 ? launchFcgi() : undefined,
          nginxProcs.members().length === 0 ? launchNginx(port) : undefined,
        ]);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          await killAll();
        } finally {
          live.delete(entry);
          if (!keepDirs()) await rm(dir, { recursive: true, force: true });
        }
      },
    };
    return hub;
  } catch (e) {
    await killAll().catch(() => {});
    live.delete(entry);
    if (!keepDirs()) await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------
// Faults: a hung hub and a closed port
// ---------------------------------------------------------------------------------

/**
 * A TCP listener on 127.0.0.1 that accepts connections and never sends a byte.
 *
 * What git does against it (git 2.39, curl 7.88, OpenSSH 9.2):
 *   - https: hangs in the TLS handshake; http.lowSpeedLimit/Time do NOT fire there (curl's
 *     connect phase, default connect timeout 300 s): the caller needs its own deadline.
 *   - http: http.lowSpeedLimit=1 + http.lowSpeedTime=N gives up after N s.
 *   - ssh: ConnectTimeout=N gives up after N s ("Connection timed out during banner exchange").
 */
export async function startHungHub(): Promise<HungHub> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const srv = net.createServer((sock) => {
    accepted++;
    sockets.add(sock);
    sock.on('error', () => {});
    sock.on('close', () => sockets.delete(sock));
    sock.resume(); // read and discard whatever the client sends
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  srv.unref();
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let stopped = false;
  return {
    url: `https://127.0.0.1:${port}/agent.git`,
    httpsUrl: `https://127.0.0.1:${port}/agent.git`,
    httpUrl: `http://127.0.0.1:${port}/agent.git`,
    sshUrl: `ssh://git@127.0.0.1:${port}/agent.git`,
    port,
    sshClientEnv: { GIT_SSH_COMMAND: 'ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null' },
    connectionCount: () => accepted,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}

function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readText(f).split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] !== '0A') continue; // LISTEN
      const port = parseInt(cols[1]?.split(':')[1] ?? '', 16);
      if (Number.isFinite(port)) ports.add(port);
    }
  }
  return ports;
}

/**
 * A url to a loopback port where nothing listens (hub down): connecting fails at once
 * with "Connection refused". The port is below Linux's ephemeral range (32768+), so
 * no hub started with a port-0 bind can take it.
 */
export function closedPortUrl(kind: 'https' | 'ssh' | 'http' = 'https'): string {
  const busy = listeningPorts();
  let port = 0;
  for (let i = 0; i < 1000; i++) {
    const p = 20000 + Math.floor(Math.random() * 12000);
    if (!busy.has(p)) {
      port = p;
      break;
    }
  }
  if (port === 0) port = 1;
  return kind === 'ssh' ? `ssh://git@127.0.0.1:${port}/agent.git` : `${kind}://127.0.0.1:${port}/agent.git`;
}
