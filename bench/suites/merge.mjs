/**
 * The merge bench of issue #2, in-process `mergeFile` (dist/merge/index.js)
 * beside git's own merges, each in a fresh process:
 * - a log (`memory/HISTORY.md`, nanobot-style `[YYYY-MM-DD HH:MM]` entries) of
 *   10 MB with 1 MB appended on each side, beside `git merge-file --union`;
 * - a JSON document of 5 MB (a map of 20,000 records and an array of 5,000
 *   tasks with ids) with 1,000 keys changed on each side (700 records, 300
 *   tasks), beside `git merge-file` (a line merge; for orientation only).
 * Each at 1/4, 1/2 and 1x that size, to see whether time and memory grow
 * linearly. Time: read + merge + write for both (git merge-file -p writes to
 * a pipe). Memory: agentgit's high-water mark over its resident set before
 * reading the inputs; git's peak RSS from GNU time.
 * Also: one `agentgit merge-driver` process per file, on a daily log, beside
 * the same merge in-process: what in-process merging saves per file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP, BIN, NODE, ROOT, median, rng, run, shuffled, summary } from '../lib/util.mjs';

const CHILD = join(ROOT, 'bench', 'lib', 'merge-child.mjs');
const WORDS = 'checked email calendar reply drafted summary deploy backup reviewed invoice meeting moved task done blocked note travel booked paid renewed'.split(' ');

function stamp(minute) {
  const d = new Date(Date.UTC(2020, 0, 1) + minute * 60000);
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

function logLines(r, fromMinute, bytes, step, offset) {
  const out = [];
  let n = 0;
  let m = fromMinute;
  while (n < bytes) {
    let line = `[${stamp(m + offset)}] `;
    const k = 6 + r.int(12);
    for (let i = 0; i < k; i++) line += r.pick(WORDS) + ' ';
    line = line.trimEnd() + '\n';
    if (r.int(6) === 0) line += `  ${r.pick(WORDS)} ${r.pick(WORDS)} ${r.pick(WORDS)}\n`;
    out.push(line);
    n += line.length;
    m += step;
  }
  return { text: out.join(''), end: m };
}

/** base of `mb` MB, each side appends a tenth of that (1 MB on 10 MB), timestamps interleaved. */
export function makeLog(dir, mb) {
  const r = rng(11);
  const base = logLines(r, 0, mb * 1_000_000, 3, 0);
  const ours = logLines(r, base.end, mb * 100_000, 4, 0).text;
  const theirs = logLines(r, base.end, mb * 100_000, 4, 2).text;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'base'), base.text);
  writeFileSync(join(dir, 'ours'), base.text + ours);
  writeFileSync(join(dir, 'theirs'), base.text + theirs);
}

/** 5 MB at scale 1: 20,000 records and 5,000 tasks; 1,000 keys changed per side (700 records, 300 tasks). */
export function makeJson(dir, scale) {
  const r = rng(13);
  const nRec = Math.round(20_000 * scale);
  const nTask = Math.round(5_000 * scale);
  const doc = { version: 1, last_updated: '2026-01-01T00:00:00Z', contacts: {}, tasks: [] };
  for (let i = 0; i < nRec; i++) {
    doc.contacts[`c${String(i).padStart(6, '0')}`] = {
      name: `${r.pick(WORDS)} ${r.pick(WORDS)}`,
      email: `user${i}@example.invalid`,
      notes: Array.from({ length: 4 + r.int(6) }, () => r.pick(WORDS)).join(' '),
      tags: [r.pick(WORDS), r.pick(WORDS)],
      updated_at: `2025-${String(1 + r.int(12)).padStart(2, '0')}-10T10:00:00Z`,
    };
  }
  for (let i = 1; i <= nTask; i++) doc.tasks.push({ id: i, title: Array.from({ length: 3 + r.int(5) }, () => r.pick(WORDS)).join(' '), status: 'todo', updated_at: '2025-06-01T00:00:00Z' });
  const baseText = JSON.stringify(doc, null, 2) + '\n';
  const side = (which) => {
    const d = JSON.parse(baseText);
    const recs = Math.round(700 * scale);
    const tasks = Math.round(300 * scale);
    const off = which === 'ours' ? 0 : 1;
    for (let k = 0; k < recs; k++) {
      const key = `c${String((k * 2 + off) * Math.floor(nRec / (recs * 2))).padStart(6, '0')}`;
      d.contacts[key].notes += ` (${which} edit ${k})`;
      d.contacts[key].updated_at = `2026-02-0${1 + off}T12:00:00Z`;
    }
    for (let k = 0; k < tasks; k++) {
      const t = d.tasks[(k * 2 + off) * Math.floor(nTask / (tasks * 2))];
      t.status = which === 'ours' ? 'done' : 'in-progress';
      t.updated_at = `2026-02-0${1 + off}T12:00:00Z`;
    }
    d.last_updated = `2026-02-0${1 + off}T12:00:00Z`;
    return JSON.stringify(d, null, 2) + '\n';
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'base'), baseText);
  writeFileSync(join(dir, 'ours'), side('ours'));
  writeFileSync(join(dir, 'theirs'), side('theirs'));
}

