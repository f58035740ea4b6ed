/**
 * docs/performance.md from a results file: machine, every workload's medians
 * and paired ratios, the goals of issues #7 and #2 with met / missed and by
 * how much. The part between the ANALYSIS markers is written by a person and
 * kept as it is when the figures are regenerated.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const BEGIN = '<!-- analysis:begin (kept when `npm run bench` regenerates this file) -->';
const END = '<!-- analysis:end -->';

const ms = (x) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`);
const x2 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(x < 0.1 ? 3 : 2)}x`);
const mib = (kib) => (kib === null || kib === undefined || !Number.isFinite(kib) ? '–' : `${(kib / 1024).toFixed(1)} MiB`);
const med = (s) => s?.median ?? null;
const iqr = (s) => (s && s.q1 !== null ? ` (${s.q1 >= 100 ? s.q1.toFixed(0) : s.q1.toFixed(1)}–${s.q3 >= 100 ? s.q3.toFixed(0) : s.q3.toFixed(1)})` : '');

/** Each goal: what, the measured value, the limit, met / missed / not measured. */
export function evaluateGoals(R) {
  const goals = [];
  const add = (area, goal, value, limit, met, detail = '') => goals.push({ area, goal, value, limit, met, detail });
  const wl = (hub, variant, id) => R.rounds?.[hub]?.[variant]?.find?.((w) => w.id === id);
  const by = (v, lim) => (v === null || v === undefined ? '' : v <= lim ? `met with ${((1 - v / lim) * 100).toFixed(0)}% to spare` : `missed by ${((v / lim - 1) * 100).toFixed(0)}%`);
  const ratioGoal = (area, goal, v, lim) => add(area, goal, v === null || v === undefined ? 'not measured' : x2(v), `≤ ${lim}x`, v === null || v === undefined ? null : v <= lim, by(v, lim));

  // round trips
  for (const hub of ['ssh', 'file']) {
    const noop = wl(hub, 'base', 'noop');
    const small = wl(hub, 'base', 'small');
    if (noop) {
      const conns = noop.roundTrips.connsSeen;
      const ok = noop.roundTrips.fetchesSeen.every((f) => (hub === 'ssh' ? f === 1 : f <= 1)) && noop.roundTrips.pushesSeen.every((p) => p === 0) && (hub !== 'ssh' || conns.every((c) => c <= 1));
      add('round trips', `no-op round (${hub} hub): ${hub === 'ssh' ? 'at most one new connection (none while the master an earlier round left is up)' : 'at most one fetch (none while the hub on disk shows nothing new)'}, no push`, `${hub === 'ssh' ? `connections ${conns.join('/')}, ` : ''}fetches ${noop.roundTrips.fetchesSeen.join('/')}, pushes ${noop.roundTrips.pushesSeen.join('/')}`, hub === 'ssh' ? '≤ 1 connection, 0 pushes' : '≤ 1 fetch, 0 pushes', ok);
    }
    if (small) {
      const conns = small.roundTrips.connsSeen;
      const ok = small.roundTrips.fetchesSeen.every((f) => (hub === 'ssh' ? f === 1 : f <= 1)) && small.roundTrips.pushesSeen.every((p) => p === 1) && (hub !== 'ssh' || conns.every((c) => c <= 1));
      add('round trips', `small round (${hub} hub): ${hub === 'ssh' ? 'one fetch' : 'at most one fetch'}, one push`, `${hub === 'ssh' ? `connections ${conns.join('/')}, ` : ''}fetches ${small.roundTrips.fetchesSeen.join('/')}, pushes ${small.roundTrips.pushesSeen.join('/')}`, hub === 'ssh' ? '1 fetch + 1 push, over at most 1 new connection (agentgit shares one, and keeps it for the next round: git/ssh.ts)' : '≤ 1 fetch, 1 push', ok);
    }
  }
  for (const variant of ['base', 'scale']) {
    const tag = variant === 'scale' ? ' (scale variant)' : '';
    ratioGoal('no-op', `no-op round, file hub${tag}: vs node start-up + floor`, med(wl('file', variant, 'noop')?.ratios.floorNode), 1.3);
    ratioGoal('no-op', `no-op round, ssh hub${tag}: vs plain git's no-op`, med(wl('ssh', variant, 'noop')?.ratios.plain), 1.2);
  }
  ratioGoal('small / divergent', 'small round, ssh hub: vs plain git', med(wl('ssh', 'base', 'small')?.ratios.plain), 1.5);
  ratioGoal('small / divergent', 'divergent round of 1 file, ssh hub: vs plain git', med(wl('ssh', 'base', 'div1')?.ratios.plain), 1.5);
  for (const hub of ['file', 'ssh']) ratioGoal('small / divergent', `divergent round of 1,000 files, ${hub} hub: vs plain git (union)`, med(wl(hub, 'scale', 'div1000')?.ratios.plain), 2);
  // git-sync
  const gsRatios = [];
  for (const hub of ['file', 'ssh']) for (const variant of ['base', 'scale']) for (const w of R.rounds?.[hub]?.[variant] ?? []) if (w.ratios.gitsync) gsRatios.push([`${hub}/${variant}/${w.id}`, med(w.ratios.gitsync)]);
  if (gsRatios.length) {
    const worst = gsRatios.reduce((a, b) => (b[1] > a[1] ? b : a));
    add('git-sync', 'faster than git-sync on every workload', `worst ${x2(worst[1])} (${worst[0]})`, '< 1x', worst[1] < 1);
  } else add('git-sync', 'faster than git-sync on every workload', `not measured: git-sync not found${R.gitSync?.searched ? ` (${R.gitSync.searched})` : ''}`, '< 1x', null);
  // cron mode beside git-sync (issue #14): ssh no slower on no-op, small and 1-file divergent rounds, ≤ 1.2x on 100-file ones; file hub ≤ 1.3x
  const cronIds = { noop: 'no-op', small: 'small', div1: '1-file divergent', div100: '100-file divergent' };
  for (const hub of ['ssh', 'file']) {
    for (const [id, name] of Object.entries(cronIds)) {
      const w = wl(hub, 'base', id);
      if (!w?.ratios?.gitsync) continue;
      const lim = hub === 'file' ? 1.3 : id === 'div100' ? 1.2 : 1;
      ratioGoal('cron (#14)', `${hub} hub: ${name} round vs git-sync's`, med(w.ratios.gitsync), lim);
    }
  }
  // watch mode (issue #14)
  for (const hub of ['file', 'ssh']) {
    const w = R.watch?.[hub];
    if (!w || w.error) continue;
    ratioGoal('watch (#14)', `${hub} hub: no-op poll vs the floor (\`git ls-remote\`${hub === 'ssh' ? ' on an open connection' : ''})`, med(w.noop?.ratio), 1.2);
    ratioGoal('watch (#14)', `${hub} hub: small round vs git-sync's small round`, med(w.small?.ratio), 0.5);
    const p = w.propagation;
    if (p) {
      add('watch (#14)', `${hub} hub: propagation between two watchers, p50 (\`--debounce 500 --poll 1\`, n ${p.n})`, `${(p.p50 / 1000).toFixed(2)} s`, '≤ 1.5 s', p.p50 <= 1500, by(p.p50, 1500));
      const lim = hub === 'ssh' ? 4000 : 3000;
      add('watch (#14)', `${hub} hub: propagation, p99`, `${(p.p99 / 1000).toFixed(2)} s`, `≤ ${lim / 1000} s`, p.p99 <= lim, by(p.p99, lim));
    }
    if (w.idle) add('watch (#14)', `${hub} hub: idle watcher with \`--poll 1\`, CPU`, `${w.idle.cpuPct.toFixed(2)}% of a core (${w.idle.windowSec} s)`, '≤ 2%', w.idle.cpuPct <= 2, by(w.idle.cpuPct, 2));
    if (w.memory) {
      const growth = w.memory.rssEnd / w.memory.rssAt1000;
      add('watch (#14)', `${hub} hub: memory flat over ${w.memory.rounds.toLocaleString('en')} rounds (RSS at the end vs at 1,000 rounds)`, `${mib(w.memory.rssAt1000)} → ${mib(w.memory.rssEnd)} (${x2(growth)})`, '≤ 1.10x', growth <= 1.1);
    }
  }
  // start-up
  ratioGoal('start-up', '`agentgit --version` vs `node -e 0`', med(R.startup?.ratios.version), 1.3);
  // scale memory vs history
  if (R.history) {
    const h = R.history;
    const growth = med(h.long.noopPeakKiB) / med(h.short.noopPeakKiB);
    add('scale', `memory of a no-op sync independent of history (${h.shortCommits} → ${h.longCommits} commits)`, `${mib(med(h.short.noopPeakKiB))} → ${mib(med(h.long.noopPeakKiB))} (${x2(growth)})`, '≤ 1.10x', growth <= 1.1);
    const g2 = med(h.long.smallPeakKiB) / med(h.short.smallPeakKiB);
    add('scale', `memory of a small round independent of history (${h.shortCommits} → ${h.longCommits} commits)`, `${mib(med(h.short.smallPeakKiB))} → ${mib(med(h.long.smallPeakKiB))} (${x2(g2)})`, '≤ 1.10x', g2 <= 1.1);
  }
  // fleet
  for (const hub of ['file', 'ssh']) {
    const f = R.fleet?.[hub]?.agentgit;
    if (!f) continue;
    add('fleet', `${hub} hub: all ${f.instances} converge within 3 rounds after writes stop`, f.settleRounds === null ? `not within ${f.settleMax ?? 'the'} rounds tried` : `${f.settleRounds} round${f.settleRounds === 1 ? '' : 's'}`, '≤ 3', f.settleRounds !== null && f.settleRounds <= 3);
    add('fleet', `${hub} hub: no round fails for good`, `exit 1: ${f.exits[1]}, exit 75: ${f.exits[75]}, not recovered at the end: ${f.neverRecovered}; entries lost: ${f.entriesKept?.missing ?? '?'}`, 'no exit 1, every 75 recovered', f.exits[1] === 0 && f.exits.other === 0 && f.neverRecovered === 0 && (f.entriesKept?.missing ?? 0) === 0);
  }
  // merge bench
  if (R.merge) {
    const top = R.merge.log[R.merge.log.length - 1];
    ratioGoal('merge (#2)', `log of ${+(top.sideBytes / 1.1 / 1e6).toFixed(1)} MB, ${+(top.sideBytes / 11 / 1e6).toFixed(2)} MB appended per side: agentgit vs \`git merge-file --union\``, med(top.ratio), 3);
    const lin = (k) => (k === null || k === undefined ? 'not measured' : `size^${k.toFixed(2)}`);
    add('merge (#2)', 'log merge time linear in input size', lin(R.merge.growth.logTime), 'exponent ≤ 1.2', R.merge.growth.logTime === null ? null : R.merge.growth.logTime <= 1.2);
    add('merge (#2)', 'JSON merge time linear in input size', lin(R.merge.growth.jsonTime), 'exponent ≤ 1.2', R.merge.growth.jsonTime === null ? null : R.merge.growth.jsonTime <= 1.2);
    for (const [name, rows] of [['log', R.merge.log], ['JSON', R.merge.json]]) {
      const r = rows[rows.length - 1];
      const f = (r.agentgitPeakExtraKiB * 1024) / r.inputBytes;
      add('merge (#2)', `${name} merge peak memory vs input (base + ours + theirs, ${(r.inputBytes / 1e6).toFixed(1)} MB)`, `${mib(r.agentgitPeakExtraKiB)} = ${x2(f)} (${x2((r.agentgitPeakExtraKiB * 1024) / r.sideBytes)} of the largest side)`, '< 5x', f < 5, by(f, 5));
    }
  }
  return goals;
}

