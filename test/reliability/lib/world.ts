/**
 * A world: one real hub and a few agent instances that write like agents do
 * (log entries, JSONL events, JSON keys, id-keyed task items), with every write
 * recorded so that the checker can tell what must be on every instance.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Instance, tempDir } from '../../helpers/agents.js';
import { startFileHub, startHttpsHub, startSshHub, type Hub, type HubKind } from '../../helpers/hubs.js';
import { runAgentgit, sh, shOk, spawnAgentgit, type RunOut, type Spawned } from './proc.js';

export const LOG = 'memory/2026-11-25.md';
export const EVENTS = 'events.jsonl';
export const STATE = 'state.json';
export const SHARED_KEYS = ['mood', 'focus', 'plan'] as const;

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface EntryRec {
  file: string;
  /** unique token inside the line */
  token: string;
  /** the whole line as written (without the newline) */
  line: string;
  by: string;
  scenario: string;
}
export interface JsonWrite {
  file: string;
  key: string;
  value: Json;
  by: string;
  seq: number;
  scenario: string;
}
export interface ItemRec {
  file: string;
  id: string;
  by: string;
  scenario: string;
}

/** Everything the simulated agents wrote, in the order they wrote it. */
export class Recorder {
  entries: EntryRec[] = [];
  writes: JsonWrite[] = [];
  items: ItemRec[] = [];
  seq = 0;
  scenario = 'setup';
  next(): number {
    return ++this.seq;
  }
  countFor(scenario: string): { entries: number; jsonWrites: number; items: number } {
    return {
      entries: this.entries.filter((e) => e.scenario === scenario).length,
      jsonWrites: this.writes.filter((w) => w.scenario === scenario).length,
      items: this.items.filter((i) => i.scenario === scenario).length,
    };
  }
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const WORDS = ['checked the inbox', 'called Bob', 'wrote the report', 'deployed v2', 'fixed the sink', 'read the paper', 'planned the week', 'answered Ann', 'reviewed a PR', 'walked the dog'];

function hhmm(seq: number): string {
  const m = Math.floor(seq / 8) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

export interface SyncOpts {
  wrapper?: string[];
  timeoutMs?: number;
  extraEnv?: Record<string, string>;
}

export class Agent {
  constructor(
    readonly world: World,
    readonly inst: Instance,
  ) {}
  get name(): string {
    return this.inst.name;
  }
  get dir(): string {
    return this.inst.dir;
  }
  get env(): NodeJS.ProcessEnv {
    return this.inst.env;
  }
  path(p: string): string {
    return join(this.inst.dir, p);
  }
  read(p: string): string {
    return readFileSync(this.path(p), 'utf8');
  }
  git(args: string[]): string {
    return shOk('git', args, { cwd: this.dir, env: this.env });
  }

  private get rec(): Recorder {
    return this.world.rec;
  }

  /** Append a markdown list entry to the daily log. */
  entry(file = LOG): EntryRec {
    const seq = this.rec.next();
    const token = `[e:${this.name}-${seq}]`;
    const line = `- ${hhmm(seq)} ${this.name} ${token} ${this.world.rng.pick(WORDS)}`;
    mkdirSync(dirname(this.path(file)), { recursive: true });
    appendFileSync(this.path(file), line + '\n');
    const r = { file, token, line, by: this.name, scenario: this.rec.scenario };
    this.rec.entries.push(r);
    return r;
  }

  /** Append a JSON line event. */
  event(file = EVENTS): EntryRec {
    const seq = this.rec.next();
    const token = `v:${this.name}-${seq}`;
    const line = JSON.stringify({ ts: `2026-11-25T${hhmm(seq)}:${String(seq % 60).padStart(2, '0')}.000Z`, id: token, by: this.name, msg: this.world.rng.pick(WORDS) });
    appendFileSync(this.path(file), line + '\n');
    const r = { file, token: `"id":"${token}"`, line, by: this.name, scenario: this.rec.scenario };
    this.rec.entries.push(r);
    return r;
  }

  /** Read-modify-write of a JSON file, as an agent does. */
  private updateJson(file: string, f: (v: { [k: string]: Json }) => void): void {
    const abs = this.path(file);
    const v = (existsSync(abs) ? JSON.parse(readFileSync(abs, 'utf8')) : {}) as { [k: string]: Json };
    f(v);
    writeFileSync(abs, JSON.stringify(v, null, 2) + '\n');
  }

  private recordWrite(file: string, key: string, value: Json, seq: number): void {
    this.rec.writes.push({ file, key, value, by: this.name, seq, scenario: this.rec.scenario });
  }

  /** A key only this instance writes: it must end with exactly this value. */
  setOwn(file = STATE): void {
    const seq = this.rec.next();
    const value = `${this.name}-${seq}`;
    this.updateJson(file, (v) => {
      const o = (v.lastChecks ??= {}) as { [k: string]: Json };
      o[this.name] = value;
    });
    this.recordWrite(file, `/lastChecks/${this.name}`, value, seq);
  }

  /** A key every instance writes: last writer wins, the loser goes to the conflict record. */
  setShared(key: string = this.world.rng.pick(SHARED_KEYS), file = STATE): void {
    const seq = this.rec.next();
    const value = `${this.name}-${seq}`;
    this.updateJson(file, (v) => {
      const o = (v.shared ??= {}) as { [k: string]: Json };
      o[key] = value;
    });
    this.recordWrite(file, `/shared/${key}`, value, seq);
  }

  addTask(file = STATE): void {
    const seq = this.rec.next();
    const id = `t-${this.name}-${seq}`;
    this.updateJson(file, (v) => {
      const tasks = (v.tasks ??= []) as Json[];
      tasks.push({ id, status: 'todo', by: this.name });
    });
    this.rec.items.push({ file, id, by: this.name, scenario: this.rec.scenario });
  }

  /** Change the status of a task this instance can see (created anywhere). */
  setTaskStatus(file = STATE): void {
    const abs = this.path(file);
    const tasks = ((JSON.parse(readFileSync(abs, 'utf8')) as { tasks?: { id: string }[] }).tasks ?? []).map((t) => t.id);
    if (tasks.length === 0) return this.addTask(file);
    const id = this.world.rng.pick(tasks);
    const seq = this.rec.next();
    const value = `${this.name}-${seq}`;
    this.updateJson(file, (v) => {
      const t = (v.tasks as { id: string; status: Json }[]).find((x) => x.id === id);
      if (t) t.status = value;
    });
    this.recordWrite(file, `/tasks/@${id}/status`, value, seq);
  }

  /** n writes of every kind, as an agent makes between two syncs. */
  burst(n = 4): number {
    const ops = [() => this.entry(), () => this.event(), () => this.setOwn(), () => this.setShared(), () => this.addTask(), () => this.setTaskStatus(), () => this.entry()];
    for (let i = 0; i < n; i++) this.world.rng.pick(ops)();
    return n;
  }

  spawnSync(args: string[] = [], o: SyncOpts = {}): Spawned {
    const env = { ...this.env, ...(o.extraEnv ?? {}) };
    return spawnAgentgit(['sync', '-C', this.dir, ...args], env, { wrapper: o.wrapper, timeoutMs: o.timeoutMs });
  }

  async sync(args: string[] = [], o: SyncOpts = {}): Promise<RunOut> {
    const r = await this.spawnSync(args, o).done;
    this.world.noteSync(r);
    return r;
  }

  run(args: string[], o: SyncOpts = {}): Promise<RunOut> {
    return runAgentgit(args, { ...this.env, ...(o.extraEnv ?? {}) }, { cwd: this.dir, wrapper: o.wrapper, timeoutMs: o.timeoutMs });
  }

  head(): string {
    return this.git(['rev-parse', 'HEAD']).trim();
  }
}

/**
 * The engine the instances of a world run on (docs/engines.md): `git` (the git CLI),
 * `isomorphic-git` (in-process, file and https hubs only), or `mixed` (a mixed fleet:
 * the first instance and every second one after it on git, the others on isomorphic-git).
 */
export type Engine = 'git' | 'isomorphic-git' | 'mixed';
export const ENGINES: readonly Engine[] = ['git', 'isomorphic-git', 'mixed'];

/** AGENTGIT_ENGINE for the i-th instance of a world on `engine`. */
export function engineEnv(engine: Engine, i: number): Record<string, string> {
  return { AGENTGIT_ENGINE: engine === 'mixed' ? (i % 2 === 0 ? 'git' : 'isomorphic-git') : engine };
}

export interface WorldOptions {
  kind: HubKind;
  /** default git */
  engine?: Engine;
  names: string[];
  seed?: number;
  /** instances whose whole directory lives on a small tmpfs of this many MB */
  tmpfs?: Record<string, number>;
}

export const BASE_FILES: Record<string, string> = {
  [LOG]: '# 2026-11-25\n\n',
  [EVENTS]: '',
  [STATE]: JSON.stringify({ lastChecks: {}, shared: {}, tasks: [] }, null, 2) + '\n',
  'MEMORY.md': '# Memory\n\nThe user likes short answers.\n',
};

/** tmpfs mounts of worlds still alive: unmounted when the test process exits without stop() */
const liveMounts = new Set<string>();
let exitHook = false;
export function trackMount(m: string): void {
  liveMounts.add(m);
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const x of liveMounts) sh('umount', ['-l', x]);
  });
}

