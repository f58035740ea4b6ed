/**
 * The one checker every scenario uses. After convergence, from what the
 * simulated agents wrote (recorded by the driver) it verifies that:
 *   - every entry is on every instance exactly once (lost and duplicated counted);
 *   - every id-keyed item (task) is there exactly once;
 *   - every JSON key holds the value of its last write, or that write is in the
 *     conflict record (`.agentgit/conflicts.jsonl`) as the loser of a race whose
 *     winner is the value kept; every record's winner has the later clock;
 *   - all instances are byte-identical, no file holds conflict markers;
 *   - no repo is mid-merge (MERGE_HEAD, rebase, checkout journal, index.lock)
 *     and no work tree holds uncommitted changes or agentgit temp files;
 *   - `git fsck` is clean on every repo and on the hub;
 *   - no private key (instance signing keys, the ssh deploy key) nor the https
 *     password is in any object on the hub.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { MARKERS } from '../../helpers/agents.js';
import { sh, waitGitIdle } from './proc.js';
import type { Agent, Json, World } from './world.js';

export interface CheckResult {
  ok: boolean;
  converged: boolean;
  quietPasses: number;
  entries: number;
  entriesLost: number;
  entriesDuplicated: number;
  items: number;
  itemsLost: number;
  itemsDuplicated: number;
  jsonKeys: number;
  jsonLastWrite: number;
  jsonInConflictRecord: number;
  jsonWrong: number;
  conflictRecords: number;
  identical: boolean;
  markers: number;
  fsckErrors: number;
  midMerge: number;
  leftovers: number;
  secretsOnHub: number;
  problems: string[];
}

interface ConflictRec {
  path: string;
  key: string;
  winner: { value: string; clock: string | null };
  loser: { value: string; clock: string | null };
}

export const TEMP_FILE = /(^|\/)\.agentgit-tmp-|\.agentgit-hold-/;

/** Every file of a work tree (not .git), symlinks as their target, never followed. */
export function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      if (d === dir && e === '.git') continue;
      const abs = join(d, e);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out.set(relative(dir, abs), Buffer.from(`symlink -> ${readlinkSync(abs)}`));
      else if (st.isDirectory()) walk(abs);
      else if (st.isFile()) out.set(relative(dir, abs), readFileSync(abs));
    }
  };
  walk(dir);
  return out;
}

function getPath(doc: Json | undefined, key: string): Json | undefined {
  let cur: Json | undefined = doc;
  for (const raw of key.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (cur === undefined || cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (!seg.startsWith('@')) return undefined;
      const id = seg.slice(1);
      cur = cur.find((x) => x !== null && typeof x === 'object' && !Array.isArray(x) && String((x as { id?: Json }).id) === id);
    } else {
      cur = Object.prototype.hasOwnProperty.call(cur, seg) ? cur[seg] : undefined;
    }
  }
  return cur;
}

const text = (v: Json | undefined): string => (v === undefined ? '<absent>' : JSON.stringify(v));

function readConflicts(a: Agent): ConflictRec[] {
  const p = a.path('.agentgit/conflicts.jsonl');
  if (!existsSync(p)) return [];
  const out: ConflictRec[] = [];
  for (const l of readFileSync(p, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    try {
      out.push(JSON.parse(l) as ConflictRec);
    } catch {
      /* counted by the identity check, not here */
    }
  }
  return out;
}

/** What an instance's private keys look like on disk (for the leak scan on the hub). */
function privateKeyNeedles(world: World): string[] {
  const needles = new Set<string>();
  const scan = (d: string, depth: number): void => {
    if (depth > 4 || !existsSync(d)) return;
    for (const e of readdirSync(d)) {
      const abs = join(d, e);
      const st = lstatSync(abs);
      if (st.isDirectory()) scan(abs, depth + 1);
      else if (st.isFile() && st.size < 20_000) {
        const s = readFileSync(abs, 'utf8');
        if (/PRIVATE KEY-----/.test(s)) {
          // the key's body: the longest base64 line
          const body = s.split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l));
          for (const b of body) needles.add(b);
        }
      }
    }
  };
  for (const a of world.agents) scan(a.env.AGENTGIT_HOME ?? '', 0);
  const h = world.hub as { identityFile?: string; password?: string };
  if (h.identityFile) scan(join(h.identityFile, '..'), 3);
  if (h.password) needles.add(h.password);
  return [...needles];
}

function fsck(gitDirArgs: string[], env: NodeJS.ProcessEnv, cwd?: string): string[] {
  if (cwd) waitGitIdle(cwd); // not racing a detached auto gc (proc.ts)
  const r = sh('git', [...gitDirArgs, 'fsck', '--no-progress', '--no-dangling', '--full'], { env, cwd });
  const lines = (r.stdout + r.stderr).split('\n').filter((l) => l.trim());
  if (r.code !== 0 || lines.length > 0) return [`exit ${r.code}: ${lines.slice(0, 5).join(' | ')}`];
  return [];
}