function roundsTable(rows, hub) {
  const out = [];
  out.push('| workload | agentgit | plain git | ratio to plain (paired) | floor + `node -e 0` | ratio to floor + node | git-sync | ratio to git-sync | agentgit git calls (time in git) | fetch / push | ' + (hub === 'ssh' ? 'connections agentgit / plain | ' : '') + 'peak RSS agentgit / plain | reps |');
  out.push('|' + ' --- |'.repeat(hub === 'ssh' ? 13 : 12));
  for (const w of rows) {
    const rt = w.roundTrips;
    out.push(
      `| ${w.title} | ${ms(med(w.stats.agentgit))}${iqr(w.stats.agentgit)} | ${ms(med(w.stats.plain))}${iqr(w.stats.plain)} | **${x2(med(w.ratios.plain))}** | ${w.stats.floorNode ? `${ms(med(w.stats.floor))} + ${ms(med(w.stats.node))}` : '–'} | ${w.ratios.floorNode ? `**${x2(med(w.ratios.floorNode))}**` : '–'} | ${w.stats.gitsync ? ms(med(w.stats.gitsync)) : 'not measured'} | ${w.ratios.gitsync ? x2(med(w.ratios.gitsync)) : '–'} | ${med(rt.agentgitGitCalls) ?? '–'} (${ms(med(rt.agentgitGitMs))}) | ${rt.fetchesSeen.join('/')} / ${rt.pushesSeen.join('/')} | ` +
        (hub === 'ssh' ? `${rt.connsSeen.join('/')} / ${med(rt.plainConns) ?? '–'} | ` : '') +
        `${mib(w.memory.agentgit)} / ${mib(w.memory.plain)} | ${w.reps} |`,
    );
  }
  const fails = rows.flatMap((w) => w.failures.map((f) => `${w.id}: ${f}`));
  if (fails.length) out.push('', `Failures: ${fails.slice(0, 10).join('; ')}`);
  return out.join('\n');
}

