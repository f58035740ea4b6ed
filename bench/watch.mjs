/**
 * Watch mode (issue #14): `agentgit watch` beside the floor and git-sync, on
 * one hub, paired in one run (`BENCH_ONLY=watch npm run bench`, or `npm run
 * bench:watch`).
 *
 *   no-op poll   the watcher's poll of an idle hub (`[trace poll …]`, timed
 *                inside the watcher) against the floor, `git ls-remote` of
 *                the same branch, over a ControlMaster connection on ssh;
 *                per repetition the median of 5 polls over the median of 5
 *                floor runs
 *   small round  10 files written into a watching instance: the round's
 *                `watchMs` (from the decision to run, the watcher's own
 *                `git status` included, to the end) against git-sync's small
 *                round on the same edits, in random order per repetition; and
 *                the floor of any small round: `git push` of the same edits
 *                from a plain clone (committed untimed; on ssh over an open
 *                connection, as the watcher's)
 *   propagation  two watchers (`--debounce 500 --poll 1`): an entry appended
 *                on one, until it is in the other's file (read every 5 ms);
 *                alternating direction, a random phase before each write
 *   idle CPU     user+system time of an idle watcher with `--poll 1` (its
 *                git children included) over a window, from /proc
 *   memory       a watcher running rounds back to back (`--interval 0.001`):
 *                VmRSS every 500 rounds up to BENCH_WATCH_ROUNDS (default
 *                10,000); file hub only unless BENCH_WATCH_MEMORY_HUBS says
 */
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { applyEdits, smallRoundFiles } from './lib/workspace.mjs';
import { BIN, git, median, NODE, quantile, run, shuffled, sleep, summary } from './lib/util.mjs';
import { setupVariant } from './suites/rounds.mjs';

const CLK_TCK = 100; // Linux USER_HZ

/** Call `f` with each complete line of a stream. */
function eachLine(stream, f) {
  let rest = '';
  stream.on('data', (d) => {
    rest += d.toString();
    let i;
    while ((i = rest.indexOf('\n')) >= 0) {
      f(rest.slice(0, i));
      rest = rest.slice(i + 1);
    }
  });
}

