/**
 * The scenarios. Each runs on a World (one hub kind), records what it injected,
 * collects violations of the promises it checks on the way (exit codes, messages,
 * deadlines, state right after a fault) instead of throwing, and is followed by
 * the checker (see runScenario). Violations and the checker's verdict are
 * asserted by the test files and written to docs/reliability.md by the long run.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { HttpsHub, HubKind, SshHub } from '../../helpers/hubs.js';
import { startHungHub } from '../../helpers/hubs.js';
import { check, snapshot, summary, TEMP_FILE, type CheckResult } from './checker.js';
import {
  canMountTmpfs,
  cutOff,
  faketimeLib,
  fillDisk,
  hangFileHub,
  hubDown,
  hubOnTmpfs,
  installRejectHook,
  KILL_POINTS,
  partitionSupport,
  skewEnv,
  syncKilled,
  type KillPoint,
} from './faults.js';
import { kill9, sh, waitGitIdle, type RunOut } from './proc.js';
import { record, SCALE, type ScenarioResult } from './report.js';
import type { Agent, Engine, World } from './world.js';

export class Violations {
  readonly list: string[] = [];
  expect(ok: boolean, msg: string | (() => string)): boolean {
    if (!ok) this.list.push(typeof msg === 'string' ? msg : msg());
    return ok;
  }
}

export interface Ctx {
  world: World;
  kind: HubKind;
  v: Violations;
  notes: string[];
}

export interface Outcome {
  rounds: number;
  faults: string;
  /** kill-9: landed/tried by kill point (the failpoint table of docs/reliability.md) */
  killPoints?: Record<string, { landed: number; tried: number }>;
}

export interface ScenarioDef {
  id: string;
  title: string;
  kinds: readonly HubKind[];
  /** a reason to skip when this machine lacks a capability (never for anything else) */
  lacks?: (kind: HubKind) => string | null;
  run(ctx: Ctx): Promise<Outcome>;
}

export const tail = (r: RunOut): string => (r.stderr + r.stdout).trim().split('\n').slice(-4).join(' | ');

export function codeIs(v: Violations, r: RunOut, codes: number[], what: string): boolean {
  return v.expect(codes.includes(r.code), () => `${what}: exit ${r.code}${r.signal ? ` (${r.signal})` : ''}, expected ${codes.join(' or ')}: ${tail(r)}`);
}

/** Everything the agent wrote is committed: a clean work tree (a fault must not leave work uncommitted). */
export function committed(v: Violations, a: Agent, what: string): void {
  const st = a.git(['status', '--porcelain']).trim();
  v.expect(st === '', () => `${what}: ${a.name} has uncommitted changes after the round: ${st.split('\n').slice(0, 4).join(', ')}`);
}

/** Right after a fault and a recovery round: no journal, no index.lock, no merge, fsck clean. */
export function recovered(v: Violations, a: Agent, what: string): void {
  for (const f of ['agentgit/checkout.json', 'index.lock', 'MERGE_HEAD', 'rebase-merge']) {
    v.expect(!existsSync(a.path(`.git/${f}`)), `${what}: ${a.name} still has .git/${f}`);
  }
  waitGitIdle(a.dir); // not racing a detached auto gc of the recovery round
  const r = sh('git', ['fsck', '--no-progress', '--no-dangling'], { cwd: a.dir, env: a.env });
  const fsckOut = (r.stdout + r.stderr).trim();
  v.expect(r.code === 0 && fsckOut === '', () => `${what}: git fsck on ${a.name}: exit ${r.code}: ${fsckOut.slice(0, 300)}`);
  // a half-written loose object of agentgit's (`<oid>.tmp-PID-…`): reported once, then removed
  // so that the scenarios after this one do not fail for the same reason
  for (const m of fsckOut.matchAll(/bad sha1 file: (\S+\.tmp-\d+-\S+)/g)) rmSync(a.path(m[1]!), { force: true });
  committed(v, a, what);
  // agentgit's own temp files of the interrupted round must be gone too; reported once here,
  // then removed so that the scenarios after this one do not fail for the same reason
  for (const p of [...snapshot(a.dir).keys()].filter((x) => TEMP_FILE.test(x))) {
    v.expect(false, `${what}: the next run left ${a.name}'s ${p} (a temp file of the killed round) in the work tree`);
    rmSync(a.path(p), { force: true });
  }
}

