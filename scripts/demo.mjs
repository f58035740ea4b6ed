#!/usr/bin/env node
// `npm run demo`: a temporary bare hub and two instances of one agent write
// conflicting log entries and JSON edits at the same time, both sync, and
// the merged files and the hub's history are printed. Leaves nothing behind.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'agentgit');
const root = mkdtempSync(join(tmpdir(), 'agentgit-demo-'));
const env = { ...process.env, AGENTGIT_HOME: join(root, 'home'), GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const say = (s) => process.stdout.write(`\n\x1b[1m== ${s}\x1b[0m\n`);
const run = (cmd, args, cwd = root) => {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8' });
  if (r.stdout) process.stdout.write(r.stdout);
  if (r.stderr) process.stdout.write(r.stderr);
  if (r.status !== 0 && r.status !== 75) {
    process.stderr.write(`demo: ${cmd} ${args.join(' ')} failed with exit ${r.status}\n`);
    process.exit(1);
  }
  return r;
};
const ag = (...args) => run(process.execPath, [bin, ...args]);
const write = (dir, p, s) => {
  mkdirSync(dirname(join(dir, p)), { recursive: true });
  writeFileSync(join(dir, p), s);
};
const show = (dir, p) => process.stdout.write(`--- ${p}\n${readFileSync(join(dir, p), 'utf8')}`);

try {
  const hub = join(root, 'hub.git');
  const a = join(root, 'laptop');
  const b = join(root, 'server');
  const day = 'memory/2026-11-25.md';
  const tasks = 'mission-control/tasks.json';

  say('a bare hub, and instance "laptop" with some state');
  run('git', ['init', '-q', '--bare', '-b', 'main', hub]);
  write(a, 'SOUL.md', '# Soul\n\nI am Kevin. I help with email and calendars.\n');
  write(a, day, '# 2026-11-25\n\n## Morning (9:00 AM)\n- [ ] reply to Ann\n');
  write(a, tasks, JSON.stringify({ tasks: [{ id: 1, title: 'Reply to Ann', status: 'todo', updated_at: '2026-11-25T09:00:00Z' }], last_updated: '2026-11-25T09:00:00Z' }, null, 2) + '\n');
  ag('init', '-C', a, '--remote', hub, '--agent', 'kevin', '--instance', 'laptop');

  say('instance "server" joins (agentgit clone), and laptop admits it (agentgit trust add)');
  const cloned = ag('clone', hub, b, '--instance', 'server');
  const line = /agentgit trust add '([^']+)'/.exec(cloned.stdout)?.[1];
  if (!line) throw new Error('clone did not print the trust command');
  ag('trust', 'add', line, '-C', a);
  ag('sync', '-C', b, '--quiet');

  say('both write at the same time, without syncing in between');
  appendFileSync(join(a, day), '- [x] reply to Ann (sent 9:12)\n\n## Lunch (1:40 PM)\n- booked table for two\n');
  appendFileSync(join(b, day), '\n## Errands (11:05 AM)\n- renewed the parking permit\n');
  const ta = JSON.parse(readFileSync(join(a, tasks), 'utf8'));
  ta.tasks[0].status = 'done';
  ta.tasks[0].updated_at = '2026-11-25T09:12:00Z';
  ta.tasks.push({ id: 2, title: 'Book dentist', status: 'todo', updated_at: '2026-11-25T13:41:00Z' });
  ta.last_updated = '2026-11-25T13:41:00Z';
  writeFileSync(join(a, tasks), JSON.stringify(ta, null, 2) + '\n');
  const tb = JSON.parse(readFileSync(join(b, tasks), 'utf8'));
  tb.tasks[0].title = 'Reply to Ann about Friday';
  tb.tasks[0].updated_at = '2026-11-25T11:00:00Z';
  tb.tasks.push({ id: 3, title: 'Pay parking fine', status: 'todo', updated_at: '2026-11-25T11:06:00Z' });
  tb.last_updated = '2026-11-25T11:06:00Z';
  writeFileSync(join(b, tasks), JSON.stringify(tb, null, 2) + '\n');

  say('both sync at once (agentgit sync)');
  const procs = await Promise.all([a, b].map((d) => new Promise((resolve) => {
    const c = spawn(process.execPath, [bin, 'sync', '-C', d], { env });
    let out = '';
    c.stdout.on('data', (x) => (out += x));
    c.stderr.on('data', (x) => (out += x));
    c.on('close', (code) => resolve({ out, code }));
  })));
  for (const [i, r] of procs.entries()) process.stdout.write(`${i ? 'server' : 'laptop'} (exit ${r.code}): ${r.out}`);
  say('one more round each, so both hold the hub\'s head');
  ag('sync', '-C', a);
  ag('sync', '-C', b);

  say('merged files (identical on both instances)');
  show(b, day);
  show(b, tasks);
  const same = [day, tasks, 'SOUL.md'].every((p) => readFileSync(join(a, p), 'utf8') === readFileSync(join(b, p), 'utf8'));
  process.stdout.write(`\nlaptop and server hold byte-identical files: ${same ? 'yes' : 'NO'}\n`);

  say('the hub\'s history (plain git log; %G? = G: signed by an admitted instance)');
  run('git', ['--no-pager', '-c', `gpg.ssh.allowedSignersFile=${join(a, '.agentgit/allowed_signers')}`, 'log', '--graph', '--format=%h %G? %an: %s', 'main'], hub);
  if (!same) process.exit(1);
} finally {
  rmSync(root, { recursive: true, force: true });
}
