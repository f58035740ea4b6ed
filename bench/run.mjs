#!/usr/bin/env node
/**
 * `npm run bench`: agentgit's performance beside plain git, git-sync and the
 * floor (issue #7), and its merge core beside git's union merge (issue #2).
 * Writes bench/results/full.json and docs/performance.md.
 *
 *   BENCH_QUICK=1     a smoke run of about a minute (small workspace, few
 *                     repetitions): bench/results/quick.json, doc untouched
 *   BENCH_ONLY=a,b    only these suites: startup, rounds, scale, history,
 *                     watch (bench/watch.mjs), fleet, merge; their results replace those of the last
 *                     full run in bench/results/full.json. BENCH_ONLY=report
 *                     only renders docs/performance.md from full.json
 *   BENCH_HUBS=file,ssh   hubs to use (default: both when sshd is installed)
 *   BENCH_DOC=0|1     write docs/performance.md (default: 1 unless quick)
 *   BENCH_KEEP=1      keep the temp dir with every instance
 *   BENCH_REPS=N, BENCH_FLEET_ROUNDS=N, BENCH_FLEET_PLAIN_ROUNDS=N,
 *   BENCH_DIV1000=REPS[:HUBS]   fewer repetitions / rounds (recorded in the
 *                     results and the doc)
 *   GIT_SYNC=PATH     the git-sync script (else `git-sync` on PATH)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { findGitSync } from './lib/contenders.mjs';
import { loadHubs } from './lib/hubs.mjs';
import { evaluateGoals, writeDoc } from './lib/report.mjs';
import { gitSync, log, machineFacts, QUICK, ROOT, snapshotApp, writeJson } from './lib/util.mjs';
import { fleetSuite } from './suites/fleet.mjs';
import { historySuite } from './suites/history.mjs';
import { mergeSuite } from './suites/merge.mjs';
import { runVariant, setupVariant } from './suites/rounds.mjs';
import { startupSuite } from './suites/startup.mjs';
import { watchSuite } from './watch.mjs';

const CONFIG = QUICK
  ? {
      days: 20,
      startupReps: 5,
      base: { noop: 3, small: 2, div1: 2, div100: 0 },
      scale: null,
      history: { reps: 1, commits: 100 },
      fleet: { n: 3, rounds: 2, settleMax: 4, withPlain: false, hubs: ['file'] },
      merge: { scales: [0.05, 0.1], reps: 2 },
      watch: { noopReps: 3, smallReps: 2, propSamples: 6, idleSec: 10, memoryRounds: 1000, memoryHubs: ['file'] },
    }
  : {
      days: 365,
      startupReps: 15,
      base: { noop: 11, small: 9, div1: 9, div100: 7 },
      scale: { noop: 7, small: 0, div1000: 7 },
      scaleDivHubs: ['file', 'ssh'],
      history: { reps: 7, commits: 5000 },
      fleet: { n: 8, rounds: 50, plainRounds: 15, settleMax: 8, withPlain: true, hubs: ['file', 'ssh'] },
      merge: { scales: [0.25, 0.5, 1], reps: 7 },
      watch: { noopReps: 9, smallReps: 9, propSamples: 100, idleSec: 60, memoryRounds: 10_000, memoryHubs: ['file'] },
    };

// BENCH_REPS=N caps every repetition count (trial runs); BENCH_FLEET_ROUNDS=N sets the fleet's rounds
if (process.env.BENCH_REPS) {
  const cap = Number(process.env.BENCH_REPS);
  for (const group of [CONFIG.base, CONFIG.scale ?? {}]) for (const k of Object.keys(group)) group[k] = Math.min(group[k], cap);
  CONFIG.startupReps = Math.min(CONFIG.startupReps, cap);
  CONFIG.history.reps = Math.min(CONFIG.history.reps, cap);
  CONFIG.merge.reps = Math.min(CONFIG.merge.reps, cap);
}
// BENCH_WATCH_PROP=N propagation samples, BENCH_WATCH_ROUNDS=N rounds of the memory run, BENCH_WATCH_MEMORY_HUBS=file,ssh
if (process.env.BENCH_WATCH_PROP) CONFIG.watch.propSamples = Number(process.env.BENCH_WATCH_PROP);
if (process.env.BENCH_WATCH_ROUNDS) CONFIG.watch.memoryRounds = Number(process.env.BENCH_WATCH_ROUNDS);
if (process.env.BENCH_WATCH_MEMORY_HUBS) CONFIG.watch.memoryHubs = process.env.BENCH_WATCH_MEMORY_HUBS.split(',');
if (process.env.BENCH_REPS) CONFIG.watch.noopReps = CONFIG.watch.smallReps = Math.min(CONFIG.watch.noopReps, Number(process.env.BENCH_REPS));
if (process.env.BENCH_FLEET_ROUNDS) CONFIG.fleet.rounds = Number(process.env.BENCH_FLEET_ROUNDS);
if (process.env.BENCH_FLEET_PLAIN_ROUNDS) CONFIG.fleet.plainRounds = Number(process.env.BENCH_FLEET_PLAIN_ROUNDS);
// BENCH_DIV1000=REPS[:HUBS], e.g. 5:file: fewer repetitions of the 1,000-file round, on these hubs only
if (process.env.BENCH_DIV1000 && CONFIG.scale) {
  const [reps, hubs] = process.env.BENCH_DIV1000.split(':');
  CONFIG.scale.div1000 = Number(reps);
  if (hubs) CONFIG.scaleDivHubs = hubs.split(',');
}
const overrides = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^BENCH_(REPS|FLEET_ROUNDS|FLEET_PLAIN_ROUNDS|DIV1000|HUBS|ONLY|WATCH_PROP|WATCH_ROUNDS|WATCH_MEMORY_HUBS)$/.test(k)));

const ALL = ['startup', 'rounds', 'scale', 'history', 'watch', 'fleet', 'merge'];
const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()) : QUICK ? ALL.filter((s) => s !== 'history') : ALL;
const wants = (s) => only.includes(s);
const resultsFile = join(ROOT, 'bench', 'results', QUICK ? 'quick.json' : 'full.json');
const docFile = join(ROOT, 'docs', 'performance.md');
const writeDocToo = process.env.BENCH_DOC ? process.env.BENCH_DOC === '1' : !QUICK;

/** Which source the build came from: HEAD and the files of src/ that differ from it. */
function sourceState() {
  try {
    return {
      commit: gitSync(ROOT, ['rev-parse', '--short', 'HEAD']),
      dirty: gitSync(ROOT, ['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean),
    };
  } catch {
    return { commit: 'unknown', dirty: [] };
  }
}

async function main() {
  if (only.includes('report')) {
    const R = JSON.parse(readFileSync(resultsFile, 'utf8'));
    writeDoc(docFile, R);
    log(`wrote ${docFile} from ${resultsFile}`);
    return;
  }
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench does)');
  const hubs = await loadHubs();
  const avail = hubs.hubsAvailable();
  const hubKinds = (process.env.BENCH_HUBS ?? 'file,ssh').split(',').filter((k) => k === 'file' || (k === 'ssh' && avail.ssh));
  if ((process.env.BENCH_HUBS ?? 'file,ssh').includes('ssh') && !avail.ssh) log(`ssh hub skipped: ${avail.reason}`);
  const gitSyncPath = findGitSync();
  const partial = only.length < ALL.length && !QUICK && existsSync(resultsFile);
  const R = partial ? JSON.parse(readFileSync(resultsFile, 'utf8')) : {};
  const facts = machineFacts();
  const gitSync = { path: gitSyncPath, searched: process.env.GIT_SYNC ? `GIT_SYNC=${process.env.GIT_SYNC}` : '$GIT_SYNC unset, no ../shared/anchors/git-sync, no git-sync on PATH' };
  let thisRun = null;
  if (partial) {
    // a later run of some suites: the first run's facts stay; this one is recorded beside them
    thisRun = { at: new Date().toISOString(), suites: only, overrides, loadavgStart: facts.loadavgStart };
    R.partialRuns = [...(R.partialRuns ?? []), thisRun];
    if (gitSyncPath) R.gitSync = { ...gitSync, since: 'the later runs listed above' }; // found now: the figures of the later runs include it
  } else {
    Object.assign(R, { startedAt: new Date().toISOString(), quick: QUICK, config: CONFIG, overrides, facts, gitSync });
    delete R.partialRuns;
  }
  R.rounds ??= {};
  R.fleet ??= {};
  R.watch ??= {};
  log(`${QUICK ? 'quick' : 'full'} run: ${only.join(', ')}; hubs ${hubKinds.join(', ')}; git-sync ${gitSyncPath ?? 'not found'}; machine ${facts.nproc} cores, load ${facts.loadavgStart.join(' ')}`);
  const base = mkdtempSync(join(os.tmpdir(), 'agentgit-bench-'));
  const build = { fingerprint: snapshotApp(join(base, 'app')), ...sourceState() };
  if (thisRun) thisRun.build = build;
  else R.build = build;
  log(`measuring a snapshot of the build (${build.fingerprint}; commit ${build.commit}${build.dirty.length ? `, ${build.dirty.length} changed files in src/` : ''})`);
  const save = () => {
    const end = { loadavgEnd: os.loadavg().map((x) => Math.round(x * 100) / 100), finishedAt: new Date().toISOString() };
    if (thisRun) Object.assign(thisRun, end);
    else {
      R.facts.loadavgEnd = end.loadavgEnd;
      R.finishedAt = end.finishedAt;
    }
    writeJson(resultsFile, R);
  };
  const guard = async (label, f) => {
    try {
      await f();
    } catch (e) {
      log(`${label} failed: ${e.stack ?? e}`);
      return String(e.message ?? e).slice(0, 500);
    }
    save();
    return null;
  };
  const withHub = async (kind, f) => {
    const hub = kind === 'ssh' ? await hubs.startSshHub() : await hubs.startFileHub();
    try {
      await f(hub);
    } finally {
      await hub.stop();
    }
  };
  try {
    if (wants('startup')) {
      R.startup = await startupSuite(CONFIG.startupReps);
      log(`startup: --version ${R.startup.stats.version.median.toFixed(0)} ms, node -e 0 ${R.startup.stats.node.median.toFixed(0)} ms, ratio ${R.startup.ratios.version.median.toFixed(2)}`);
      save();
    }
    if (wants('merge')) {
      const err = await guard('merge', async () => {
        R.merge = await mergeSuite(join(base, 'merge'), { ...CONFIG.merge, log });
      });
      if (err) R.mergeError = err;
    }
    // rounds, scale and history per hub; then the fleets (the longest part) last
    for (const kind of hubKinds) {
      if (!wants('rounds') && !wants('scale') && !(wants('history') && kind === 'file')) continue;
      await withHub(kind, async (hub) => {
        R.rounds[kind] ??= {};
        if (wants('rounds')) {
          const err = await guard(`${kind} rounds`, async () => {
            const v = await setupVariant({ hub, base, variant: 'base', days: CONFIG.days, scale: false, gitSyncPath });
            R.rounds[kind].baseFiles = v.layout.files;
            R.rounds[kind].base = await runVariant(v, CONFIG.base);
          });
          if (err) R.rounds[kind].error = err;
        }
        if (wants('scale') && CONFIG.scale) {
          const err = await guard(`${kind} scale`, async () => {
            const v = await setupVariant({ hub, base, variant: 'scale', days: CONFIG.days, scale: true, gitSyncPath });
            R.rounds[kind].scaleFiles = v.layout.files;
            const reps = CONFIG.scaleDivHubs?.includes(kind) ?? true ? CONFIG.scale : { ...CONFIG.scale, div1000: 0 };
            R.rounds[kind].scale = await runVariant(v, reps);
          });
          if (err) R.rounds[kind].scaleError = err;
        }
        if (wants('history') && kind === 'file') {
          const err = await guard('history', async () => {
            R.history = await historySuite({ hub, base, days: CONFIG.days, ...CONFIG.history });
          });
          if (err) R.historyError = err;
        }
      });
    }
    for (const kind of hubKinds) {
      if (!wants('watch')) continue;
      await withHub(kind, async (hub) => {
        const err = await guard(`${kind} watch`, async () => {
          R.watch[kind] = await watchSuite({ hub, base, days: CONFIG.days, gitSyncPath, cfg: CONFIG.watch, log });
        });
        if (err) R.watch[kind] = { error: err };
      });
    }
    for (const kind of hubKinds) {
      if (!wants('fleet') || !CONFIG.fleet.hubs.includes(kind)) continue;
      await withHub(kind, async (hub) => {
        const err = await guard(`${kind} fleet`, async () => {
          R.fleet[kind] = await fleetSuite({ hub, base, days: CONFIG.days, ...CONFIG.fleet });
          R.fleet[kind].agentgit.settleMax = CONFIG.fleet.settleMax;
        });
        if (err) R.fleet[kind] = { error: err };
      });
    }
  } finally {
    save();
    if (process.env.BENCH_KEEP === '1') log(`kept ${base}`);
    else rmSync(base, { recursive: true, force: true });
  }
  if (writeDocToo) {
    writeDoc(docFile, R);
    log(`wrote ${docFile}`);
  }
  const goals = evaluateGoals(R);
  const lines = goals.map((g) => `${g.met === null ? ' -- ' : g.met ? ' ok ' : 'MISS'}  ${g.goal}: ${g.value} (limit ${g.limit})`);
  process.stdout.write(`\nagentgit bench (${QUICK ? 'quick' : 'full'}), results in ${resultsFile}\n${lines.join('\n')}\n`);
  writeFileSync(join(ROOT, 'bench', 'results', QUICK ? 'quick-goals.txt' : 'full-goals.txt'), lines.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  process.exitCode = 1;
});
