/**
 * Small pieces every suite uses: timed process runs (wall time from spawn to
 * exit, measured with performance.now()), statistics over repeated runs, the
 * client environment of an instance, and a deterministic random source.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The agentgit under test: ROOT, or a snapshot of its build (see snapshotApp). */
export let APP = ROOT;
export let BIN = join(ROOT, 'bin', 'agentgit');

/**
 * Copy the build (bin, dist, hooks, package.json; node_modules linked) into
 * `dir` and measure that copy: a rebuild of dist/ while the bench runs (tests
 * run `npm run build`) cannot change what is measured half-way. Returns a
 * fingerprint of the build (sha256 of every file of dist/).
 */
export function snapshotApp(dir) {
  mkdirSync(dir, { recursive: true });
  for (const d of ['bin', 'dist', 'hooks']) cpSync(join(ROOT, d), join(dir, d), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const h = createHash('sha256');
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const abs = join(d, e.name);
      if (e.isDirectory()) walk(abs);
      else h.update(`${abs.slice(dir.length)}\0`).update(readFileSync(abs));
    }
  };
  walk(join(dir, 'dist'));
  APP = dir;
  BIN = join(dir, 'bin', 'agentgit');
  return h.digest('hex').slice(0, 16);
}
export const NODE = process.execPath;
export const QUICK = process.env.BENCH_QUICK === '1';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Progress lines on stderr (the report goes to a file). */
export function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/**
 * Run a command (no shell) and time it from spawn to exit. Never rejects on a
 * non-zero exit; `ok: true` throws unless the exit code is 0 (or in okCodes).
 */
export function run(cmd, args, opts = {}) {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    if (opts.input !== undefined) child.stdin.end(opts.input);
    let timer;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      const ms = performance.now() - t0;
      if (timer) clearTimeout(timer);
      const r = { code: code ?? -1, signal, ms, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (opts.ok && r.code !== 0 && !(opts.okCodes ?? []).includes(r.code)) {
        reject(new Error(`${cmd} ${args.join(' ')} (in ${opts.cwd ?? '.'}) exited ${r.code}:\n${r.stderr}${r.stdout}`));
      } else resolveRun(r);
    });
  });
}

/** `git ARGS` in cwd; throws on failure; stdout trimmed. */
export async function git(cwd, args, env, opts = {}) {
  const r = await run('git', args, { cwd, env, ok: true, ...opts });
  return r.stdout.trim();
}

export function gitSync(cwd, args, env) {
  const r = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed in ${cwd}: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * The environment of one instance (as a cron job would run it): its own HOME
 * and AGENTGIT_HOME, no system or global git config, UTC, and whatever the hub
 * needs (the ssh hub's GIT_SSH_COMMAND).
 */
export function instanceEnv(home, hubEnv = {}, extra = {}) {
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    AGENTGIT_HOME: join(home, 'agentgit-home'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    TZ: 'UTC',
    LC_ALL: 'C',
    ...hubEnv,
    ...extra,
  };
  mkdirSync(home, { recursive: true });
  return env;
}

// ------------------------------------------------------------------ statistics

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function quantile(xs, q) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

/** Median, quartiles and count of a sample. */
export function summary(xs) {
  const v = xs.filter((x) => Number.isFinite(x));
  return { median: median(v), q1: quantile(v, 0.25), q3: quantile(v, 0.75), min: v.length ? Math.min(...v) : null, max: v.length ? Math.max(...v) : null, n: v.length };
}

/** Deterministic PRNG (mulberry32), so every run generates the same workspace. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
}

/** Fisher-Yates shuffle with Math.random: the order of contenders in each repetition. */
export function shuffled(arr) {
  const a = [...arr];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

// ------------------------------------------------------------------ machine facts

export function machineFacts() {
  const first = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => l.trim()) ?? '';
  };
  let cpu = os.cpus()[0]?.model ?? '?';
  try {
    cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    /* not Linux */
  }
  let distro = '';
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    /* absent */
  }
  return {
    nproc: Number(first('nproc', [])) || os.cpus().length,
    cpu,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    distro,
    node: process.version,
    git: first('git', ['--version']).replace(/^git version /, ''),
    openssh: first('ssh', ['-V']).split(',')[0],
    loadavgStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function writeJson(file, v) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(v, null, 2) + '\n');
}

/** Parse AGENTGIT_TRACE=1 lines: `[trace +Tms Dms] git ARGS`. */
export function parseTrace(stderr) {
  const calls = [];
  // a push to a hub on disk made in-process (git/hub-push.ts) is traced as `in-process push …`: a push, not a git call
  const inProcess = [];
  for (const l of stderr.split('\n')) {
    const m = /^\[trace \+(\d+)ms (\d+)ms\] (git|in-process) (.*)$/.exec(l);
    if (m) (m[3] === 'git' ? calls : inProcess).push({ at: Number(m[1]), ms: Number(m[2]), args: m[4] });
  }
  const count = (re) => calls.filter((c) => re.test(c.args)).length;
  const pushes = [...calls, ...inProcess].filter((c) => /^push\b/.test(c.args));
  return {
    calls,
    gitCalls: calls.length,
    gitMs: calls.reduce((s, c) => s + c.ms, 0),
    fetches: count(/^fetch\b/),
    pushes: pushes.length,
    inProcessPushes: inProcess.filter((c) => /^push\b/.test(c.args)).length,
    branchPushes: pushes.filter((c) => /refs\/heads\//.test(c.args)).length,
  };
}