export interface CheckOptions {
  /** skip the convergence passes (the caller converged already) */
  converged?: { ok: boolean; passes: number; problems: string[] };
}

export async function check(world: World, o: CheckOptions = {}): Promise<CheckResult> {
  const problems: string[] = [];
  const conv = o.converged ?? (await world.converge());
  problems.push(...conv.problems);
  const agents = world.agents;
  const r: CheckResult = {
    ok: false,
    converged: conv.ok,
    quietPasses: conv.passes,
    entries: world.rec.entries.length,
    entriesLost: 0,
    entriesDuplicated: 0,
    items: world.rec.items.length,
    itemsLost: 0,
    itemsDuplicated: 0,
    jsonKeys: 0,
    jsonLastWrite: 0,
    jsonInConflictRecord: 0,
    jsonWrong: 0,
    conflictRecords: 0,
    identical: true,
    markers: 0,
    fsckErrors: 0,
    midMerge: 0,
    leftovers: 0,
    secretsOnHub: 0,
    problems,
  };

  const snaps = agents.map((a) => snapshot(a.dir));

  // entries: exactly once, on every instance
  const lost = new Set<string>();
  const dup = new Set<string>();
  for (const [i, a] of agents.entries()) {
    const files = new Map<string, string[]>();
    const linesOf = (f: string): string[] => {
      let l = files.get(f);
      if (!l) {
        l = (snaps[i]!.get(f)?.toString('utf8') ?? '').split(/\r?\n/);
        files.set(f, l);
      }
      return l;
    };
    for (const e of world.rec.entries) {
      const lines = linesOf(e.file);
      const exact = lines.filter((l) => l === e.line).length;
      const withToken = lines.filter((l) => l.includes(e.token)).length;
      if (exact === 0) {
        if (!lost.has(e.token)) problems.push(`entry lost on ${a.name}: ${e.file}: ${e.line}${withToken ? ` (${withToken} altered copies)` : ''}`);
        lost.add(e.token);
      } else if (withToken > 1) {
        if (!dup.has(e.token)) problems.push(`entry duplicated on ${a.name} (${withToken}×): ${e.file}: ${e.line}`);
        dup.add(e.token);
      }
    }
  }
  r.entriesLost = lost.size;
  r.entriesDuplicated = dup.size;

  // JSON: items exactly once, keys hold their last write or it is in the conflict record
  const docs = agents.map((a, i) => {
    const m = new Map<string, Json | undefined>();
    for (const f of new Set([...world.rec.writes.map((w) => w.file), ...world.rec.items.map((x) => x.file)])) {
      const t = snaps[i]!.get(f)?.toString('utf8');
      try {
        m.set(f, t === undefined ? undefined : (JSON.parse(t) as Json));
      } catch (e) {
        problems.push(`${f} on ${a.name} is not valid JSON: ${(e as Error).message}`);
        m.set(f, undefined);
      }
    }
    return m;
  });
  const itemLost = new Set<string>();
  const itemDup = new Set<string>();
  for (const [i, a] of agents.entries()) {
    for (const it of world.rec.items) {
      const arr = (docs[i]!.get(it.file) as { tasks?: Json[] } | undefined)?.tasks ?? [];
      const n = arr.filter((x) => x !== null && typeof x === 'object' && !Array.isArray(x) && (x as { id?: Json }).id === it.id).length;
      if (n === 0 && !itemLost.has(it.id)) {
        itemLost.add(it.id);
        problems.push(`task ${it.id} (by ${it.by}) lost on ${a.name}`);
      }
      if (n > 1 && !itemDup.has(it.id)) {
        itemDup.add(it.id);
        problems.push(`task ${it.id} appears ${n}× on ${a.name}`);
      }
    }
  }
  r.itemsLost = itemLost.size;
  r.itemsDuplicated = itemDup.size;

  const conflicts = agents.length ? readConflicts(agents[0]!) : [];
  r.conflictRecords = conflicts.length;
  for (const c of conflicts) {
    // a side that does not parse never replaces one that does, whatever its clock (issue #12)
    if (c.winner.clock && c.loser.clock && c.winner.clock < c.loser.clock && !(c.key === '' && parses(c.winner.value) && !parses(c.loser.value))) {
      problems.push(`conflict record ${c.path} ${c.key}: the winner's clock ${c.winner.clock} is older than the loser's ${c.loser.clock}`);
    }
  }
  const lastWrite = new Map<string, (typeof world.rec.writes)[number]>();
  for (const w of world.rec.writes) lastWrite.set(`${w.file}\0${w.key}`, w);
  r.jsonKeys = lastWrite.size;
  for (const w of lastWrite.values()) {
    const finals = docs.map((d) => getPath(d.get(w.file), w.key));
    const v = finals[0];
    if (finals.some((f) => text(f) !== text(v))) {
      r.jsonWrong++;
      problems.push(`${w.file} ${w.key} differs between instances: ${finals.map(text).join(' / ')}`);
      continue;
    }
    if (text(v) === text(w.value)) {
      r.jsonLastWrite++;
      continue;
    }
    const rec = conflicts.find((c) => c.path === w.file && c.key === w.key && c.loser.value === JSON.stringify(w.value));
    if (rec) {
      r.jsonInConflictRecord++;
      continue;
    }
    r.jsonWrong++;
    problems.push(`${w.file} ${w.key} = ${text(v)}, but its last write was ${text(w.value)} by ${w.by} (seq ${w.seq}) and that write is not in the conflict record`);
  }

  // byte-identical, no markers, no agentgit temp files left in the work trees
  const first = snaps[0]!;
  for (const [i, s] of snaps.entries()) {
    for (const [p, b] of s) {
      if (TEMP_FILE.test(p)) {
        r.leftovers++;
        problems.push(`agentgit temp file left on ${agents[i]!.name}: ${p}`);
      } else if (MARKERS.test(b.toString('latin1'))) {
        r.markers++;
        problems.push(`conflict markers on ${agents[i]!.name}: ${p}`);
      }
    }
    if (i === 0) continue;
    const keys = new Set([...first.keys(), ...s.keys()]);
    for (const k of keys) {
      if (TEMP_FILE.test(k) || [...world.localOnly].some((l) => k === l || k.startsWith(l + '/'))) continue;
      const x = first.get(k);
      const y = s.get(k);
      if (!x || !y || !x.equals(y)) {
        r.identical = false;
        problems.push(`${agents[0]!.name} and ${agents[i]!.name} differ: ${k} (${x ? x.length : 'absent'} vs ${y ? y.length : 'absent'} bytes)`);
      }
    }
  }

  // repo states
  for (const a of agents) {
    const g = a.path('.git');
    for (const f of ['MERGE_HEAD', 'rebase-merge', 'rebase-apply', 'CHERRY_PICK_HEAD', 'REVERT_HEAD', 'index.lock', 'agentgit/checkout.json']) {
      if (existsSync(join(g, f))) {
        r.midMerge++;
        problems.push(`${a.name}: .git/${f} is left`);
      }
    }
    const st = sh('git', ['status', '--porcelain'], { cwd: a.dir, env: a.env });
    const dirty = st.stdout.split('\n').filter((l) => l.trim());
    if (dirty.length) problems.push(`${a.name}: uncommitted after convergence: ${dirty.slice(0, 5).join(', ')}`);
    const f = fsck([], a.env, a.dir).map((x) => `fsck ${a.name}: ${x}`);
    r.fsckErrors += f.length;
    problems.push(...f);
  }
  const hubEnv = { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };
  const hf = fsck(['--git-dir', world.hub.repoPath], hubEnv).map((x) => `fsck hub: ${x}`);
  r.fsckErrors += hf.length;
  problems.push(...hf);

  // the hub's tree has no markers either, and no private key is anywhere in its objects
  const all = sh('git', ['--git-dir', world.hub.repoPath, 'cat-file', '--batch-all-objects', '--batch'], { env: hubEnv }).stdout;
  for (const n of privateKeyNeedles(world)) {
    if (all.includes(n)) {
      r.secretsOnHub++;
      problems.push(`a private key or password is in the hub's objects (${n.slice(0, 12)}…)`);
    }
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(all)) {
    r.secretsOnHub++;
    problems.push('a PEM/OpenSSH private key block is in the hub objects');
  }

  r.ok =
    problems.length === 0 &&
    conv.ok &&
    r.entriesLost === 0 &&
    r.entriesDuplicated === 0 &&
    r.itemsLost === 0 &&
    r.itemsDuplicated === 0 &&
    r.jsonWrong === 0 &&
    r.identical &&
    r.markers === 0 &&
    r.fsckErrors === 0 &&
    r.midMerge === 0 &&
    r.leftovers === 0 &&
    r.secretsOnHub === 0;
  return r;
}

/** One line for logs and the report. */
export function summary(r: CheckResult): string {
  return [
    r.ok ? 'PASS' : 'FAIL',
    `entries ${r.entries} (lost ${r.entriesLost}, duplicated ${r.entriesDuplicated})`,
    `tasks ${r.items} (lost ${r.itemsLost}, duplicated ${r.itemsDuplicated})`,
    `JSON keys ${r.jsonKeys} (last write ${r.jsonLastWrite}, in conflict record ${r.jsonInConflictRecord}, wrong ${r.jsonWrong})`,
    `identical ${r.identical ? 'yes' : 'no'}`,
    `markers ${r.markers}`,
    `fsck errors ${r.fsckErrors}`,
    `mid-merge ${r.midMerge}`,
    `secrets on hub ${r.secretsOnHub}`,
  ].join('; ');
}

function parses(value: unknown): boolean {
  if (typeof value !== 'string') return true;
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}
