/**
 * Sync rounds (issue #7): no-op, small and divergent rounds of agentgit beside
 * plain git, git-sync, the floor and `node -e 0`, over one hub.
 *
 * Pairing: each repetition prepares the same state for every contender
 * (untimed), then times them one after the other in a fresh random order, so
 * a burst of load on this shared machine hits one repetition of all of them
 * rather than one contender. Figures are medians over repetitions; ratios are
 * medians of the per-repetition ratios.
 *
 * Round trips: on the ssh hub, sshd's log counts the connections each timed
 * command opened; on every hub, AGENTGIT_TRACE=1 counts agentgit's fetches and
 * pushes.
 *
 * IsoGit (issue #16): over the file hub, a third pair of agentgit instances
 * (I measured, J the other) runs with AGENTGIT_ENGINE=isomorphic-git on its own
 * hub repo, prepared like A and B and timed in the same shuffled set, as
 * `isogit`; its ratio is to agentgit on the git engine (`ratios.isogit`).
 * BENCH_ISOGIT=0 leaves it out. The other contenders' rows are unchanged.
 */
import { join } from 'node:path';
import { Agent, GitSync, Plain, PLAIN_ROUND, quiesce } from '../lib/contenders.mjs';
import { applyEdits, generateWorkspace, pickFiles, smallRoundFiles } from '../lib/workspace.mjs';
import { BIN, log, NODE, run, shuffled, summary } from '../lib/util.mjs';

let editRound = 1000;

/** Peak RSS (KiB) of a command and its children, from /usr/bin/time (GNU time). */
async function peakRss(cmd, args, opts) {
  const r = await run('/usr/bin/time', ['-f', 'BENCH_MAXRSS=%M', cmd, ...args], opts);
  const m = /BENCH_MAXRSS=(\d+)/.exec(r.stderr);
  return { kib: m ? Number(m[1]) : null, code: r.code };
}

/**
 * One set of instances on `hub` for a workspace variant: agentgit A (measured)
 * and B (the other instance), plain P and Q, git-sync G and H (when found),
 * and F, a plain clone of agentgit's hub repo for the floor.
 */