export function untrackMount(m: string): void {
  liveMounts.delete(m);
}

export class World {
  readonly rec = new Recorder();
  readonly rng: Rng;
  agents: Agent[] = [];
  /** paths (relative to an instance) that are local by design: left out of the identity check */
  readonly localOnly = new Set<string>();
  readonly mounts: string[] = [];
  syncs = 0;
  exitCodes = new Map<number, number>();
  private cleanups: Array<() => Promise<void> | void> = [];

  private constructor(
    readonly kind: HubKind,
    readonly engine: Engine,
    readonly hub: Hub,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  get seed(): number {
    return this.rng.seed;
  }

  static async create(o: WorldOptions): Promise<World> {
    const hub = o.kind === 'file' ? await startFileHub() : o.kind === 'ssh' ? await startSshHub() : await startHttpsHub();
    const seed = o.seed ?? Number(process.env.AGENTGIT_RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const w = new World(o.kind, o.engine ?? 'git', hub, seed);
    try {
      const [first, ...rest] = o.names;
      const founder = await Instance.init(hub.url, first!, { extraEnv: w.clientEnv(0), files: BASE_FILES });
      w.agents.push(new Agent(w, founder));
      for (const [i, name] of rest.entries()) {
        const mb = o.tmpfs?.[name];
        const inst = mb ? await w.cloneOnTmpfs(name, mb, founder, i + 1) : await Instance.clone(hub.url, name, { extraEnv: w.clientEnv(i + 1), admitBy: founder });
        w.agents.push(new Agent(w, inst));
      }
      // everyone has the admissions
      for (const a of w.agents) {
        const r = await a.sync(['--wait', '60']);
        if (r.code !== 0) throw new Error(`first sync of ${a.name} failed (${r.code}): ${r.stderr}`);
      }
    } catch (e) {
      await w.stop();
      throw e;
    }
    return w;
  }

  /** The environment of the i-th instance: the hub's credentials and its engine. */
  private clientEnv(i: number): Record<string, string> {
    return { ...this.hub.clientEnv, ...engineEnv(this.engine, i) };
  }

  /** Clone an instance into a fresh tmpfs of `mb` MB (for the local-disk-full scenario). */
  private async cloneOnTmpfs(name: string, mb: number, admitter: Instance, i: number): Promise<Instance> {
    const mnt = mkdtempSync(join(tmpdir(), `agentgit-tmpfs-${name}-`));
    shOk('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', mnt]);
    this.mounts.push(mnt);
    trackMount(mnt);
    const dir = join(mnt, 'state');
    const inst = new Instance(dir, name, tempDir(`agentgit-${name}-home-`), this.clientEnv(i));
    const r = await runAgentgit(['clone', this.hub.url, dir, '--instance', name], inst.env);
    if (r.code !== 0) throw new Error(`clone ${name} failed (${r.code}): ${r.stderr}${r.stdout}`);
    const line = /agentgit trust add '([^']+)'/.exec(r.stdout)?.[1];
    if (line) await admitter.admit(line);
    return inst;
  }

  agent(name: string): Agent {
    const a = this.agents.find((x) => x.name === name);
    if (!a) throw new Error(`no agent ${name}`);
    return a;
  }

  onStop(f: () => Promise<void> | void): void {
    this.cleanups.push(f);
  }

  noteSync(r: RunOut): void {
    this.syncs++;
    this.exitCodes.set(r.code, (this.exitCodes.get(r.code) ?? 0) + 1);
  }

  hubHead(): string | null {
    const r = sh('git', ['--git-dir', this.hub.repoPath, 'rev-parse', '-q', '--verify', 'refs/heads/main'], { env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });
    return r.code === 0 ? r.stdout.trim() : null;
  }

  /** One round: every agent (or `who`) syncs at once. */
  async syncAll(who: Agent[] = this.agents, args: string[] = ['--wait', '60']): Promise<RunOut[]> {
    return Promise.all(who.map((a) => a.sync(args)));
  }

  /**
   * Quiet rounds (no new writes) until every instance holds the hub's head with a clean
   * work tree. Every sync of a quiet round must exit 0.
   */
  async converge(maxPasses = 6): Promise<{ ok: boolean; passes: number; problems: string[]; ms: number }> {
    const t0 = performance.now();
    const problems: string[] = [];
    for (let pass = 1; pass <= maxPasses; pass++) {
      const outs = await this.syncAll();
      outs.forEach((r, i) => {
        if (r.code !== 0) problems.push(`quiet round ${pass}: sync of ${this.agents[i]!.name} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      });
      const head = this.hubHead();
      const same = this.agents.every((a) => a.head() === head && a.git(['status', '--porcelain']).trim() === '');
      if (same) return { ok: problems.length === 0, passes: pass, problems, ms: Math.round(performance.now() - t0) };
    }
    problems.push(`did not converge in ${maxPasses} quiet rounds: heads ${this.agents.map((a) => `${a.name}=${a.head().slice(0, 7)}`).join(' ')} hub=${this.hubHead()?.slice(0, 7)}`);
    return { ok: false, passes: maxPasses, problems, ms: Math.round(performance.now() - t0) };
  }

  async stop(): Promise<void> {
    for (const f of this.cleanups.splice(0).reverse()) {
      try {
        await f();
      } catch {
        /* best effort */
      }
    }
    for (const m of this.mounts.splice(0)) {
      sh('umount', ['-l', m]);
      liveMounts.delete(m);
      rmSync(m, { recursive: true, force: true });
    }
    await this.hub.stop();
  }
}
