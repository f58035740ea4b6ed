/**
 * Memory (and time) of a sync against history length: one instance on the
 * file hub, no-op and small rounds measured with a short history, then again
 * after thousands of commits were added (git fast-import: each commit appends
 * to one of 50 small logs, as a busy agent's history would), pushed to the hub.
 * Peak RSS is GNU time's maximum resident set over agentgit and its git
 * children.
 */
import { join } from 'node:path';
import { Agent, quiesce } from '../lib/contenders.mjs';
import { applyEdits, generateWorkspace, smallRoundFiles } from '../lib/workspace.mjs';
import { BIN, git, NODE, run, summary } from '../lib/util.mjs';

async function measured(A, env = {}) {
  const r = await run('/usr/bin/time', ['-f', 'BENCH_MAXRSS=%M', NODE, BIN, 'sync', '-C', A.dir, '--quiet'], { cwd: A.dir, env: { ...A.env, ...env } });
  const m = /BENCH_MAXRSS=(\d+)/.exec(r.stderr);
  return { ms: r.ms, kib: m ? Number(m[1]) : NaN, code: r.code, stderr: r.stderr };
}

async function series(A, layout, reps, round) {
  const noop = [];
  const small = [];
  for (let i = 0; i < reps; i++) {
    A.setHeartbeat(false);
    noop.push(await measured(A));
    applyEdits(A.dir, smallRoundFiles(layout), 'local', round + i);
    small.push(await measured(A));
  }
  for (const r of [...noop, ...small]) if (r.code !== 0) throw new Error(`history series: sync failed: ${r.stderr}`);
  return {
    noopMs: summary(noop.map((r) => r.ms)),
    noopPeakKiB: summary(noop.map((r) => r.kib)),
    smallMs: summary(small.map((r) => r.ms)),
    smallPeakKiB: summary(small.map((r) => r.kib)),
  };
}

/** Append `n` commits to the branch with git fast-import, then push them. */
async function growHistory(A, n) {
  const head = await git(A.dir, ['rev-parse', 'HEAD'], A.env);
  const files = Array.from({ length: 50 }, () => '');
  let s = '';
  const t = 1767225600;
  for (let i = 0; i < n; i++) {
    const f = i % 50;
    files[f] += `- [2026-01-01 ${String(Math.floor(i / 60) % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}] tick ${i} by the history generator\n`;
    const content = `# Ticks ${f}\n\n${files[f]}`;
    const msg = `agentgit: 1 file from hist\n\n- memory/ticks/tick-${f}.md\n\nAgentgit-Instance: hist\n`;
    s += `commit refs/bench/history\nauthor kevin/hist <hist@kevin.agentgit.invalid> ${t + i * 60} +0000\ncommitter kevin/hist <hist@kevin.agentgit.invalid> ${t + i * 60} +0000\n`;
    s += `data ${Buffer.byteLength(msg)}\n${msg}`;
    if (i === 0) s += `from ${head}\n`;
    s += `M 100644 inline memory/ticks/tick-${f}.md\ndata ${Buffer.byteLength(content)}\n${content}\n`;
  }
  await run('git', ['fast-import', '--quiet'], { cwd: A.dir, env: A.env, input: s, ok: true });
  const tip = await git(A.dir, ['rev-parse', 'refs/bench/history'], A.env);
  await git(A.dir, ['reset', '-q', '--hard', tip], A.env);
  await git(A.dir, ['update-ref', '-d', 'refs/bench/history'], A.env);
  await git(A.dir, ['push', '-q', 'origin', 'main'], A.env);
  const s2 = await A.sync();
  if (s2.code !== 0) throw new Error(`sync after growing history failed: ${s2.stderr}`);
}

export async function historySuite({ hub, base, days, reps, commits }) {
  const repo = await hub.createRepo('history-agent.git');
  let layout;
  const A = await Agent.found(repo.url, hub.clientEnv, join(base, 'history'), 'hist', (d) => {
    layout = generateWorkspace(d, { days });
  });
  await quiesce([A.dir, repo.repoPath], A.env);
  const count = async () => Number(await git(A.dir, ['rev-list', '--count', 'HEAD'], A.env));
  const shortLen = await count();
  const short = await series(A, layout, reps, 50_000);
  await growHistory(A, commits);
  await quiesce([A.dir, repo.repoPath], A.env);
  const longLen = await count();
  const long = await series(A, layout, reps, 60_000);
  return { shortCommits: shortLen, longCommits: longLen, short, long };
}
