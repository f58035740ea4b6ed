/**
 * Fleet (issue #7): 8 instances on one hub, each round all of them write
 * (an entry in today's daily log, which every instance appends to, and their
 * own key of a shared JSON file) and then sync at the same moment. Measured
 * per round: time until the last sync ends, push attempts (AGENTGIT_TRACE=1),
 * exit codes. After the write rounds, rounds without writes until every
 * instance holds the hub's head with a clean work tree: how many it takes.
 * Beside it, for orientation, the same fleet with plain git (add, commit,
 * pull --no-rebase with merge=union on logs, push; on a rejected push, pull
 * and push again, up to 6 tries with the same backoff as agentgit).
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, Plain, quiesce } from '../lib/contenders.mjs';
import { generateWorkspace } from '../lib/workspace.mjs';
import { git, log, sleep, summary } from '../lib/util.mjs';

const TODAY = (layout) => layout.logs[0];
const SHARED_JSON = 'memory/heartbeat-state.json';

function write(dir, layout, i, round) {
  appendFileSync(join(dir, TODAY(layout)), `\n## Instance ${i} round ${round} (${1 + (round % 12)}:${String((i * 7) % 60).padStart(2, '0')} PM)\n- wrote note ${round}.${i}\n`);
  const abs = join(dir, SHARED_JSON);
  const v = JSON.parse(readFileSync(abs, 'utf8'));
  v.lastChecks[`check_${String(i * 7).padStart(2, '0')}`] = 1767225600 + round * 60 + i;
  writeFileSync(abs, JSON.stringify(v, null, 2) + '\n');
}

async function plainRound(p) {
  let r = await p.sh('git add -A && { git commit -q -m "sync" >/dev/null || true; }');
  if (r.code !== 0) return { code: 1, tries: 0, error: r.stderr };
  for (let attempt = 1; ; attempt++) {
    r = await p.sh('git pull -q --no-rebase --no-edit && git push -q');
    if (r.code === 0) return { code: 0, tries: attempt };
    if (/CONFLICT|Automatic merge failed|unmerged/i.test(r.stdout + r.stderr)) {
      await p.sh('git merge --abort');
      return { code: 1, tries: attempt, error: 'merge conflict' };
    }
    if (attempt >= 6) return { code: 75, tries: attempt, error: r.stderr.trim().split('\n').pop() };
    await sleep(Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random()));
  }
}

async function converged(members, hubHead) {
  const heads = await Promise.all(members.map((m) => git(m.dir, ['rev-parse', 'HEAD'], m.env)));
  const dirty = await Promise.all(members.map((m) => git(m.dir, ['status', '--porcelain'], m.env)));
  return heads.every((h) => h === hubHead) && dirty.every((d) => d === '');
}

async function runFleet({ kind, members, layout, rounds, settleMax, hub, hubRepo, roundFn }) {
  const perRound = [];
  const exits = { 0: 0, 1: 0, 75: 0, other: 0 };
  const lastExit = new Map();
  const t0 = Date.now();
  const once = async (label, writes) => {
    if (writes !== null) members.forEach((m, i) => write(m.dir, layout, i, writes));
    const start = Date.now();
    const res = await Promise.all(members.map((m) => roundFn(m)));
    const wallMs = Date.now() - start;
    for (const [i, r] of res.entries()) {
      exits[r.code in exits ? r.code : 'other']++;
      lastExit.set(i, r.code);
    }
    const tries = res.map((r) => r.tries);
    const row = { label, wallMs, tries, retries: tries.reduce((s, t) => s + Math.max(0, t - 1), 0), codes: res.map((r) => r.code), errors: res.filter((r) => r.code !== 0).map((r) => r.error).slice(0, 2) };
    perRound.push(row);
    return row;
  };
  for (let r = 1; r <= rounds; r++) {
    const row = await once(`w${r}`, r);
    if (r % 10 === 0 || r === rounds) log(`fleet ${kind} ${hub.kind}: round ${r}/${rounds}: ${row.wallMs} ms, retries ${row.retries}, exits ${row.codes.join('')}`);
  }
  const writesEnd = Date.now();
  let settle = null;
  for (let s = 1; s <= settleMax; s++) {
    await once(`s${s}`, null);
    const hubHead = await git(hubRepo.repoPath, ['rev-parse', 'refs/heads/main'], members[0].env);
    if (await converged(members, hubHead)) {
      settle = s;
      break;
    }
  }
  const writeRows = perRound.filter((r) => r.label.startsWith('w'));
  return {
    kind,
    instances: members.length,
    rounds,
    roundWallMs: summary(writeRows.map((r) => r.wallMs)),
    retriesPerRound: summary(writeRows.map((r) => r.retries)),
    maxTries: Math.max(...perRound.flatMap((r) => r.tries)),
    exits,
    neverRecovered: [...lastExit.values()].filter((c) => c !== 0).length,
    settleRounds: settle,
    writePhaseMs: writesEnd - t0,
    convergeMs: Date.now() - t0,
    settleMs: Date.now() - writesEnd,
    perRound: perRound.map((r) => ({ label: r.label, wallMs: r.wallMs, retries: r.retries, codes: r.codes.join(''), ...(r.errors.length ? { errors: r.errors } : {}) })),
  };
}

export async function fleetSuite({ hub, base, days, n, rounds, plainRounds, settleMax, withPlain }) {
  const t0 = Date.now();
  const env = hub.clientEnv;
  const repo = await hub.createRepo('fleet-agent.git');
  let layout;
  const dir = join(base, `${hub.kind}-fleet`);
  const agents = [await Agent.found(repo.url, env, dir, 'i0', (d) => (layout = generateWorkspace(d, { days })))];
  agents.push(...(await Agent.joinMany(repo.url, env, dir, Array.from({ length: n - 1 }, (_, i) => `i${i + 1}`), agents[0])));
  for (const a of agents) {
    const s = await a.sync();
    if (s.code !== 0) throw new Error(`fleet: sync of ${a.name} failed: ${s.stderr}`);
  }
  await quiesce([...agents.map((a) => a.dir), repo.repoPath], agents[0].env);
  log(`fleet ${hub.kind}: ${n} agentgit instances ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const agentRound = async (a) => {
    const r = await a.sync(['--json']);
    return { code: r.code, tries: r.trace.branchPushes, error: r.code !== 0 ? (/"error":\s*"([^"]*)"/.exec(r.stdout)?.[1] ?? r.stderr.slice(-200)) : undefined };
  };
  const out = { agentgit: await runFleet({ kind: 'agentgit', members: agents, layout, rounds, settleMax, hub, hubRepo: repo, roundFn: agentRound }) };
  if (withPlain) {
    const prepo = await hub.createRepo('fleet-plain.git');
    const plains = [await Plain.found(prepo.url, env, dir, 'p0', (d) => generateWorkspace(d, { days }))];
    plains.push(...(await Promise.all(Array.from({ length: n - 1 }, (_, i) => Plain.join(prepo.url, env, dir, `p${i + 1}`)))));
    await quiesce([...plains.map((p) => p.dir), prepo.repoPath], plains[0].env);
    out.plain = await runFleet({ kind: 'plain', members: plains, layout, rounds: plainRounds ?? rounds, settleMax, hub, hubRepo: prepo, roundFn: plainRound });
  }
  // the fleet's repos end byte-identical: check one file every instance wrote to
  const today = agents.map((a) => readFileSync(join(a.dir, TODAY(layout)), 'utf8'));
  out.agentgit.identical = today.every((t) => t === today[0]);
  out.agentgit.entriesKept = (() => {
    let missing = 0;
    for (let r = 1; r <= rounds; r++) for (let i = 0; i < n; i++) if (!today[0].includes(`- wrote note ${r}.${i}\n`)) missing++;
    return { expected: rounds * n, missing };
  })();
  return out;
}