function countCodes(outs: RunOut[]): string {
  const m = new Map<number, number>();
  for (const o of outs) m.set(o.code, (m.get(o.code) ?? 0) + 1);
  return [...m].map(([c, n]) => `${n}× exit ${c}`).join(', ');
}

// ------------------------------------------------------------------ scenarios

const concurrent: ScenarioDef = {
  id: 'concurrent',
  title: 'all instances write and sync at once',
  kinds: ['file', 'ssh', 'https'],
  async run({ world, v }) {
    const all: RunOut[] = [];
    for (let r = 0; r < SCALE.concurrentRounds; r++) {
      for (const a of world.agents) a.burst(SCALE.burst);
      const outs = await world.syncAll();
      all.push(...outs);
      outs.forEach((o, i) => {
        if (o.code === 75) v.expect(/hub kept moving/.test(o.stderr), () => `round ${r}: ${world.agents[i]!.name} exited 75 for another reason: ${tail(o)}`);
        else codeIs(v, o, [0], `round ${r}: sync of ${world.agents[i]!.name}`);
      });
    }
    return { rounds: SCALE.concurrentRounds, faults: `none: ${world.agents.length} syncs at once each round (${countCodes(all)})` };
  },
};

const twoSyncs: ScenarioDef = {
  id: 'two-syncs',
  title: 'two syncs at once in one directory; a killed lock holder',
  kinds: ['file', 'ssh', 'https'],
  async run({ world, v }) {
    let busy = 0;
    let takeovers = 0;
    for (let r = 0; r < SCALE.twoSyncRounds; r++) {
      const a = world.agents[r % world.agents.length]!;
      const others = world.agents.filter((x) => x !== a);
      for (const x of world.agents) x.burst(3);
      const [x, y, ...rest] = await Promise.all([a.sync(), a.sync(), ...others.map((o) => o.sync(['--wait', '60']))]);
      for (const o of [x!, y!]) {
        if (o.code === 75) {
          busy++;
          v.expect(/another agentgit sync/.test(o.stderr), () => `two at once: the refused run should name the other sync: ${tail(o)}`);
        } else codeIs(v, o, [0], 'two at once');
      }
      v.expect(x!.code === 0 || y!.code === 0, 'two at once: neither sync succeeded');
      rest.forEach((o, i) => codeIs(v, o, [0], `concurrent sync of ${others[i]!.name}`));
      a.burst(2);
      const waited = await Promise.all([a.sync(['--wait', '60']), a.sync(['--wait', '60'])]);
      waited.forEach((o) => codeIs(v, o, [0], 'two at once with --wait'));
      // kill -9 the lock holder; the next run takes the stale lock over
      a.burst(2);
      const sp = a.spawnSync();
      const lock = a.path('.git/agentgit/sync.lock');
      const t0 = Date.now();
      while (!existsSync(lock) && Date.now() - t0 < 20_000) await new Promise((res) => setTimeout(res, 2));
      const held = existsSync(lock);
      kill9(sp.pid, 'tree');
      const k = await sp.done;
      world.noteSync(k);
      if (held && existsSync(lock)) takeovers++;
      const next = await a.sync();
      codeIs(v, next, [0], 'the run after a kill -9 of the lock holder');
      v.expect(!existsSync(lock), 'the sync lock is left after a successful run');
    }
    return {
      rounds: SCALE.twoSyncRounds,
      faults: `${SCALE.twoSyncRounds}× two syncs at once in one directory (${busy} refused with exit 75 "another agentgit sync", the rest waited or ran after), ${SCALE.twoSyncRounds}× two with --wait, ${takeovers} stale lock${takeovers === 1 ? '' : 's'} of a killed holder taken over`,
    };
  },
};

/** Kill points: the long run rotates through all of them on every hub; the sample spreads them over the hubs (each point once). */
const SAMPLE_POINTS: Record<HubKind, KillPoint[]> = { file: ['commit', 'merge', 'checkout', 'random'], ssh: ['fetch', 'verify'], https: ['push', 'record'] };
const killPointOrder = (kind: HubKind, t: number): KillPoint => {
  if (SCALE.mode === 'sample') return SAMPLE_POINTS[kind][t % SAMPLE_POINTS[kind].length]!;
  const offset = kind === 'file' ? 0 : kind === 'ssh' ? 2 : 4;
  return KILL_POINTS[(t + offset) % KILL_POINTS.length]!;
};