export async function setupVariant({ hub, base, variant, days, scale, gitSyncPath }) {
  const t0 = Date.now();
  const dir = join(base, `${hub.kind}-${variant}`);
  const env = hub.clientEnv;
  let layout;
  const populate = (d) => {
    layout = generateWorkspace(d, { days, scale });
  };
  const agentRepo = await hub.createRepo(`${variant}-agent.git`);
  const hubRepos = [agentRepo.repoPath];
  const plainRepo = await hub.createRepo(`${variant}-plain.git`);
  hubRepos.push(plainRepo.repoPath);
  const agents = (async () => {
    const A = await Agent.found(agentRepo.url, env, dir, 'a', populate);
    const B = await Agent.join(agentRepo.url, env, dir, 'b', A);
    const s = await A.sync(); // picks up the trust commit of B's admission
    if (s.code !== 0) throw new Error(`sync of a failed: ${s.stderr}`);
    return [A, B, await Plain.join(agentRepo.url, env, dir, 'f')];
  })();
  const plains = (async () => {
    const P = await Plain.found(plainRepo.url, env, dir, 'p', populate);
    return [P, await Plain.join(plainRepo.url, env, dir, 'q')];
  })();
  // the isomorphic-git engine has no ssh transport: its pair exists on the file hub only
  const isoRepo = hub.kind === 'file' && process.env.BENCH_ISOGIT !== '0' ? await hub.createRepo(`${variant}-isogit.git`) : null;
  const isos = (async () => {
    if (!isoRepo) return [null, null];
    const isoEnv = { ...env, AGENTGIT_ENGINE: 'isomorphic-git' };
    const I = await Agent.found(isoRepo.url, isoEnv, dir, 'i', populate);
    const J = await Agent.join(isoRepo.url, isoEnv, dir, 'j', I);
    const s = await I.sync();
    if (s.code !== 0) throw new Error(`sync of i (isomorphic-git) failed: ${s.stderr}`);
    return [I, J];
  })();
  const [[A, B, F], [P, Q], [I, J]] = await Promise.all([agents, plains, isos]);
  if (isoRepo) hubRepos.push(isoRepo.repoPath);
  let G = null;
  let H = null;
  if (gitSyncPath) {
    const gsRepo = await hub.createRepo(`${variant}-gitsync.git`);
    G = await GitSync.setup(await Plain.found(gsRepo.url, env, dir, 'g', populate), gitSyncPath);
    H = await GitSync.setup(await Plain.join(gsRepo.url, env, dir, 'h'), gitSyncPath);
    hubRepos.push(gsRepo.repoPath);
  }
  await quiesce([...[A, B, P, Q, F, G, H, I, J].filter(Boolean).map((c) => c.dir), ...hubRepos], A.env);
  log(`${hub.kind}/${variant}: ${layout.files} files, instances ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { hub, variant, layout, A, B, P, Q, F, G, H, I, J };
}

/** Time each contender once, in random order; ssh connection counts around each. */
async function timedSet(hub, entries) {
  const out = {};
  for (const [key, fn] of shuffled(Object.entries(entries))) {
    const c0 = hub.connectionCount ? hub.connectionCount() : null;
    const r = await fn();
    const c1 = hub.connectionCount ? hub.connectionCount() : null;
    out[key] = {
      ms: r.ms,
      code: r.code,
      conns: c0 === null ? null : c1 - c0,
      ...(r.trace ? { gitCalls: r.trace.gitCalls, gitMs: r.trace.gitMs, fetches: r.trace.fetches, pushes: r.trace.pushes, branchPushes: r.trace.branchPushes } : {}),
      ...(r.code !== 0 ? { error: (r.stderr || r.stdout).split('\n').filter((l) => l && !l.startsWith('[trace')).slice(-3).join(' | ') } : {}),
    };
    if (key === 'agentgit' && r.trace) out[key].calls = r.trace.calls.map((c) => `+${c.at} ${c.ms}ms ${c.args.slice(0, 60)}`);
  }
  return out;
}

/** `node -e 0` in the instances' environment: the bench's own may make every Node start slower (startup.mjs). */
const nodeZero = (env) => () => run(NODE, ['-e', '0'], { env });

/**
 * Workloads. `prep` brings every contender to the state before the round
 * (untimed); `timed` says what is timed.
 */
function workloads(v, reps) {
  const { A, B, P, Q, F, G, H, I, J, layout } = v;
  const withGs = (o) => ({ ...o, ...(G ? { gitsync: () => G.round() } : {}), ...(I ? { isogit: () => I.sync() } : {}) });
  const catchUp = async () => {
    // the other instance takes the measured one's last push first (untimed)
    const ops = [B.sync(), Q.round(), ...(H ? [H.round()] : []), ...(J ? [J.sync()] : [])];
    for (const r of await Promise.all(ops)) if (r.code !== 0) throw new Error(`catch-up failed: ${r.stderr}`);
  };
  const divergent = (n) => ({
    id: `div${n}`,
    title: `Divergent round, ${n.toLocaleString('en')} file${n === 1 ? '' : 's'} changed on both sides`,
    reps: reps[`div${n}`],
    async prep() {
      await catchUp();
      const files = pickFiles(layout, n);
      const round = ++editRound;
      applyEdits(B.dir, files, 'b', round);
      applyEdits(Q.dir, files, 'b', round);
      if (H) applyEdits(H.dir, files, 'b', round);
      if (J) applyEdits(J.dir, files, 'b', round);
      const ops = [B.sync(), Q.round(), ...(H ? [H.round()] : []), ...(J ? [J.sync()] : [])];
      for (const r of await Promise.all(ops)) if (r.code !== 0) throw new Error(`other side's round failed: ${r.stderr}`);
      applyEdits(A.dir, files, 'a', round);
      applyEdits(P.dir, files, 'a', round);
      if (G) applyEdits(G.dir, files, 'a', round);
      if (I) applyEdits(I.dir, files, 'a', round);
    },
    timed: withGs({ agentgit: () => A.sync(), plain: () => P.round() }),
  });
  const list = [
    {
      id: 'noop',
      title: 'No-op round (steady state: heartbeat not due)',
      reps: reps.noop,
      async prep() {
        A.setHeartbeat(false);
        I?.setHeartbeat(false);
      },
      // ssh: the same round with no master left by an earlier one (each round logs in), beside the default
      timed: withGs({ agentgit: () => A.sync(), plain: () => P.round(), floor: () => F.floor(), node: nodeZero(A.env), ...(v.hub.kind === 'ssh' ? { agentgitCold: () => A.sync(['--quiet'], { AGENTGIT_SSH_PERSIST: '0' }) } : {}) }),
    },
    {
      id: 'small',
      title: 'Small round: 10 files changed locally, hub unchanged',
      reps: reps.small,
      async prep() {
        const files = smallRoundFiles(layout);
        const round = ++editRound;
        applyEdits(A.dir, files, 'local', round);
        applyEdits(P.dir, files, 'local', round);
        if (G) applyEdits(G.dir, files, 'local', round);
        if (I) applyEdits(I.dir, files, 'local', round);
      },
      timed: withGs({ agentgit: () => A.sync(), plain: () => P.round() }),
    },
  ];
  for (const n of [1, 100, 1000]) if (reps[`div${n}`]) list.push(divergent(n));
  return list.filter((w) => w.reps > 0);
}

