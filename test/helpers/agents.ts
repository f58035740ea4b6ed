/**
 * Test driver for whole instances: real git, real bare hubs, the real
 * `bin/agentgit` (built by `npm test` before vitest runs).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'agentgit');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const cleanups: string[] = [];
export function tempDir(prefix = 'agentgit-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(d);
  return d;
}
export function cleanupTemp(): void {
  for (const d of cleanups.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Environment for agentgit and git in tests: no user config, own AGENTGIT_HOME. */
export function testEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    AGENTGIT_HOME: join(home, 'agentgit-home'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    TZ: 'UTC',
    // the engine a parameterised suite runs on (docs/engines.md); unset: chosen as in production
    ...(process.env.AGENTGIT_ENGINE ? { AGENTGIT_ENGINE: process.env.AGENTGIT_ENGINE } : {}),
    ...extra,
  };
}

export function git(cwd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync('git', args, { cwd, env: env ?? testEnv(cwd), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed in ${cwd}: ${r.stderr}`);
  return r.stdout;
}

/** A plain git repo at `dir` (branch main), and what commits `text` as its file `file` and returns the commit id. */
export function plainRepo(dir: string, env: NodeJS.ProcessEnv): (file: string, text: string) => string {
  git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
  return (file, text) => {
    writeFileSync(join(dir, file), text);
    git(dir, ['add', '-A'], env);
    git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-q', '-m', text], env);
    return git(dir, ['rev-parse', 'HEAD'], env).trim();
  };
}

export function makeBareHub(): string {
  const d = join(tempDir('agentgit-hub-'), 'hub.git');
  mkdirSync(d);
  git(d, ['init', '-q', '--bare', '-b', 'main']);
  return d;
}

export function agentgit(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: opts.env ?? testEnv(tempDir()) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolveRun({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** One agent instance: a directory under agentgit, with helpers to write like an agent. */
export class Instance {
  readonly env: NodeJS.ProcessEnv;
  constructor(
    readonly dir: string,
    readonly name: string,
    home: string,
    extraEnv: Record<string, string> = {},
  ) {
    this.env = testEnv(home, extraEnv);
  }

  static async init(hub: string, name: string, opts: { agent?: string; extraEnv?: Record<string, string>; files?: Record<string, string> } = {}): Promise<Instance> {
    const home = tempDir(`agentgit-${name}-home-`);
    const dir = join(tempDir(`agentgit-${name}-`), 'state');
    mkdirSync(dir, { recursive: true });
    const inst = new Instance(dir, name, home, opts.extraEnv);
    for (const [p, c] of Object.entries(opts.files ?? {})) inst.write(p, c);
    const r = await agentgit(['init', '-C', dir, '--remote', hub, '--agent', opts.agent ?? 'kevin', '--instance', name], { env: inst.env });
    if (r.code !== 0) throw new Error(`init ${name} failed (${r.code}): ${r.stderr}${r.stdout}`);
    if (!Instance.founders.has(hub)) Instance.founders.set(hub, inst);
    return inst;
  }

  /** Clone, then (unless admitBy is null) have `admitBy` admit the new instance, as an operator would. */
  static async clone(hub: string, name: string, opts: { agent?: string; extraEnv?: Record<string, string>; admitBy?: Instance | null } = {}): Promise<Instance> {
    const home = tempDir(`agentgit-${name}-home-`);
    const dir = join(tempDir(`agentgit-${name}-`), 'state');
    const inst = new Instance(dir, name, home, opts.extraEnv);
    const args = ['clone', hub, dir, '--instance', name];
    if (opts.agent) args.push('--agent', opts.agent);
    const r = await agentgit(args, { env: inst.env });
    if (r.code !== 0) throw new Error(`clone ${name} failed (${r.code}): ${r.stderr}${r.stdout}`);
    if (opts.admitBy !== null) {
      const admitter = opts.admitBy ?? Instance.founders.get(hub);
      const line = /agentgit trust add '([^']+)'/.exec(r.stdout)?.[1];
      if (admitter && line) await admitter.admit(line);
    }
    return inst;
  }

  /** The instance that founded each hub (it admits clones by default). */
  static founders = new Map<string, Instance>();

  async admit(line: string): Promise<void> {
    const t = await this.run(['trust', 'add', line]);
    if (t.code !== 0) throw new Error(`trust add by ${this.name} failed (${t.code}): ${t.stderr}${t.stdout}`);
  }

  path(p: string): string {
    return join(this.dir, p);
  }
  write(p: string, content: string | Uint8Array): void {
    mkdirSync(dirname(this.path(p)), { recursive: true });
    writeFileSync(this.path(p), content);
  }
  append(p: string, text: string): void {
    mkdirSync(dirname(this.path(p)), { recursive: true });
    appendFileSync(this.path(p), text);
  }
  read(p: string): string {
    return readFileSync(this.path(p), 'utf8');
  }
  readJson<T = unknown>(p: string): T {
    return JSON.parse(this.read(p)) as T;
  }
  updateJson<T>(p: string, f: (v: T) => T): void {
    this.write(p, JSON.stringify(f(this.readJson<T>(p)), null, 2) + '\n');
  }
  sync(args: string[] = []): Promise<Run> {
    return agentgit(['sync', '-C', this.dir, ...args], { env: this.env });
  }
  run(args: string[]): Promise<Run> {
    return agentgit([...args], { env: this.env, cwd: this.dir });
  }
  git(args: string[]): string {
    return git(this.dir, args, this.env);
  }
  /** Every synced file (not .git) with its bytes, for byte-identical comparison. */
  snapshot(): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (d: string): void => {
      for (const e of readdirSync(d)) {
        if (e === '.git') continue;
        const abs = join(d, e);
        if (statSync(abs).isDirectory()) walk(abs);
        else out.set(relative(this.dir, abs), readFileSync(abs, 'latin1'));
      }
    };
    walk(this.dir);
    return out;
  }
}

/** Instance `a` founds `hub` with `files`, `b` joins it, and each has synced once after (a, b, a): a pair at rest. */
export async function syncedPair(hub: string, files: Record<string, string>): Promise<{ a: Instance; b: Instance }> {
  const a = await Instance.init(hub, 'a', { files });
  const b = await Instance.clone(hub, 'b');
  for (const i of [a, b, a]) {
    const r = await i.sync();
    if (r.code !== 0) throw new Error(`${i.name}'s sync: exit ${r.code}: ${r.stderr}`);
  }
  return { a, b };
}

export function expectSameSnapshots(insts: Instance[]): { same: boolean; diff: string[] } {
  const [first, ...rest] = insts.map((i) => i.snapshot());
  const diff: string[] = [];
  for (const [i, s] of rest.entries()) {
    const keys = new Set([...first!.keys(), ...s.keys()]);
    for (const k of keys) if (first!.get(k) !== s.get(k)) diff.push(`${insts[0]!.name} vs ${insts[i + 1]!.name}: ${k}`);
  }
  return { same: diff.length === 0, diff };
}

export const MARKERS = /^(<{7}|={7}|>{7})( |$)/m;