const kill: ScenarioDef = {
  id: 'kill-9',
  title: 'kill -9 of sync at random moments and at every failpoint; the next run recovers',
  kinds: ['file', 'ssh', 'https'],
  async run({ world, kind, v, notes }) {
    const trials = SCALE.killTrials[kind];
    const n = world.agents.length;
    const stats = new Map<string, { tried: number; landed: number }>();
    let estimate = 2500;
    let inCheckout = 0;
    let trees = 0;
    for (let t = 0; t < trials; t++) {
      const point = killPointOrder(kind, t);
      // alternate the kill mode, and flip the pairing with the points on every cycle through them
      const mode = (t + Math.floor(t / KILL_POINTS.length)) % 2 === 0 ? 'tree' : 'main';
      const victim = world.agents[t % n]!;
      const other = world.agents[(t + 1) % n]!;
      victim.burst(3);
      other.burst(3);
      // several new files from the other side: the victim's work-tree update has work to do
      for (let k = 0; k < 3; k++) other.inst.write(`notes/k${t}-${k}.md`, `# note ${t}.${k}\n\n${randomBytes(24).toString('hex')}\n`);
      const o = await other.sync(['--wait', '60']);
      codeIs(v, o, [0], `trial ${t}: sync of ${other.name}`);
      if (o.code === 0) estimate = Math.round(0.7 * estimate + 0.3 * o.ms);
      const out = await syncKilled(victim, point, mode, world.rng, estimate);
      const s = stats.get(point) ?? { tried: 0, landed: 0 };
      s.tried++;
      if (out.landed) s.landed++;
      // a chosen point that did not fire is a hole in the suite, not luck: every trial is divergent (both wrote, the other pushed first)
      if (point !== 'random') v.expect(out.landed, `trial ${t}: the kill at failpoint ${point} (${mode}) did not land (exit ${out.killed ? 'SIGKILL' : 'without SIGKILL'}, after "git ${out.after}")`);
      stats.set(point, s);
      if (out.inCheckout) inCheckout++;
      if (mode === 'tree') trees++;
      const r = await victim.sync();
      const what = `trial ${t} (kill -9 ${mode} at ${point}, after "git ${out.after}")`;
      codeIs(v, r, [0], `${what}: the next run`);
      recovered(v, victim, what);
      v.expect(victim.head() === world.hubHead(), `${what}: ${victim.name} does not hold the hub's head after its recovery round`);
    }
    const pts = KILL_POINTS.filter((p) => stats.has(p))
      .map((p) => `${p} ${stats.get(p)!.landed}/${stats.get(p)!.tried}`)
      .join(', ');
    notes.push(`kills that landed (failpoint fired and the process died of SIGKILL there; random: before the round ended), by point: ${pts}; ${inCheckout} left the work-tree journal`);
    return {
      rounds: trials,
      killPoints: Object.fromEntries(KILL_POINTS.filter((p) => stats.has(p)).map((p) => [p, stats.get(p)!])),
      faults: `kill -9 ×${trials} (landed/tried: ${pts}); ${trees} of the process tree, ${trials - trees} of agentgit alone (at a failpoint: AGENTGIT_FAILPOINT=POINT:kill); ${inCheckout} inside the work-tree update`,
    };
  },
};

const down: ScenarioDef = {
  id: 'hub-down',
  title: 'hub down for a while (closed port)',
  // not a file hub: a hub path that is gone is a mistake (exit 1, issue #13),
  // and a stalled network filesystem is 'hub-hung'
  kinds: ['ssh', 'https'],
  async run({ world, v, notes }) {
    const up = await hubDown(world);
    let maxMs = 0;
    try {
      for (let r = 0; r < SCALE.hubDownRounds; r++) {
        for (const a of world.agents) a.burst(SCALE.burst);
        const outs = await world.syncAll(world.agents, ['--timeout', '30']);
        outs.forEach((o, i) => {
          const a = world.agents[i]!;
          maxMs = Math.max(maxMs, o.ms);
          if (codeIs(v, o, [75], `hub down, round ${r}: ${a.name}`)) {
            v.expect(/hub is unreachable/.test(o.stderr), () => `hub down: ${a.name} should say the hub is unreachable: ${tail(o)}`);
            v.expect(/local work is committed/.test(o.stderr), () => `hub down: ${a.name} should say its work is committed: ${tail(o)}`);
          }
          committed(v, a, `hub down, round ${r}`);
        });
      }
    } finally {
      await up();
    }
    notes.push(`slowest sync against the down hub: ${maxMs} ms`);
    return { rounds: SCALE.hubDownRounds, faults: `hub down for ${SCALE.hubDownRounds} round${SCALE.hubDownRounds === 1 ? '' : 's'} (${world.kind === 'file' ? 'path moved away' : 'server killed, port closed'}); every sync exited 75 in ≤ ${maxMs} ms` };
  },
};