/** Run the workloads of one variant; returns per-workload raw samples and summaries. */
export async function runVariant(v, reps) {
  const results = [];
  for (const w of workloads(v, reps)) {
    const t0 = Date.now();
    const samples = [];
    for (let i = 0; i < w.reps; i++) {
      await w.prep();
      samples.push(await timedSet(v.hub, w.timed));
    }
    // one more repetition for peak memory (GNU time around the same commands; not timed)
    const memory = {};
    await w.prep();
    const agentRss = await peakRss(NODE, [BIN, 'sync', '-C', v.A.dir, '--quiet'], { cwd: v.A.dir, env: v.A.env });
    memory.agentgit = agentRss.kib;
    const plainRss = await peakRss('sh', ['-c', PLAIN_ROUND], { cwd: v.P.dir, env: v.P.env });
    memory.plain = plainRss.kib;
    if (v.G) await v.G.round();
    const r = summarise(w, samples, memory);
    results.push(r);
    log(`${v.hub.kind}/${v.variant} ${w.id}: agentgit ${fmt(r.stats.agentgit?.median)} ms, plain ${fmt(r.stats.plain?.median)} ms, ratio ${r.ratios.plain?.median?.toFixed(2)} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  return results;
}

const fmt = (x) => (x === null || x === undefined ? '-' : x.toFixed(0));

function summarise(w, samples, memory) {
  const keys = Object.keys(samples[0] ?? {});
  const stats = {};
  for (const k of keys) stats[k] = summary(samples.map((s) => (s[k].code === 0 ? s[k].ms : NaN)));
  const ratio = (f) => summary(samples.map(f).filter((x) => Number.isFinite(x)));
  const ok = (s, k) => s[k] && s[k].code === 0;
  const ratios = {
    plain: ratio((s) => (ok(s, 'agentgit') && ok(s, 'plain') ? s.agentgit.ms / s.plain.ms : NaN)),
  };
  if (keys.includes('gitsync')) ratios.gitsync = ratio((s) => (ok(s, 'agentgit') && ok(s, 'gitsync') ? s.agentgit.ms / s.gitsync.ms : NaN));
  if (keys.includes('gitsync') && keys.includes('agentgitCold')) ratios.coldGitsync = ratio((s) => (ok(s, 'agentgitCold') && ok(s, 'gitsync') ? s.agentgitCold.ms / s.gitsync.ms : NaN));
  // IsoGit's round over the git engine's round (same workload, same repetition)
  if (keys.includes('isogit')) {
    ratios.isogit = ratio((s) => (ok(s, 'agentgit') && ok(s, 'isogit') ? s.isogit.ms / s.agentgit.ms : NaN));
    ratios.isogitPlain = ratio((s) => (ok(s, 'isogit') && ok(s, 'plain') ? s.isogit.ms / s.plain.ms : NaN));
  }
  if (keys.includes('floor') && keys.includes('node')) {
    ratios.floorNode = ratio((s) => (ok(s, 'agentgit') && ok(s, 'floor') && ok(s, 'node') ? s.agentgit.ms / (s.floor.ms + s.node.ms) : NaN));
    stats.floorNode = summary(samples.map((s) => s.floor.ms + s.node.ms));
  }
  const field = (k, f) => summary(samples.map((s) => (s[k] && s[k][f] !== null && s[k][f] !== undefined ? s[k][f] : NaN)));
  const roundTrips = {
    agentgitConns: field('agentgit', 'conns'),
    plainConns: field('plain', 'conns'),
    agentgitFetches: field('agentgit', 'fetches'),
    agentgitPushes: field('agentgit', 'pushes'),
    agentgitGitCalls: field('agentgit', 'gitCalls'),
    agentgitGitMs: field('agentgit', 'gitMs'),
    connsSeen: [...new Set(samples.map((s) => s.agentgit?.conns).filter((x) => x !== null && x !== undefined))],
    fetchesSeen: [...new Set(samples.map((s) => s.agentgit?.fetches))],
    pushesSeen: [...new Set(samples.map((s) => s.agentgit?.pushes))],
  };
  const failures = [];
  for (const [i, s] of samples.entries()) for (const [k, r] of Object.entries(s)) if (r.code !== 0) failures.push(`rep ${i + 1} ${k}: exit ${r.code}: ${r.error ?? ''}`);
  // the git calls of the repetition closest to the median, for the hotspot notes
  const med = stats.agentgit?.median;
  const closest = samples.filter((s) => s.agentgit?.calls).sort((a, b) => Math.abs(a.agentgit.ms - med) - Math.abs(b.agentgit.ms - med))[0];
  return { id: w.id, title: w.title, reps: samples.length, stats, ratios, roundTrips, memory, failures, medianCalls: closest?.agentgit.calls ?? [], samples: samples.map((s) => Object.fromEntries(Object.entries(s).map(([k, r]) => [k, Math.round(r.ms * 10) / 10]))) };
}
