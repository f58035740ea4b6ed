#!/usr/bin/env node
/**
 * `agentgit init` of 10,000 files beside plain `git init && git add -A &&
 * git commit` (issue #13). Each repetition copies one generated workspace
 * twice and times both contenders on their copy, in a random order; the
 * ratio is the median of the per-repetition ratios (wall time, and CPU time:
 * user + system of the command and its children, from GNU time).
 *
 *   node bench/init.mjs                     # 10,000 files, 7 repetitions
 *   BENCH_INIT_FILES=2000 BENCH_INIT_REPS=3 node bench/init.mjs
 *   BENCH_INIT_PROFILE=1 node bench/init.mjs  # one agentgit run under --cpu-prof (dist/cli/main.js), profile path printed
 *   BENCH_INIT_BIN=/elsewhere/bin/agentgit node bench/init.mjs  # another build (a before/after comparison)
 *
 * agentgit runs with a fresh HOME and AGENTGIT_HOME (so it makes its signing
 * key, as a first init does) and no hub; plain git with the same HOME but
 * no signing. Prints a table and one JSON line (for bench/results).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BIN, instanceEnv, median, quantile, ROOT, rng, shuffled } from './lib/util.mjs';

const FILES = Number(process.env.BENCH_INIT_FILES ?? 10000);
const REPS = Number(process.env.BENCH_INIT_REPS ?? 7);
const PROFILE = process.env.BENCH_INIT_PROFILE === '1';

/**
 * A typical agent layout, deterministic: 40% daily logs under memory/
 * (memory/<topic>/YYYY-MM-DD.md), 20% JSON state, 40% docs (skills/<name>/SKILL.md,
 * docs/*.md), about 300 B to 1.5 KB each.
 */
function makeWorkspace(dir, n) {
  const r = rng(13);
  const words = 'agent memory state sync log entry task user note plan done todo review fix check write read merge hub clock'.split(' ');
  const sentence = (k) => Array.from({ length: k }, () => r.pick(words)).join(' ');
  const day = (i) => new Date(Date.UTC(2024, 0, 1) + i * 86400000).toISOString().slice(0, 10);
  const logs = Math.round(n * 0.4);
  const json = Math.round(n * 0.2);
  const docs = n - logs - json;
  const put = (rel, text) => {
    const abs = join(dir, rel);
    mkdirSync(join(abs, '..'), { recursive: true });
    writeFileSync(abs, text);
  };
  for (let i = 0; i < logs; i++) {
    const topic = `t${String(i % 40).padStart(2, '0')}`;
    const entries = 2 + r.int(6);
    put(`memory/${topic}/${day(Math.floor(i / 40))}.md`, Array.from({ length: entries }, (_, e) => `## ${String(8 + e).padStart(2, '0')}:00\n${sentence(12 + r.int(20))}\n`).join('\n'));
  }
  for (let i = 0; i < json; i++) {
    const obj = { id: `s${i}`, status: r.pick(['open', 'done', 'waiting']), owner: r.pick(words), count: r.int(1000), tags: [r.pick(words), r.pick(words)], notes: sentence(10 + r.int(20)) };
    put(`state/${String(i % 20).padStart(2, '0')}/item-${i}.json`, JSON.stringify(obj, null, 2) + '\n');
  }
  for (let i = 0; i < docs; i++) {
    const text = `# ${sentence(3)}\n\n${sentence(40 + r.int(120))}\n`;
    put(i % 2 ? `skills/skill-${Math.floor(i / 2)}/SKILL.md` : `docs/${String(i % 50).padStart(2, '0')}/doc-${i}.md`, text);
  }
}

/** Run `argv` under GNU time: wall ms (spawn to exit), CPU ms (user + sys, children included). */
function timed(argv, cwd, env) {
  const tf = join(os.tmpdir(), `agentgit-bench-time-${process.pid}`);
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', '-o', tf, ...argv], { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  const [u, s] = readFileSync(tf, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  rmSync(tf, { force: true });
  return { wall: ms, cpu: (u + s) * 1000 };
}

/**
 * 10,000 loose objects are past git's gc.auto (6,700): both contenders would
 * start a detached `git gc` that outlives the timing (and races the clean-up).
 * Off for both: what is measured is the init itself.
 */
const NO_AUTO_GC = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'gc.auto', GIT_CONFIG_VALUE_0: '0' };

const work = mkdtempSync(join(os.tmpdir(), 'agentgit-bench-init-'));
try {
  const tpl = join(work, 'template');
  makeWorkspace(tpl, FILES);
  const contenders = {
    git: (dir, env) => timed(['sh', '-c', 'git init -q && git add -A && git commit -q -m init'], dir, { ...env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' }),
    agentgit: (dir, env) => timed([process.execPath, process.env.BENCH_INIT_BIN ?? BIN, 'init', '-C', dir, '--instance', 'bench', '--agent', 'bench'], dir, env),
  };
  const rows = [];
  for (let rep = 0; rep < REPS; rep++) {
    const row = {};
    for (const name of shuffled(Object.keys(contenders))) {
      const dir = join(work, `${name}-${rep}`);
      cpSync(tpl, dir, { recursive: true });
      const env = instanceEnv(join(work, `home-${name}-${rep}`), {}, NO_AUTO_GC);
      spawnSync('sync'); // the copy's dirty pages written out before timing
      row[name] = contenders[name](dir, env);
      rmSync(dir, { recursive: true, force: true });
    }
    rows.push(row);
    process.stderr.write(`rep ${rep + 1}/${REPS}: git ${row.git.wall.toFixed(0)} ms (cpu ${row.git.cpu.toFixed(0)}), agentgit ${row.agentgit.wall.toFixed(0)} ms (cpu ${row.agentgit.cpu.toFixed(0)}), ratio ${(row.agentgit.wall / row.git.wall).toFixed(2)}x\n`);
  }
  const fmt = (xs) => `${median(xs).toFixed(0)} ms [${quantile(xs, 0.25).toFixed(0)}-${quantile(xs, 0.75).toFixed(0)}]`;
  const rat = (k) => rows.map((r) => r.agentgit[k] / r.git[k]);
  console.log(`init of ${FILES} files, ${REPS} paired repetitions (median [IQR])`);
  console.log(`  plain git   wall ${fmt(rows.map((r) => r.git.wall))}  cpu ${fmt(rows.map((r) => r.git.cpu))}`);
  console.log(`  agentgit    wall ${fmt(rows.map((r) => r.agentgit.wall))}  cpu ${fmt(rows.map((r) => r.agentgit.cpu))}`);
  console.log(`  ratio       wall ${median(rat('wall')).toFixed(2)}x  cpu ${median(rat('cpu')).toFixed(2)}x  (goal: wall <= 2x)`);
  console.log(JSON.stringify({ files: FILES, reps: REPS, ratioWall: median(rat('wall')), ratioCpu: median(rat('cpu')), rows }));
  if (PROFILE) {
    const dir = join(work, 'profiled');
    cpSync(tpl, dir, { recursive: true });
    const profDir = join(os.tmpdir(), 'agentgit-init-profile');
    mkdirSync(profDir, { recursive: true });
    const env = instanceEnv(join(work, 'home-prof'), {}, NO_AUTO_GC);
    const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profDir, '--input-type=module', '-e', `import(${JSON.stringify(join(ROOT, 'dist', 'cli', 'main.js'))}).then((m) => m.main(process.argv.slice(1)))`, 'init', '-C', dir, '--instance', 'bench'], { cwd: dir, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    console.log(`profile: ${join(profDir, readdirSync(profDir).sort().pop())}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