async function hungRound(world: World, v: Violations, who: Agent[], label: string, extraEnv?: Record<string, string>): Promise<number> {
  const T = SCALE.hungTimeoutSec;
  for (const a of who) a.burst(2);
  const outs = await Promise.all(who.map((a) => a.sync(['--timeout', String(T), '--json'], { extraEnv, timeoutMs: (T + 60) * 1000 })));
  let max = 0;
  outs.forEach((o, i) => {
    const a = who[i]!;
    let rep: { durationMs?: number; error?: string } = {};
    try {
      rep = JSON.parse(o.stdout) as typeof rep;
    } catch {
      v.expect(false, `${label}: ${a.name} printed no JSON report: ${tail(o)}`);
    }
    max = Math.max(max, rep.durationMs ?? o.ms);
    if (codeIs(v, o, [75], `${label}: ${a.name}`)) v.expect(/did not answer in time|ran out of time/.test(rep.error ?? ''), () => `${label}: ${a.name}'s reason should be the deadline: ${rep.error}`);
    v.expect((rep.durationMs ?? 0) <= T * 1000 + 1000, `${label}: ${a.name}'s round took ${rep.durationMs} ms with --timeout ${T}`);
    v.expect(o.ms <= T * 1000 + 8000, `${label}: ${a.name}'s process took ${o.ms} ms with --timeout ${T}`);
    committed(v, a, label);
  });
  return max;
}

const hung: ScenarioDef = {
  id: 'hub-hung',
  title: 'hub hung (accepts and never answers): sync ends by its deadline',
  kinds: ['file', 'ssh', 'https'],
  async run({ world, kind, v, notes }) {
    const T = SCALE.hungTimeoutSec;
    const parts: string[] = [];
    // the hub's own server frozen (or, for a path, a filesystem that blocks)
    let maxMs: number;
    if (kind === 'file') {
      const restore = hangFileHub(world);
      try {
        maxMs = await hungRound(world, v, world.agents, 'hub hung');
      } finally {
        restore();
      }
      parts.push(`hub path blocks (HEAD and the branch ref are FIFOs nobody writes), --timeout ${T}: ${world.agents.length} syncs exited 75, longest round ${maxMs} ms`);
    } else {
      await world.hub.pause!();
      try {
        maxMs = await hungRound(world, v, world.agents, 'hub frozen');
      } finally {
        await world.hub.resume!();
      }
      parts.push(`hub server frozen (SIGSTOP), --timeout ${T}: ${world.agents.length} syncs exited 75, longest round ${maxMs} ms`);
      // a listener that accepts and never sends a byte
      const h = await startHungHub();
      const a = world.agents[0]!;
      const url = a.git(['remote', 'get-url', 'origin']).trim();
      a.git(['remote', 'set-url', 'origin', kind === 'ssh' ? h.sshUrl : h.httpsUrl]);
      try {
        const m = await hungRound(world, v, [a], 'silent listener', kind === 'ssh' ? h.sshClientEnv : undefined);
        v.expect(h.connectionCount() > 0, 'the silent listener was never contacted');
        parts.push(`TCP listener that accepts and never answers: exit 75, round ${m} ms`);
      } finally {
        a.git(['remote', 'set-url', 'origin', url]);
        await h.stop();
      }
    }
    notes.push(...parts);
    return { rounds: 1, faults: parts.join('; ') };
  },
};