async function agentMerge(kind, path, dir) {
  const r = await run(NODE, [CHILD, kind, path, dir, APP], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`merge child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function gitMerge(dir, union) {
  const args = ['-f', 'BENCH_MAXRSS=%M', 'git', 'merge-file', '-p', ...(union ? ['--union'] : []), join(dir, 'ours'), join(dir, 'base'), join(dir, 'theirs')];
  const t = await run('/usr/bin/time', args, { timeoutMs: 600_000 });
  const m = /BENCH_MAXRSS=(\d+)/.exec(t.stderr);
  return { ms: t.ms, code: t.code, peakKiB: m ? Number(m[1]) : null, outBytes: Buffer.byteLength(t.stdout) };
}

/** Time of `git merge-file` alone (no /usr/bin/time in between), for the timing figures. */
async function gitMergeTimed(dir, union) {
  const r = await run('git', ['merge-file', '-p', ...(union ? ['--union'] : []), join(dir, 'ours'), join(dir, 'base'), join(dir, 'theirs')], { timeoutMs: 600_000 });
  return r.ms;
}

async function benchCase(kind, path, dir, union, reps) {
  const samples = [];
  for (let i = 0; i < reps; i++) {
    const s = {};
    for (const k of shuffled(['agentgit', 'git'])) {
      if (k === 'agentgit') s.agentgit = await agentMerge(kind, path, dir);
      else s.git = await gitMergeTimed(dir, union);
    }
    samples.push(s);
  }
  const gm = await gitMerge(dir, union);
  const a = samples.map((s) => s.agentgit);
  return {
    agentgitMs: summary(a.map((x) => x.ms)),
    agentgitMergeMs: summary(a.map((x) => x.mergeMs)),
    gitMs: summary(samples.map((s) => s.git)),
    ratio: summary(samples.map((s) => s.agentgit.ms / s.git)),
    agentgitPeakExtraKiB: median(a.map((x) => x.peakExtraKiB)),
    agentgitRssBeforeKiB: median(a.map((x) => x.rssBeforeKiB)),
    gitPeakKiB: gm.peakKiB,
    inputBytes: a[0].inputBytes,
    sideBytes: a[0].sideBytes,
    outBytes: a[0].outBytes,
    gitOutBytes: gm.outBytes,
    method: a[0].method,
    conflicts: a[0].conflicts,
  };
}

/** One agentgit merge-driver process per file (as git would start it), beside the same merge in-process. */
async function driverPerFile(base, reps) {
  const dir = join(base, 'driver');
  mkdirSync(dir, { recursive: true });
  const r = rng(5);
  let day = '# 2025-06-01\n';
  for (let i = 0; i < 60; i++) day += `\n## Note ${i} (${(i % 12) + 1}:${String(i % 60).padStart(2, '0')} PM)\n- ${r.pick(WORDS)} ${r.pick(WORDS)} ${r.pick(WORDS)}\n`;
  writeFileSync(join(dir, 'base'), day);
  writeFileSync(join(dir, 'theirs'), day + '\n## Theirs (11:58 PM)\n- booked\n');
  const ms = [];
  for (let i = 0; i < reps; i++) {
    writeFileSync(join(dir, 'ours'), day + '\n## Ours (11:59 PM)\n- paid\n');
    const t = await run(NODE, [BIN, 'merge-driver', 'log', join(dir, 'base'), join(dir, 'ours'), join(dir, 'theirs'), '7', 'memory/2025-06-01.md'], { cwd: dir });
    if (t.code === 0) ms.push(t.ms);
  }
  writeFileSync(join(dir, 'ours'), day + '\n## Ours (11:59 PM)\n- paid\n');
  const inproc = await agentMerge('log', 'memory/2025-06-01.md', dir);
  return { driverMs: summary(ms), inProcessMergeMs: inproc.mergeMs, fileBytes: Buffer.byteLength(day) };
}

export async function mergeSuite(base, { scales, reps, log }) {
  const out = { log: [], json: [] };
  for (const s of scales) {
    const dir = join(base, `log-${s}`);
    makeLog(dir, 10 * s);
    const r = await benchCase('log', 'memory/HISTORY.md', dir, true, reps);
    out.log.push({ scale: s, ...r });
    log(`merge log x${s}: agentgit ${r.agentgitMs.median.toFixed(0)} ms, git --union ${r.gitMs.median.toFixed(0)} ms, ratio ${r.ratio.median.toFixed(2)}, peak +${(r.agentgitPeakExtraKiB / 1024).toFixed(0)} MiB`);
  }
  for (const s of scales) {
    const dir = join(base, `json-${s}`);
    makeJson(dir, s);
    const r = await benchCase('json', 'state/contacts.json', dir, false, reps);
    out.json.push({ scale: s, ...r });
    log(`merge json x${s}: agentgit ${r.agentgitMs.median.toFixed(0)} ms, git merge-file ${r.gitMs.median.toFixed(0)} ms, ratio ${r.ratio.median.toFixed(2)}, peak +${(r.agentgitPeakExtraKiB / 1024).toFixed(0)} MiB`);
  }
  // growth: exponent k of time ~ size^k between the smallest and the largest scale
  const growth = (rows, f) => {
    if (rows.length < 2) return null;
    const a = rows[0];
    const b = rows[rows.length - 1];
    return Math.log(f(b) / f(a)) / Math.log(b.scale / a.scale);
  };
  out.growth = {
    logTime: growth(out.log, (x) => x.agentgitMergeMs.median),
    logMemory: growth(out.log, (x) => x.agentgitPeakExtraKiB),
    jsonTime: growth(out.json, (x) => x.agentgitMergeMs.median),
    jsonMemory: growth(out.json, (x) => x.agentgitPeakExtraKiB),
    gitLogTime: growth(out.log, (x) => x.gitMs.median),
  };
  out.driver = await driverPerFile(base, reps);
  log(`merge driver per file: ${out.driver.driverMs.median.toFixed(0)} ms a file (in-process ${out.driver.inProcessMergeMs.toFixed(2)} ms)`);
  return out;
}