/** A running `agentgit watch --json` with its rounds (JSON lines) and poll trace lines counted as they come. */
function startWatcher(agent, args, { trace = true } = {}) {
  const child = spawn(NODE, [BIN, 'watch', '-C', agent.dir, '--json', ...args], { cwd: agent.dir, env: { ...agent.env, ...(trace ? { AGENTGIT_TRACE: '1' } : {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const w = { child, rounds: [], roundCount: 0, polls: [], errLines: [], keepRounds: trace };
  eachLine(child.stdout, (line) => {
    if (!line.startsWith('{')) return;
    w.roundCount++;
    if (w.keepRounds) {
      const r = JSON.parse(line);
      w.rounds.push({ trigger: r.trigger, exitCode: r.exitCode, watchMs: r.watchMs, durationMs: r.durationMs, committed: r.committed, at: performance.now() });
    }
  });
  eachLine(child.stderr, (line) => {
    const m = /^\[trace poll (\S+) (\d+)us\]$/.exec(line);
    if (m) {
      if (w.polls.length < 100_000) w.polls.push({ how: m[1], us: Number(m[2]) });
    } else if (!line.startsWith('[trace') && w.errLines.length < 200) w.errLines.push(line);
  });
  w.exited = new Promise((r) => child.on('close', (code) => r(code)));
  w.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return w.exited;
  };
  return w;
}

async function until(what, cond, boundMs = 120_000) {
  const end = performance.now() + boundMs;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`bench watch: timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Until the watchers ran no round for `quietMs`. */
async function idle(ws, quietMs = 2500) {
  let last = -1;
  let since = performance.now();
  await until('idle watchers', () => {
    const n = ws.reduce((k, w) => k + w.roundCount, 0);
    if (n !== last) {
      last = n;
      since = performance.now();
    }
    return performance.now() - since >= quietMs;
  }, 300_000);
}

/** utime+stime+cutime+cstime of a process, in seconds. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** The floor's environment: on ssh, the hub's ssh command with a ControlMaster of its own. */
function floorEnv(F, hub, base) {
  if (hub.kind !== 'ssh') return F.env;
  const cp = join(base, `floor-${process.pid}-%C`);
  return { ...F.env, GIT_SSH_COMMAND: `${F.env.GIT_SSH_COMMAND} -o ControlMaster=auto -o ControlPath=${cp} -o ControlPersist=120` };
}

export async function watchSuite({ hub, base, days, gitSyncPath, cfg, log }) {
  const v = await setupVariant({ hub, base, variant: 'watch', days, scale: false, gitSyncPath });
  const { A, B, F, G, P, layout } = v;
  const out = { hub: hub.kind, files: layout.files };
  const args = ['--debounce', '500', '--poll', '1'];
  let wa = startWatcher(A, args);
  let wb = startWatcher(B, args);
  try {
    await until('start rounds', () => wa.roundCount > 0 && wb.roundCount > 0);
    await idle([wa, wb]);

    // no-op poll vs the floor
    const fenv = floorEnv(F, hub, base);
    const floorOnce = () => run('git', ['ls-remote', 'origin', 'refs/heads/main'], { cwd: F.dir, env: fenv, ok: true });
    await floorOnce(); // opens the floor's master on ssh
    const noop = [];
    for (let i = 0; i < cfg.noopReps; i++) {
      const from = wa.polls.length;
      await until('5 polls', () => wa.polls.length >= from + 5, 60_000);
      const polls = wa.polls.slice(from, from + 5);
      const floors = [];
      for (let k = 0; k < 5; k++) floors.push((await floorOnce()).ms);
      const pollMs = median(polls.map((p) => p.us / 1000));
      noop.push({ pollMs, floorMs: median(floors), ratio: pollMs / median(floors), how: polls[0].how });
    }
    out.noop = { reps: noop.length, how: [...new Set(noop.map((n) => n.how))], pollMs: summary(noop.map((n) => n.pollMs)), floorMs: summary(noop.map((n) => n.floorMs)), ratio: summary(noop.map((n) => n.ratio)) };
    log(`${hub.kind} watch no-op: poll ${out.noop.pollMs.median.toFixed(2)} ms (${out.noop.how}), floor ${out.noop.floorMs.median.toFixed(1)} ms, ratio ${out.noop.ratio.median.toFixed(3)}`);

    // small round vs git-sync's small round
    const small = [];
    const files = smallRoundFiles(layout);
    for (let i = 0; i < cfg.smallReps; i++) {
      const round = 50_000 + i;
      const rep = {};
      for (const who of shuffled(['agentgit', 'push', ...(G ? ['gitsync'] : [])])) {
        if (who === 'push') {
          // the floor of any small round: git's own push of the same edits, committed untimed
          // (plain clone P on its own hub repo; on ssh over an open connection, as the watcher's)
          applyEdits(P.dir, files, 'local', round);
          await run('sh', ['-c', 'git add -A && git commit -q -m "small round"'], { cwd: P.dir, env: P.env, ok: true });
          const r = await run('git', ['push', '-q', 'origin', 'HEAD:refs/heads/main'], { cwd: P.dir, env: floorEnv(P, hub, base), ok: true });
          rep.push = r.ms;
        } else if (who === 'gitsync') {
          applyEdits(G.dir, files, 'local', round);
          const r = await G.round();
          rep.gitsync = r.code === 0 ? r.ms : NaN;
        } else {
          const from = wa.rounds.length;
          applyEdits(A.dir, files, 'local', round);
          await until('small round', () => wa.rounds.slice(from).some((r) => r.committed > 0));
          const r = wa.rounds.slice(from).find((x) => x.committed > 0);
          rep.agentgit = r.exitCode === 0 ? r.watchMs : NaN;
          rep.agentgitRound = r.durationMs;
          await idle([wa, wb], 1500); // b takes it before the next timing
        }
      }
      small.push(rep);
    }
    out.small = { reps: small.length, agentgit: summary(small.map((s) => s.agentgit)), agentgitRound: summary(small.map((s) => s.agentgitRound)), gitsync: summary(small.map((s) => s.gitsync)), ratio: summary(small.map((s) => s.agentgit / s.gitsync)), push: summary(small.map((s) => s.push)), pushRatio: summary(small.map((s) => s.push / s.gitsync)) };
    log(`${hub.kind} watch small: ${out.small.agentgit.median} ms, git-sync ${out.small.gitsync.median?.toFixed(0)} ms, ratio ${out.small.ratio.median?.toFixed(2)}; git push alone ${out.small.push.median?.toFixed(0)} ms (${out.small.pushRatio.median?.toFixed(2)}x git-sync's round)`);

    // propagation between the two watchers
    await idle([wa, wb]);
    const lat = [];
    const file = layout.logs[layout.logs.length - 1];
    for (let i = 0; i < cfg.propSamples; i++) {
      const [from, to, wf, wt] = i % 2 === 0 ? [A, B, wa, wb] : [B, A, wb, wa];
      await sleep(Math.floor(Math.random() * 1000)); // a random phase against the poll
      const line = `- propagation ${hub.kind} ${i} ${process.pid}`;
      const f0 = wf.roundCount;
      const t0 = wt.roundCount;
      const t = performance.now();
      appendFileSync(join(from.dir, file), `${line}\n`);
      await until('propagation', () => readFileSync(join(to.dir, file), 'utf8').includes(line), 60_000);
      lat.push(performance.now() - t);
      await until('both rounds reported', () => wf.roundCount > f0 && wt.roundCount > t0, 60_000);
    }
    out.propagation = { n: lat.length, p50: quantile(lat, 0.5), p90: quantile(lat, 0.9), p99: quantile(lat, 0.99), max: Math.max(...lat), samples: lat.map((x) => Math.round(x)) };
    log(`${hub.kind} watch propagation: p50 ${out.propagation.p50.toFixed(0)} ms, p99 ${out.propagation.p99.toFixed(0)} ms (n ${lat.length})`);

    // idle CPU
    await idle([wa, wb]);
    const c0 = cpuSeconds(wa.child.pid);
    const p0 = wa.polls.length;
    const r0 = wa.roundCount;
    const t0 = performance.now();
    await sleep(cfg.idleSec * 1000);
    const secs = (performance.now() - t0) / 1000;
    out.idle = { windowSec: Math.round(secs), cpuPct: ((cpuSeconds(wa.child.pid) - c0) / secs) * 100, polls: wa.polls.length - p0, rounds: wa.roundCount - r0, rssKiB: rssKiB(wa.child.pid) };
    log(`${hub.kind} watch idle: ${out.idle.cpuPct.toFixed(2)}% of a core over ${out.idle.windowSec} s (${out.idle.polls} polls, ${out.idle.rounds} rounds)`);
  } finally {
    await wa.stop();
    await wb.stop();
  }

  // memory over many rounds
  if (cfg.memoryHubs.includes(hub.kind) && cfg.memoryRounds > 0) {
    const wm = startWatcher(A, ['--debounce', '500', '--poll', '3600', '--interval', '0.001', '--quiet'], { trace: false });
    try {
      const samples = [];
      const t0 = performance.now();
      for (let n = 500; n <= cfg.memoryRounds; n += 500) {
        await until(`${n} rounds`, () => wm.roundCount >= n || wm.child.exitCode !== null, 3_600_000);
        if (wm.child.exitCode !== null) throw new Error(`watcher exited: ${wm.errLines.join(' | ')}`);
        samples.push([wm.roundCount, rssKiB(wm.child.pid)]);
      }
      const at = (k) => samples.find(([n]) => n >= k)?.[1] ?? null;
      const tail = samples.filter(([n]) => n >= cfg.memoryRounds / 2).map(([, r]) => r);
      out.memory = { rounds: wm.roundCount, minutes: (performance.now() - t0) / 60_000, samples, rssAt1000: at(1000), rssEnd: samples[samples.length - 1][1], secondHalfMax: Math.max(...tail), secondHalfMin: Math.min(...tail) };
      log(`${hub.kind} watch memory: RSS ${out.memory.rssAt1000} KiB at 1,000 rounds, ${out.memory.rssEnd} KiB at ${out.memory.rounds}`);
    } finally {
      await wm.stop();
    }
  }
  await git(A.dir, ['status', '--porcelain'], A.env); // the instance is still a sane repo
  return out;
}