const auth: ScenarioDef = {
  id: 'auth-refused',
  title: 'hub refuses our credentials: exit 1 with the reason, no prompt',
  kinds: ['ssh', 'https'],
  async run({ world, kind, v, notes }) {
    const a = world.agents[0]!;
    a.burst(3);
    const bad = kind === 'ssh' ? await (world.hub as SshHub).clientEnvWithUnknownKey() : await (world.hub as HttpsHub).clientEnvWithCredentials((world.hub as HttpsHub).user, 'wrong-password');
    const r = await a.sync([], { extraEnv: bad, timeoutMs: 60_000 });
    if (codeIs(v, r, [1], 'auth refused')) v.expect(/refused our credentials/.test(r.stderr), () => `auth refused: the reason should say so: ${tail(r)}`);
    v.expect(!/Username for|Password for|passphrase|\(yes\/no/i.test(r.stderr + r.stdout), () => `auth refused: something prompted: ${tail(r)}`);
    v.expect(r.ms < 30_000, `auth refused: took ${r.ms} ms`);
    committed(v, a, 'auth refused');
    notes.push(`stderr: ${r.stderr.trim().split('\n')[0]}`);
    return { rounds: 1, faults: `${kind === 'ssh' ? 'a deploy key the hub does not know' : 'a wrong password in the credential helper'}: exit ${r.code} in ${r.ms} ms` };
  },
};

const rejects: ScenarioDef = {
  id: 'hub-rejects',
  title: 'push rejected by a hook; hub disk full',
  kinds: ['file', 'ssh', 'https'],
  async run({ world, v, notes }) {
    const a = world.agents[0]!;
    const parts: string[] = [];
    const msg = 'agentgit-test: pushes are frozen by the operator';
    const unhook = installRejectHook(world, msg);
    try {
      a.burst(3);
      const r = await a.sync();
      if (codeIs(v, r, [1], 'push rejected by a pre-receive hook')) v.expect(r.stderr.includes(msg), () => `hook: the hook's message should reach the operator: ${tail(r)}`);
      committed(v, a, 'hook');
      parts.push(`pre-receive hook refuses: exit ${r.code}`);
    } finally {
      unhook();
    }
    const tm = canMountTmpfs();
    if (!tm.ok) {
      notes.push(`hub disk full not run: ${tm.reason}`);
      return { rounds: 1, faults: parts.join('; ') };
    }
    const repos = hubOnTmpfs(world, 64);
    const filler = fillDisk(repos, 16 * 1024);
    try {
      a.burst(3);
      // incompressible content: the push needs room on the hub
      a.inst.write('notes/photo-notes.md', `# scan\n\n${randomBytes(200_000).toString('base64')}\n`);
      const r = await a.sync();
      if (codeIs(v, r, [75, 1], 'hub disk full')) {
        // over https the client only sees the server's 5xx: agentgit says the hub failed on its side and to check its disk
        v.expect(/No space left|Out of diskspace|disk (is )?full|hub failed on its side .*disk space/i.test(r.stderr), () => `hub disk full: the reason should name the full disk: ${tail(r)}`);
      }
      committed(v, a, 'hub disk full');
      parts.push(`hub disk full (tmpfs): exit ${r.code}`);
      notes.push(`hub disk full: ${r.stderr.trim().split('\n')[0]}`);
      const hf = sh('git', ['--git-dir', world.hub.repoPath, 'fsck', '--no-progress', '--no-dangling'], { env: { PATH: process.env.PATH } });
      v.expect(hf.code === 0, () => `hub disk full: the hub's fsck fails: ${hf.stderr.slice(0, 300)}`);
    } finally {
      rmSync(filler, { force: true });
    }
    const after = await a.sync();
    codeIs(v, after, [0], 'the run after the hub got room again');
    return { rounds: 2, faults: parts.join('; ') };
  },
};

const partition: ScenarioDef = {
  id: 'partition',
  title: 'a group cut off from the hub for many rounds, then healed',
  kinds: ['file', 'ssh', 'https'],
  lacks: (kind) => partitionSupport(kind).reason ?? null,
  async run({ world, v }) {
    const n = world.agents.length;
    const g = n <= 3 ? Math.max(1, n - 1) : Math.floor(n / 2);
    const group = world.agents.slice(-g);
    const rest = world.agents.slice(0, -g);
    const wrap = cutOff(world);
    for (let r = 0; r < SCALE.partitionRounds; r++) {
      for (const a of world.agents) a.burst(SCALE.burst);
      const outs = await Promise.all([...rest.map((a) => a.sync(['--wait', '60'])), ...group.map((a) => a.sync(['--timeout', '30'], { wrapper: wrap }))]);
      outs.forEach((o, i) => {
        const a = [...rest, ...group][i]!;
        if (i < rest.length) codeIs(v, o, [0], `partition round ${r}: ${a.name} (connected)`);
        // a file hub whose path is hidden reads as a wrong path: exit 1 naming it (issue #13, as in 'hub-down'); a network cut is temporary
        else if (world.kind === 'file') {
          if (codeIs(v, o, [1], `partition round ${r}: ${a.name} (cut off)`)) v.expect(/is not a git repository/.test(o.stderr), () => `${a.name}: ${tail(o)}`);
        } else if (codeIs(v, o, [75], `partition round ${r}: ${a.name} (cut off)`)) v.expect(/hub is unreachable/.test(o.stderr), () => `${a.name}: ${tail(o)}`);
        committed(v, a, `partition round ${r}`);
      });
    }
    return {
      rounds: SCALE.partitionRounds,
      faults: `${group.map((a) => a.name).join(', ')} cut off (${world.kind === 'file' ? 'mount namespace hiding the hub path' : 'network namespace without a route to the hub'}) for ${SCALE.partitionRounds} rounds while ${rest.map((a) => a.name).join(', ')} went on; healed`,
    };
  },
};

/** The instance whose directory is on its own tmpfs (see World.create's tmpfs option). */
function tmpfsAgent(world: World): { agent: Agent; mnt: string } | null {
  for (const a of world.agents) {
    const m = world.mounts.find((x) => a.dir.startsWith(x + '/'));
    if (m) return { agent: a, mnt: m };
  }
  return null;
}

const localFull: ScenarioDef = {
  id: 'local-disk-full',
  title: "the instance's own disk full during sync",
  kinds: ['file', 'ssh', 'https'],
  lacks: () => canMountTmpfs().reason ?? null,
  async run({ world, v, notes }) {
    const t = tmpfsAgent(world);
    if (!t) throw new Error('this world has no instance on a tmpfs');
    const { agent: c, mnt } = t;
    const others = world.agents.filter((x) => x !== c);
    const seen: string[] = [];
    for (const leave of SCALE.diskFullLevels) {
      for (const o of others) o.burst(SCALE.burst);
      for (const o of others) codeIs(v, await o.sync(['--wait', '60']), [0], `disk full ${leave}: ${o.name}`);
      c.burst(SCALE.burst);
      const mine = world.rec.entries.filter((e) => e.by === c.name);
      const filler = fillDisk(mnt, leave);
      let r: RunOut;
      try {
        r = await c.sync(['--timeout', '60']);
        seen.push(`${leave} B free: exit ${r.code}`);
        if (codeIs(v, r, [0, 1, 75], `local disk full (${leave} bytes free)`) && r.code !== 0) {
          v.expect(/No space left|ENOSPC|Out of diskspace|disk (is )?full/i.test(r.stderr), () => `local disk full (${leave} B): the reason should name the full disk: ${tail(r)}`);
        }
        v.expect(!/\n\s+at .+:\d+:\d+\)?\n/.test(r.stderr), () => `local disk full (${leave} B): a stack trace instead of a message: ${tail(r)}`);
        // nothing of the agent's is damaged: its entries and JSON are all still in its files
        for (const e of mine) {
          const text = existsSync(c.path(e.file)) ? readFileSync(c.path(e.file), 'utf8') : '';
          if (!v.expect(text.includes(e.line + '\n'), `local disk full (${leave} B): ${c.name}'s entry ${e.token} is gone from ${e.file}`)) break;
        }
        for (const f of ['state.json']) {
          let ok = true;
          try {
            JSON.parse(readFileSync(c.path(f), 'utf8'));
          } catch {
            ok = false;
          }
          v.expect(ok, `local disk full (${leave} B): ${f} on ${c.name} is no longer valid JSON`);
        }
      } finally {
        rmSync(filler, { force: true });
      }
      const next = await c.sync();
      codeIs(v, next, [0], `the run after the disk got room again (${leave} B)`);
      recovered(v, c, `after disk full (${leave} B)`);
    }
    notes.push(`sync on a full disk: ${seen.join(', ')}`);
    return { rounds: SCALE.diskFullLevels.length, faults: `${c.name}'s disk (a tmpfs) filled to ${SCALE.diskFullLevels.map((l) => `${l} B`).join(', ')} free during its sync (${seen.join('; ')}); then freed` };
  },
};