/** IsoGit's rounds (issue #16) beside the git engine's, from the same shuffled repetitions. */
export function isoTable(rows) {
  const out = [];
  out.push('| workload | agentgit, git engine | agentgit, isomorphic-git | IsoGit / git engine (paired) | IsoGit / plain git (paired) | reps |');
  out.push('|' + ' --- |'.repeat(6));
  for (const w of rows) {
    if (!w.stats.isogit) continue;
    out.push(`| ${w.title} | ${ms(med(w.stats.agentgit))}${iqr(w.stats.agentgit)} | ${ms(med(w.stats.isogit))}${iqr(w.stats.isogit)} | **${x2(med(w.ratios.isogit))}** | ${x2(med(w.ratios.isogitPlain))} | ${w.reps} |`);
  }
  return out.join('\n');
}

export function renderDoc(R, previousText = '') {
  let analysis = `${BEGIN}\n_No analysis yet._\n${END}`;
  if (previousText.includes(BEGIN) && previousText.includes(END)) analysis = previousText.slice(previousText.indexOf(BEGIN), previousText.indexOf(END) + END.length);
  const f = R.facts;
  const L = [];
  L.push('# Performance');
  L.push('');
  const runs = R.partialRuns?.length ? `one run, and a later run of the ${[...new Set(R.partialRuns.flatMap((p) => p.suites))].join(' and ')} suite (see below)` : 'one run';
  L.push(`How fast \`agentgit sync\` is beside plain git, git-sync and the floor of what any sync must do (issue #7), and how its merge core compares with git's own union merge (issue #2). Everything here comes from \`npm run bench\` (\`bench/run.mjs\`), ${runs}; \`BENCH_QUICK=1 npm run bench\` is a short smoke run that writes \`bench/results/quick.json\` and leaves this file alone. Raw figures: \`bench/results/full.json\`.`);
  L.push('');
  L.push('## Machine and method');
  L.push('');
  L.push(`- Run: ${R.startedAt} → ${R.finishedAt} (${((Date.parse(R.finishedAt) - Date.parse(R.startedAt)) / 60000).toFixed(0)} min)${R.quick ? ', **quick mode**' : ''}`);
  L.push(`- Machine: ${f.nproc} cores (${f.cpu}), ${f.memoryGiB} GiB memory, ${f.distro}, Linux ${f.kernel}; load average ${f.loadavgStart.join(' / ')} at the start, ${(f.loadavgEnd ?? []).join(' / ')} at the end (other processes were running: this is a shared, noisy machine)`);
  L.push(`- Node ${f.node}, git ${f.git}, ${f.openssh}`);
  if (R.build) L.push(`- Build measured: commit ${R.build.commit}${R.build.dirty?.length ? ` with uncommitted changes to ${R.build.dirty.map((d) => d.replace(/^\s*\S+\s+/, '')).join(', ')}` : ''} (dist fingerprint ${R.build.fingerprint}), copied aside at the start so that rebuilds during the run change nothing`);
  for (const p of R.partialRuns ?? []) {
    L.push(`- Re-run later with the same bench: ${p.suites.join(', ')}, ${p.at} → ${p.finishedAt ?? '?'} (load ${p.loadavgStart?.join(' / ')} → ${p.loadavgEnd?.join(' / ') ?? '?'}; ${Object.entries(p.overrides ?? {}).map(([k, v]) => `\`${k}=${v}\``).join(', ')}), on the build of commit ${p.build?.commit}${p.build?.dirty?.length ? ` with uncommitted changes to ${p.build.dirty.map((d) => d.replace(/^\s*\S+\s+/, '')).join(', ')}` : ''} (dist fingerprint ${p.build?.fingerprint})`);
  }
  if (R.overrides && Object.keys(R.overrides).length) L.push(`- This run was shortened to fit the session: ${Object.entries(R.overrides).map(([k, v]) => `\`${k}=${v}\``).join(', ')} (the defaults of \`npm run bench\` are in \`bench/run.mjs\`)`);
  L.push(`- git-sync: ${R.gitSync?.path ? `\`${R.gitSync.path}\`${R.gitSync.since ? ` (measured in ${R.gitSync.since}: it was not on the machine for the first run)` : ''}` : `not measured: git-sync not found (${R.gitSync?.searched ?? '$GIT_SYNC and PATH'}); it is not packaged for Debian or npm, and this machine has no other network. Set GIT_SYNC=/path/to/git-sync to include it`}`);
  L.push('- Hubs: the test suite\'s own (`test/helpers/hubs.ts`): a bare repo on disk ("file"), and OpenSSH sshd on 127.0.0.1 with key-only login and a forced `git-shell` ("ssh", reached through an ssh config file as a cron job would).');
  L.push('- Workspace (generated, `bench/lib/workspace.mjs`): 365 daily logs of about 8 KB (`memory/YYYY-MM-DD.md`), 20 JSON state files, 10 curated docs; the scale variant adds 10,000 files (8,000 dated topic logs of about 1 KB, 2,000 skill docs of about 1.2 KB).');
  L.push('- Contenders, each in its own clone with its own HOME, no global git config: **agentgit** `agentgit sync -C DIR --quiet` (the cron line; `AGENTGIT_TRACE=1` to count its git calls, fetches and pushes); **plain git** `git add -A && git commit; git pull --no-rebase; git push` as one `sh -c` script with `merge=union` on the logs; **floor** `git status --porcelain && git fetch` in a plain clone of agentgit\'s hub repo; **node** `node -e 0`, in the instances\' environment like every contender (not the bench\'s own: on this VM it sets NODE_EXTRA_CA_CERTS, which makes each Node start read a certificate bundle, about 45 ms, and made `node -e 0` look that much slower in runs before 2026-12-04 13:30).');
  L.push('- Pairing: each repetition first brings every contender to the same state (untimed: the other instance\'s writes and push, then this instance\'s writes), then times them one after another in a fresh random order. Figures are medians (interquartile range in brackets); ratios are medians of the per-repetition ratios, so a burst of load on the machine falls on one repetition of every contender, not on one contender.');
  L.push('- No-op rounds are measured in steady state: before each, the instance\'s last heartbeat is marked as just published (`lastHeartbeatAt` in `.git/agentgit/state.json`), so the round has nothing to push (`health.heartbeatSeconds`, 120 s by default).');
  L.push('- Edits: log entries appended at the end; JSON changes to keys 30+ lines apart on the two instances, so git\'s line merge also merges them and the plain-git baseline completes (a `last_updated` key that both sides change would stop plain git on a conflict).');
  L.push('- Peak memory: GNU time\'s maximum resident set of the command and its children (for agentgit: the largest of node and its git processes), from one extra repetition.');
  L.push('');
  L.push('## Goals');
  L.push('');
  L.push('| area | goal | measured | limit | result |');
  L.push('| --- | --- | --- | --- | --- |');
  for (const g of evaluateGoals(R)) L.push(`| ${g.area} | ${g.goal} | ${g.value} | ${g.limit} | ${g.met === null ? 'not measured' : g.met ? `met${g.detail ? ` (${g.detail})` : ''}` : `**missed**${g.detail ? ` (${g.detail})` : ''}`} |`);
  L.push('');
  L.push(analysis);
  L.push('');
  if (R.startup) {
    const s = R.startup;
    L.push('## Start-up');
    L.push('');
    L.push(`| command | median | ratio to \`node -e 0\` (paired) |`);
    L.push('| --- | --- | --- |');
    L.push(`| \`node -e 0\` | ${ms(med(s.stats.node))}${iqr(s.stats.node)} | 1.00x |`);
    L.push(`| \`agentgit --version\` | ${ms(med(s.stats.version))}${iqr(s.stats.version)} | **${x2(med(s.ratios.version))}** |`);
    L.push(`| loading the modules of \`agentgit sync\` (diagnostic: \`sync -C\` a directory that does not exist) | ${ms(med(s.stats.syncImport))}${iqr(s.stats.syncImport)} | ${x2(med(s.ratios.syncImport))} |`);
    L.push('');
    L.push(`${s.reps} repetitions.`);
    L.push('');
  }
  for (const hub of ['file', 'ssh']) {
    const r = R.rounds?.[hub];
    if (!r) continue;
    L.push(`## Rounds over the ${hub} hub`);
    L.push('');
    if (r.error) L.push(`Not measured: ${r.error}`, '');
    if (r.base) {
      L.push(`One-year workspace (${r.baseFiles ?? '?'} files):`);
      L.push('');
      L.push(roundsTable(r.base, hub));
      L.push('');
      const cold = r.base.find((w) => w.stats.agentgitCold);
      if (cold && cold.ratios.coldGitsync) {
        L.push(`The rounds above ride the ssh master that the round before them left up (docs/sync.md; the connections column counts new logins). Without it (\`AGENTGIT_SSH_PERSIST=0\`: each round logs in and closes its connection, as the first round after more than 5 idle minutes does), the no-op round took ${ms(med(cold.stats.agentgitCold))}${iqr(cold.stats.agentgitCold)}, **${x2(med(cold.ratios.coldGitsync))}** git-sync's (paired, same repetitions).`);
        L.push('');
      }
      if (r.base.some((w) => w.stats.isogit)) {
        L.push('The same rounds on the isomorphic-git engine (`AGENTGIT_ENGINE=isomorphic-git`, its own pair of instances and hub repo, timed in the same shuffled repetitions; docs/engines.md):');
        L.push('');
        L.push(isoTable(r.base));
        L.push('');
      }
    }
    if (r.scale) {
      L.push(`Scale variant (${r.scaleFiles ?? '?'} files):`);
      L.push('');
      L.push(roundsTable(r.scale, hub));
      L.push('');
    }
  }
  for (const hub of ['file', 'ssh']) {
    const w = R.watch?.[hub];
    if (!w) continue;
    L.push(`## Watch mode over the ${hub} hub (issue #14)`);
    L.push('');
    if (w.error) {
      L.push(`Not measured: ${w.error}`, '');
      continue;
    }
    L.push(`\`bench/watch.mjs\`: two instances run \`agentgit watch --debounce 500 --poll 1\` on the generated workspace (${w.files} files); git-sync and the floor in their own clones, paired per repetition.`);
    L.push('');
    L.push('| measure | agentgit watch | beside it | ratio (paired) |');
    L.push('| --- | --- | --- | --- |');
    if (w.noop) L.push(`| no-op poll (${w.noop.how.join(', ')}), ${w.noop.reps} reps | ${ms(med(w.noop.pollMs))}${iqr(w.noop.pollMs)} | floor \`git ls-remote\`${hub === 'ssh' ? ' over a ControlMaster' : ''}: ${ms(med(w.noop.floorMs))}${iqr(w.noop.floorMs)} | **${x2(med(w.noop.ratio))}** |`);
    if (w.small) L.push(`| small round (10 files), ${w.small.reps} reps: from the decision to the end (the round alone) | ${ms(med(w.small.agentgit))}${iqr(w.small.agentgit)} (${ms(med(w.small.agentgitRound))}) | git-sync: ${ms(med(w.small.gitsync))}${iqr(w.small.gitsync)} | **${x2(med(w.small.ratio))}** |`);
    if (w.small?.push) L.push(`| the floor of any small round, same reps: \`git push\` alone of the same edits (plain clone${hub === 'ssh' ? ', open connection' : ''}) | – | git push: ${ms(med(w.small.push))}${iqr(w.small.push)} | ${x2(med(w.small.pushRatio))} of git-sync's round |`);
    if (w.propagation) L.push(`| propagation A↔B, ${w.propagation.n} entries | p50 ${ms(w.propagation.p50)}, p90 ${ms(w.propagation.p90)}, p99 ${ms(w.propagation.p99)}, max ${ms(w.propagation.max)} | | |`);
    if (w.idle) L.push(`| idle, ${w.idle.windowSec} s | ${w.idle.cpuPct.toFixed(2)}% of a core, ${w.idle.polls} polls, ${w.idle.rounds} rounds, RSS ${mib(w.idle.rssKiB)} | | |`);
    if (w.memory) L.push(`| ${w.memory.rounds.toLocaleString('en')} rounds back to back (${w.memory.minutes.toFixed(0)} min) | RSS ${mib(w.memory.rssAt1000)} at 1,000, ${mib(w.memory.rssEnd)} at the end; second half ${mib(w.memory.secondHalfMin)}–${mib(w.memory.secondHalfMax)} | | |`);
    L.push('');
  }
  if (R.history) {
    const h = R.history;
    L.push('## Memory and history length');
    L.push('');
    L.push(`One instance on the file hub (one-year workspace), before and after ${h.longCommits - h.shortCommits} commits were added to its history (git fast-import, pushed to the hub).`);
    L.push('');
    L.push('| round | history | median time | median peak RSS |');
    L.push('| --- | --- | --- | --- |');
    for (const [label, s] of [[`${h.shortCommits} commit${h.shortCommits === 1 ? '' : 's'}`, h.short], [`${h.longCommits} commits`, h.long]]) {
      L.push(`| no-op | ${label} | ${ms(med(s.noopMs))} | ${mib(med(s.noopPeakKiB))} |`);
      L.push(`| small | ${label} | ${ms(med(s.smallMs))} | ${mib(med(s.smallPeakKiB))} |`);
    }
    L.push('');
    L.push('The two series ran one after the other, minutes apart, so their times are not paired and moved with the machine\'s load; peak memory does not depend on load, and it is what the goal is about.');
    L.push('');
  }
  for (const hub of ['file', 'ssh']) {
    const fl = R.fleet?.[hub];
    if (!fl) continue;
    L.push(`## Fleet over the ${hub} hub`);
    L.push('');
    if (fl.error) {
      L.push(`Not measured: ${fl.error}`, '');
      continue;
    }
    L.push(`${fl.agentgit.instances} instances, ${fl.agentgit.rounds} rounds: each round every instance appends to today's daily log and changes its own key of one shared JSON file, then all sync at once. Then rounds without writes until all hold the hub's head with a clean work tree.`);
    L.push('');
    L.push('| | round (until the last instance is done) | retries per round (pushes beyond the first) | most tries by one instance | exit 0 / 1 / 75 | rounds to converge after writes stop | writes phase | converged after |');
    L.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const k of ['agentgit', 'plain']) {
      const x = fl[k];
      if (!x) continue;
      L.push(`| ${k === 'agentgit' ? 'agentgit' : 'plain git (orientation)'}, ${x.rounds} rounds | ${ms(med(x.roundWallMs))}${iqr(x.roundWallMs)} | ${med(x.retriesPerRound)} (max ${x.retriesPerRound.max}) | ${x.maxTries} | ${x.exits[0]} / ${x.exits[1]} / ${x.exits[75]} | ${x.settleRounds ?? 'not converged'} | ${(x.writePhaseMs / 1000).toFixed(0)} s | ${(x.convergeMs / 1000).toFixed(0)} s |`);
    }
    if (fl.plain) L.push('', `Ratio of the median round times (agentgit / plain git): ${x2(med(fl.agentgit.roundWallMs) / med(fl.plain.roundWallMs))}. Not paired: plain git's fleet ran after agentgit's, for ${fl.plain.rounds} rounds, so it is orientation only.`);
    L.push('', `Every entry written kept and the daily log byte-identical on all instances: ${fl.agentgit.identical && fl.agentgit.entriesKept?.missing === 0 ? 'yes' : `no (missing ${fl.agentgit.entriesKept?.missing}, identical ${fl.agentgit.identical})`}.`);
    L.push('');
  }
  if (R.merge) {
    const m = R.merge;
    L.push('## Merge core (issue #2)');
    L.push('');
    L.push('In-process `mergeFile` (dist/merge/index.js) in a fresh Node process per run: time of read + merge + write, and peak memory above the process\'s resident set before the inputs were read. git: process wall time and GNU time\'s peak RSS.');
    L.push('');
    L.push('| input | agentgit (merge alone) | git | ratio (paired) | agentgit peak above baseline | git peak RSS | inputs (base + ours + theirs) |');
    L.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (const r of m.log) L.push(`| log of ${(r.sideBytes / 1.1 / 1e6).toFixed(1)} MB, ${(r.sideBytes / 11 / 1e6).toFixed(2)} MB appended on each side, vs \`git merge-file --union\` | ${ms(med(r.agentgitMs))} (${ms(med(r.agentgitMergeMs))}) | ${ms(med(r.gitMs))} | **${x2(med(r.ratio))}** | ${mib(r.agentgitPeakExtraKiB)} | ${mib(r.gitPeakKiB)} | ${(r.inputBytes / 1e6).toFixed(1)} MB |`);
    for (const r of m.json) L.push(`| JSON, ${(r.sideBytes / 1e6).toFixed(1)} MB, ${Math.round(1000 * r.scale)} keys changed per side vs \`git merge-file\` (line merge, orientation) | ${ms(med(r.agentgitMs))} (${ms(med(r.agentgitMergeMs))}) | ${ms(med(r.gitMs))} | ${x2(med(r.ratio))} | ${mib(r.agentgitPeakExtraKiB)} | ${mib(r.gitPeakKiB)} | ${(r.inputBytes / 1e6).toFixed(1)} MB |`);
    L.push('');
    const g = m.growth;
    const k = (v) => (v === null || v === undefined ? '–' : v.toFixed(2));
    L.push(`Growth from the smallest to the largest input (time ∝ size^k): log merge k = ${k(g.logTime)} (git --union: ${k(g.gitLogTime)}), JSON merge k = ${k(g.jsonTime)}; peak memory k = ${k(g.logMemory)} (log), ${k(g.jsonMemory)} (JSON).`);
    L.push('');
    L.push(`One \`agentgit merge-driver\` process per file (what \`git merge\` with the registered drivers starts), on a ${(m.driver.fileBytes / 1000).toFixed(1)} KB daily log: ${ms(med(m.driver.driverMs))} a file; the same merge in-process: ${ms(m.driver.inProcessMergeMs)}.`);
    L.push('');
  }
  return L.join('\n') + '\n';
}

export function writeDoc(file, R) {
  const prev = existsSync(file) ? readFileSync(file, 'utf8') : '';
  writeFileSync(file, renderDoc(R, prev));
}