const skew: ScenarioDef = {
  id: 'clock-skew',
  title: 'clocks hours apart: converge, last writer by logical clock',
  kinds: ['file', 'ssh', 'https'],
  lacks: () => (faketimeLib() ? null : 'libfaketime is not installed (apt-get install faketime; .ci/install-deps.sh installs it)'),
  async run({ world, v, notes }) {
    const offsets = ['+5h', '-3h', '+0', '+26h'];
    const saved = world.agents.map((a) => ({ ...a.env }));
    world.agents.forEach((a, i) => Object.assign(a.env, skewEnv(offsets[i % offsets.length]!)));
    try {
      const [fast, slow] = [world.agents[0]!, world.agents[1]!];
      // the fake clocks are in effect: fast's commits are dated hours ahead
      fast.burst(2);
      codeIs(v, await fast.sync(['--wait', '60']), [0], 'skewed sync');
      const ct = Number(fast.git(['log', '-1', '--format=%ct']).trim());
      v.expect(ct * 1000 - Date.now() > 4 * 3600_000, `libfaketime had no effect: ${fast.name}'s commit is dated ${new Date(ct * 1000).toISOString()}`);
      // a causal chain across the skewed instances: each writes after it has seen the previous write;
      // the last writer is the instance whose clock is hours behind the others
      for (const a of [...world.agents.filter((x) => x !== slow), slow]) {
        codeIs(v, await a.sync(['--wait', '60']), [0], `chain: ${a.name} syncs`);
        a.setShared('chain');
        a.burst(2);
        codeIs(v, await a.sync(['--wait', '60']), [0], `chain: ${a.name} pushes`);
      }
      for (let r = 0; r < SCALE.skewRounds; r++) {
        for (const a of world.agents) a.burst(SCALE.burst);
        const outs = await world.syncAll();
        outs.forEach((o, i) => codeIs(v, o, [0], `skewed round ${r}: ${world.agents[i]!.name}`));
      }
      // a race: fast (+5h) writes first, slow (-3h) writes later in real time, neither has seen the other
      fast.setShared('race');
      const fastValue = world.rec.writes[world.rec.writes.length - 1]!.value;
      await new Promise((res) => setTimeout(res, 50));
      slow.setShared('race');
      const slowValue = world.rec.writes[world.rec.writes.length - 1]!.value;
      codeIs(v, await fast.sync(['--wait', '60']), [0], 'race: fast');
      codeIs(v, await slow.sync(['--wait', '60']), [0], 'race: slow');
      const conv = await world.converge();
      v.expect(conv.ok, () => `skewed instances did not converge: ${conv.problems.join('; ')}`);
      const state = JSON.parse(fast.read('state.json')) as { shared: Record<string, string> };
      const last = world.rec.writes.filter((w) => w.key === '/shared/chain').pop();
      v.expect(state.shared.chain === last?.value, `causal chain: /shared/chain is ${state.shared.chain}, the last write (by ${last?.by}, causally after all others) was ${String(last?.value)}`);
      v.expect(state.shared.race === fastValue, `race: /shared/race is ${state.shared.race}; the write with the later logical clock (${fast.name}, +5h) was ${String(fastValue)}`);
      const recs = readFileSync(fast.path('.agentgit/conflicts.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { key: string; winner: { value: string; clock: string }; loser: { value: string; clock: string } });
      const race = recs.find((x) => x.key === '/shared/race');
      v.expect(race?.loser.value === JSON.stringify(slowValue), `race: the conflict record should keep ${slow.name}'s losing write ${String(slowValue)}: ${JSON.stringify(race)}`);
      notes.push(`race record: winner ${race?.winner.clock} over loser ${race?.loser.clock}`);
    } finally {
      world.agents.forEach((a, i) => {
        for (const k of Object.keys(a.env)) if (!(k in saved[i]!)) delete a.env[k];
        Object.assign(a.env, saved[i]);
      });
    }
    return {
      rounds: SCALE.skewRounds + 3,
      faults: `clocks ${world.agents.map((a, i) => `${a.name} ${offsets[i % offsets.length]}`).join(', ')} (libfaketime: node and git); a causal chain of writes across them and a concurrent race`,
    };
  },
};

const busy: ScenarioDef = {
  id: 'busy-agent',
  title: 'an agent writing its logs and JSON continuously while sync runs',
  kinds: ['file', 'ssh', 'https'],
  async run({ world, v, notes }) {
    const a = world.agents[0]!;
    const others = world.agents.slice(1);
    let n = 0;
    const ops = [() => a.entry(), () => a.event(), () => a.setOwn(`busy-${a.name}.json`)];
    const writer = setInterval(() => ops[n++ % ops.length]!(), 10);
    try {
      for (let r = 0; r < SCALE.busyRounds; r++) {
        for (const o of others) o.burst(SCALE.burst);
        const outs = await Promise.all([a.sync(['--wait', '60']), ...others.map((o) => o.sync(['--wait', '60']))]);
        outs.forEach((o, i) => codeIs(v, o, [0], `busy round ${r}: ${[a, ...others][i]!.name}`));
      }
    } finally {
      clearInterval(writer);
    }
    notes.push(`${n} writes by ${a.name} during ${SCALE.busyRounds} rounds`);
    return { rounds: SCALE.busyRounds, faults: `${a.name} wrote every 10 ms during its syncs (${n} writes) while the others merged into the same log` };
  },
};

export const SCENARIOS: ScenarioDef[] = [concurrent, twoSyncs, kill, down, hung, auth, rejects, partition, localFull, skew, busy];

export function pick(...ids: string[]): ScenarioDef[] {
  return ids.map((id) => {
    const d = SCENARIOS.find((s) => s.id === id);
    if (!d) throw new Error(`no scenario ${id}`);
    return d;
  });
}

// ------------------------------------------------------------------ running one

export interface RunResult extends ScenarioResult {
  violations: string[];
}

export async function runScenario(world: World, def: ScenarioDef, o: { check: boolean } = { check: true }): Promise<RunResult> {
  const kind = world.kind;
  const v = new Violations();
  const notes: string[] = [];
  world.rec.scenario = def.id;
  const syncs0 = world.syncs;
  const codes0 = new Map(world.exitCodes);
  const t0 = performance.now();
  let out: Outcome = { rounds: 0, faults: '' };
  try {
    out = await def.run({ world, kind, v, notes });
  } catch (e) {
    v.list.push(`the scenario threw: ${(e as Error).stack ?? String(e)}`);
  }
  let chk: CheckResult | null = null;
  if (o.check) {
    try {
      chk = await check(world);
    } catch (e) {
      v.list.push(`the checker threw: ${(e as Error).stack ?? String(e)}`);
    }
  }
  const codes: Record<string, number> = {};
  for (const [c, n] of world.exitCodes) {
    const d = n - (codes0.get(c) ?? 0);
    if (d > 0) codes[String(c)] = d;
  }
  const res: RunResult = {
    scenario: def.id,
    title: def.title,
    hub: kind,
    engine: world.engine,
    mode: SCALE.mode,
    instances: world.agents.length,
    rounds: out.rounds,
    writes: world.rec.countFor(def.id),
    faults: out.faults,
    syncs: world.syncs - syncs0,
    exitCodes: codes,
    check: chk,
    ok: v.list.length === 0 && (!o.check || !!chk?.ok),
    ms: Math.round(performance.now() - t0),
    seed: world.seed,
    notes,
    violations: v.list,
    ...(out.killPoints ? { killPoints: out.killPoints } : {}),
  };
  record(res);
  console.log(`[reliability] ${kind} ${world.engine} ${def.id}: ${res.ok ? 'ok' : 'FAILED'} in ${res.ms} ms, ${res.syncs} syncs; ${out.faults}; ${chk ? summary(chk) : 'no check'}${notes.length ? `\n  notes:\n  - ${notes.join('\n  - ')}` : ''}${v.list.length ? `\n  violations:\n  - ${v.list.slice(0, 12).join('\n  - ')}` : ''}${chk && chk.problems.length ? `\n  checker:\n  - ${chk.problems.slice(0, 12).join('\n  - ')}` : ''}`);
  return res;
}

export function recordSkip(kind: HubKind, engine: Engine, def: ScenarioDef, reason: string): void {
  record({
    scenario: def.id,
    title: def.title,
    hub: kind,
    engine,
    mode: SCALE.mode,
    instances: 0,
    rounds: 0,
    writes: { entries: 0, jsonWrites: 0, items: 0 },
    faults: '',
    syncs: 0,
    exitCodes: {},
    check: null,
    ok: true,
    ms: 0,
    seed: 0,
    notes: [],
    skipped: reason,
  });
}
