/**
 * `agentgit schedule`: the systemd units and the crontab line it writes, in a
 * scratch HOME/XDG_CONFIG_HOME, with fake `systemctl` and `crontab` commands
 * on PATH that record what they were asked (the real ones would touch this
 * machine's user manager and root's crontab). Unit files are checked with
 * `systemd-analyze verify` where that binary exists.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, BIN, cleanupTemp, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';
import { cronCompactLine, cronFields, cronLine, editCrontab, onCalendar, parseEvery, systemdQuote, unitNames } from '../../src/sync/schedule.js';

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

let home: string;
let fakebin: string;
let repo: string;
let repo2: string;
let env: NodeJS.ProcessEnv;
const unitDir = (): string => join(home, 'xdg', 'systemd', 'user');
const crontabFile = (): string => join(home, 'crontab.txt');
const systemctlLog = (): string => (existsSync(join(home, 'systemctl.log')) ? readFileSync(join(home, 'systemctl.log'), 'utf8') : '');

beforeAll(async () => {
  home = tempDir('agentgit-schedule-');
  fakebin = join(home, 'fakebin');
  mkdirSync(fakebin);
  // systemctl: a user manager that answers, logging every call
  writeFileSync(join(fakebin, 'systemctl'), `#!/bin/sh\necho "$*" >> '${home}/systemctl.log'\nexit 0\n`);
  // crontab: -l prints the stored table (or "no crontab", exit 1, as cron does); - stores stdin
  writeFileSync(
    join(fakebin, 'crontab'),
    `#!/bin/sh\nf='${home}/crontab.txt'\nif [ "$1" = "-l" ]; then [ -f "$f" ] || { echo "no crontab for $(id -un)" >&2; exit 1; }; cat "$f"; exit 0; fi\nif [ "$1" = "-" ]; then cat > "$f"; exit 0; fi\necho "fake crontab: unexpected $*" >&2; exit 1\n`,
  );
  chmodSync(join(fakebin, 'systemctl'), 0o755);
  chmodSync(join(fakebin, 'crontab'), 0o755);
  // a unit of the user's own, which no schedule command may touch
  mkdirSync(join(home, 'xdg', 'systemd', 'user'), { recursive: true });
  writeFileSync(join(home, 'xdg', 'systemd', 'user', 'mine.service'), '[Service]\nExecStart=/bin/true\n');
  env = testEnv(home, { PATH: `${fakebin}:${process.env.PATH}`, XDG_CONFIG_HOME: join(home, 'xdg') });
  const hub = makeBareHub();
  repo = join(home, 'my agent');
  repo2 = join(home, 'other');
  for (const r of [repo, repo2]) {
    mkdirSync(r);
    const init = await agentgit(['init', '-C', r, '--remote', hub, '--agent', 'kevin'], { env });
    if (init.code !== 0) throw new Error(init.stderr);
  }
});
afterAll(() => cleanupTemp());

function analyze(files: string[]): void {
  if (!hasAnalyze) {
    console.warn('systemd-analyze not found: unit files checked by content only');
    return;
  }
  const r = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice' } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

describe('schedule --systemd', () => {
  it('writes a oneshot service + timer with absolute paths, SuccessExitStatus=75; idempotent; remove deletes exactly them', async () => {
    const names = unitNames(repo);
    for (let i = 0; i < 2; i++) {
      const r = await agentgit(['schedule', 'install', '--systemd', '--every', '5m', '-C', join(repo, '.')], { env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    expect(readdirSync(unitDir()).sort()).toEqual([names.service, names.timer, 'mine.service'].sort());
    const service = readFileSync(join(unitDir(), names.service), 'utf8');
    const timer = readFileSync(join(unitDir(), names.timer), 'utf8');
    expect(service).toContain('Type=oneshot\n');
    expect(service).toContain(`ExecStart="${process.execPath}" "${BIN}" "sync" "-C" "${repo}" "--quiet" "--timeout" "120"\n`);
    expect(service).toContain('SuccessExitStatus=75\n');
    expect(service).toMatch(/^Environment="PATH=[^"]*\/usr\/bin:\/bin"$/m);
    expect(timer).toContain('OnCalendar=*-*-* *:00/5:00\n');
    expect(timer).toContain('Persistent=true\n');
    expect(timer).toContain(`Unit=${names.service}\n`);
    expect(timer).toContain('WantedBy=timers.target\n');
    analyze([join(unitDir(), names.service), join(unitDir(), names.timer)]);
    expect(systemctlLog()).toContain(`--user daemon-reload\n--user enable --now ${names.timer}\n`);

    // a second repo gets its own units, the first repo's stay
    const r2 = await agentgit(['schedule', 'install', '--systemd', '-C', repo2], { env });
    expect(r2.code).toBe(0);
    expect(readdirSync(unitDir()).length).toBe(5);
    expect(readFileSync(join(unitDir(), unitNames(repo2).timer), 'utf8')).toContain('OnCalendar=*-*-* *:*:00\n');

    const shown = await agentgit(['schedule', 'show', '--systemd', '--json', '-C', repo], { env });
    expect(shown.code).toBe(0);
    const j = JSON.parse(shown.stdout) as { installed: { systemd: Array<{ path: string; text: string }> } };
    expect(j.installed.systemd.map((u) => u.path).sort()).toEqual([join(unitDir(), names.service), join(unitDir(), names.timer)].sort());

    const rm = await agentgit(['schedule', 'remove', '-C', repo], { env });
    expect(rm.code).toBe(0);
    expect(systemctlLog()).toContain(`--user disable --now ${names.timer}\n`);
    expect(readdirSync(unitDir()).sort()).toEqual([unitNames(repo2).service, unitNames(repo2).timer, 'mine.service'].sort());
    expect(readFileSync(join(unitDir(), 'mine.service'), 'utf8')).toBe('[Service]\nExecStart=/bin/true\n');
    const again = await agentgit(['schedule', 'remove', '--systemd', '-C', repo], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`nothing installed for ${repo}\n`);
    await agentgit(['schedule', 'remove', '-C', repo2], { env });
  });

  it('--watch: a service running `agentgit watch -C ROOT --quiet`, restarted on failure, stopped by SIGTERM; replaces the timer', async () => {
    const names = unitNames(repo);
    expect((await agentgit(['schedule', 'install', '--systemd', '-C', repo], { env })).code).toBe(0);
    const r = await agentgit(['schedule', 'install', '--watch', '-C', repo], { env });
    expect(r.code).toBe(0);
    expect(existsSync(join(unitDir(), names.timer))).toBe(false);
    expect(existsSync(join(unitDir(), names.service))).toBe(false);
    const text = readFileSync(join(unitDir(), names.watch), 'utf8');
    expect(text).toContain(`ExecStart="${process.execPath}" "${BIN}" "watch" "-C" "${repo}" "--quiet"\n`);
    expect(text).toContain('Restart=on-failure\n');
    expect(text).toContain('KillSignal=SIGTERM\n');
    expect(text).toContain('WantedBy=default.target\n');
    analyze([join(unitDir(), names.watch)]);
    expect(systemctlLog()).toContain(`--user enable --now ${names.watch}\n`);
    expect((await agentgit(['schedule', 'remove', '-C', repo], { env })).code).toBe(0);
    expect(readdirSync(unitDir())).toEqual(['mine.service']);
  });

  it('with no user manager: writes the files and prints the systemctl command to run', async () => {
    const bare = join(home, 'nomgr');
    mkdirSync(bare, { recursive: true });
    writeFileSync(join(bare, 'systemctl'), '#!/bin/sh\necho "Failed to connect to bus: No medium found" >&2\nexit 1\n');
    writeFileSync(join(bare, 'crontab'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(bare, 'systemctl'), 0o755);
    chmodSync(join(bare, 'crontab'), 0o755);
    const e2 = { ...env, PATH: `${bare}:${process.env.PATH}` };
    const r = await agentgit(['schedule', 'install', '--systemd', '-C', repo], { env: e2 });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`systemctl --user daemon-reload && systemctl --user enable --now ${unitNames(repo).timer}`);
    expect(existsSync(join(unitDir(), unitNames(repo).timer))).toBe(true);
    expect((await agentgit(['schedule', 'remove', '--systemd', '-C', repo], { env: e2 })).code).toBe(0);
    expect(readdirSync(unitDir())).toEqual(['mine.service']);
  });
  it('a user manager that refuses to enable the timer: exit 1 naming the command; the files stay for a retry', async () => {
    const refusing = join(home, 'refusing');
    mkdirSync(refusing, { recursive: true });
    writeFileSync(join(refusing, 'systemctl'), '#!/bin/sh\n[ "$2" = show-environment ] && exit 0\n[ "$2" = daemon-reload ] && exit 0\necho "Failed to enable unit: Access denied" >&2\nexit 1\n');
    chmodSync(join(refusing, 'systemctl'), 0o755);
    const e2 = { ...env, PATH: `${refusing}:${process.env.PATH}` };
    const r = await agentgit(['schedule', 'install', '--systemd', '-C', repo], { env: e2 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`\`systemctl --user enable --now ${unitNames(repo).timer}\` failed: Failed to enable unit: Access denied`);
    expect(existsSync(join(unitDir(), unitNames(repo).timer))).toBe(true);
    expect((await agentgit(['schedule', 'remove', '--systemd', '-C', repo], { env })).code).toBe(0);
    expect(readdirSync(unitDir())).toEqual(['mine.service']);
  });
});

describe('schedule --cron', () => {
  it('adds exactly one marked line, keeps the other lines, and the line runs a quiet sync', async () => {
    const before = 'MAILTO=ops@example.com\n# my jobs\n*/5 * * * * /usr/local/bin/backup.sh # agentgit:/elsewhere\n';
    writeFileSync(crontabFile(), before);
    for (const every of ['1m', '1m', '15m']) {
      const r = await agentgit(['schedule', 'install', '--cron', '--every', every, '-C', repo], { env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const lines = readFileSync(crontabFile(), 'utf8').split('\n');
    expect(lines.slice(0, 3).join('\n') + '\n').toBe(before);
    const ours = lines.filter((l) => l.endsWith(`# agentgit:${repo}`));
    expect(ours.length).toBe(1);
    expect(lines.length).toBe(5); // 3 kept + ours + final newline

    // it parses: 5 time fields, then the command; absolute paths that exist
    const line = ours[0]!;
    const fields = line.split(/\s+/);
    expect(fields.slice(0, 5)).toEqual(['*/15', '*', '*', '*', '*']);
    const command = line.replace(/^(\S+\s+){5}/, '');
    expect(command).toMatch(/^PATH=\S+ /);
    const words = command.match(/'(?:[^']|'\\'')*'|\S+/g)!.map((w) => (w.startsWith("'") ? w.slice(1, -1).replace(/'\\''/g, "'") : w));
    expect(words[1]).toBe(process.execPath);
    expect(words[2]).toBe(BIN);
    expect(words.slice(3, 9)).toEqual(['sync', '-C', repo, '--quiet', '--timeout', '120']);
    for (const p of [words[1]!, words[2]!, words[5]!]) {
      expect(p.startsWith('/')).toBe(true);
      expect(existsSync(p)).toBe(true);
    }
    // cron runs the command with /bin/sh and a short PATH: it syncs and prints nothing
    const run = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', env: { ...testEnv(home), PATH: '/nonexistent' }, cwd: '/' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('');
    expect(run.status).toBe(0);

    const shown = await agentgit(['schedule', 'show', '--cron', '-C', repo], { env });
    expect(shown.stdout).toContain(line);

    const rm = await agentgit(['schedule', 'remove', '--cron', '-C', repo], { env });
    expect(rm.code).toBe(0);
    expect(readFileSync(crontabFile(), 'utf8')).toBe(before);
    const again = await agentgit(['schedule', 'remove', '-C', repo], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`nothing installed for ${repo}\n`);
  });

  it('with no flag: systemd when a user manager answers, else cron', async () => {
    const nomgr = join(home, 'nomgr2');
    mkdirSync(nomgr, { recursive: true });
    writeFileSync(join(nomgr, 'systemctl'), '#!/bin/sh\necho "Failed to connect to bus: No medium found" >&2\nexit 1\n');
    chmodSync(join(nomgr, 'systemctl'), 0o755);
    const noManager = { ...env, PATH: `${nomgr}:${fakebin}:${process.env.PATH}` };
    const viaCron = await agentgit(['schedule', 'install', '-C', repo2], { env: noManager });
    expect(viaCron.code).toBe(0);
    expect(readFileSync(crontabFile(), 'utf8')).toContain(`# agentgit:${repo2}\n`);
    expect(existsSync(join(unitDir(), unitNames(repo2).timer))).toBe(false);
    const viaSystemd = await agentgit(['schedule', 'show', '--json', '-C', repo2], { env });
    expect((JSON.parse(viaSystemd.stdout) as { install: { mode: string } }).install.mode).toBe('systemd');
    expect((await agentgit(['schedule', 'remove', '-C', repo2], { env: noManager })).code).toBe(0);
    expect(readFileSync(crontabFile(), 'utf8')).not.toContain(`agentgit:${repo2}`);
  });

  it('refuses periods cron cannot run and bad combinations, with exit 2; a non-repo exits 1 naming it', async () => {
    const fast = await agentgit(['schedule', 'install', '--cron', '--every', '30s', '-C', repo], { env });
    expect(fast.code).toBe(2);
    expect(fast.stderr).toMatch(/cron cannot run more often than once a minute/);
    const both = await agentgit(['schedule', 'show', '--cron', '--systemd', '-C', repo], { env });
    expect(both.code).toBe(2);
    const odd = await agentgit(['schedule', 'install', '--every', '7m', '-C', repo], { env });
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/divide/);
    const watchCron = await agentgit(['schedule', 'install', '--cron', '--watch', '-C', repo], { env });
    expect(watchCron.code).toBe(2);
    const plain = tempDir();
    const nr = await agentgit(['schedule', 'install', '-C', plain], { env });
    expect(nr.code).toBe(1);
    expect(nr.stderr).toContain(plain);
    expect(existsSync(crontabFile()) ? readFileSync(crontabFile(), 'utf8') : '').not.toContain(plain);
  });
});

describe('schedule: the daily compaction when the policy has a "compaction" block', () => {
  it('systemd: a daily compact auto service + timer beside the sync units, verified; cron: a second marked line that parses and runs quietly; show and remove know both', async () => {
    const repo3 = join(home, 'compacting');
    mkdirSync(repo3);
    const init = await agentgit(['init', '-C', repo3, '--remote', makeBareHub(), '--agent', 'kevin'], { env });
    expect(init.code, init.stderr).toBe(0);
    // no block yet: nothing about compaction is installed
    const plain = await agentgit(['schedule', 'show', '--systemd', '--json', '-C', repo3], { env });
    expect((JSON.parse(plain.stdout) as { install: { compact: boolean; files: unknown[] } }).install).toMatchObject({ compact: false, files: [{}, {}] });
    writeFileSync(join(repo3, '.agentgit', 'config.json'), `${JSON.stringify({ version: 1, compaction: { logsOlderThan: '90d' } }, null, 2)}\n`);
    expect((await agentgit(['sync', '-C', repo3], { env })).code).toBe(0);

    const names = unitNames(repo3);
    const r = await agentgit(['schedule', 'install', '--systemd', '-C', repo3], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/and `agentgit compact auto` daily at 03:00/);
    const service = readFileSync(join(unitDir(), names.compact), 'utf8');
    const timer = readFileSync(join(unitDir(), names.compactTimer), 'utf8');
    expect(service).toContain(`ExecStart="${process.execPath}" "${BIN}" "compact" "auto" "-C" "${repo3}" "--quiet"\n`);
    expect(service).toContain('SuccessExitStatus=75\n');
    expect(timer).toContain('OnCalendar=*-*-* 03:00:00\n');
    expect(timer).toContain(`Unit=${names.compact}\n`);
    analyze([names.service, names.timer, names.compact, names.compactTimer].map((n) => join(unitDir(), n)));
    expect(systemctlLog()).toContain(`--user enable --now ${names.timer} ${names.compactTimer}\n`);
    const shown = await agentgit(['schedule', 'show', '--systemd', '-C', repo3], { env });
    expect(shown.stdout).toContain(`# ${join(unitDir(), names.compactTimer)}`);
    expect((await agentgit(['schedule', 'remove', '--systemd', '-C', repo3], { env })).code).toBe(0);
    expect(systemctlLog()).toContain(`--user disable --now ${names.timer} ${names.compactTimer}\n`);
    expect(existsSync(join(unitDir(), names.compact)) || existsSync(join(unitDir(), names.compactTimer))).toBe(false);

    // cron: the sync line and the compaction line, each marked; reinstalling keeps exactly these two
    for (let i = 0; i < 2; i++) expect((await agentgit(['schedule', 'install', '--cron', '-C', repo3], { env })).code).toBe(0);
    const table = readFileSync(crontabFile(), 'utf8').split('\n');
    expect(table.filter((l) => l.endsWith(`# agentgit:${repo3}`))).toHaveLength(1);
    const ours = table.filter((l) => l.endsWith(`# agentgit-compact:${repo3}`));
    expect(ours).toHaveLength(1);
    const line = ours[0]!;
    expect(line.split(/\s+/).slice(0, 5)).toEqual(['0', '3', '*', '*', '*']);
    const command = line.replace(/^(\S+\s+){5}/, '');
    const words = command.match(/'(?:[^']|'\\'')*'|\S+/g)!.map((w) => (w.startsWith("'") ? w.slice(1, -1).replace(/'\\''/g, "'") : w));
    expect(words.slice(1, 8)).toEqual([process.execPath, BIN, 'compact', 'auto', '-C', repo3, '--quiet']);
    // run as cron would: /bin/sh, a short PATH; nothing due (no daily log), so it prints nothing and exits 0
    const run = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', env: { ...testEnv(home), PATH: '/nonexistent' }, cwd: '/' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('');
    expect(run.status).toBe(0);
    expect((await agentgit(['schedule', 'show', '--cron', '-C', repo3], { env })).stdout).toContain(line);
    expect((await agentgit(['schedule', 'remove', '--cron', '-C', repo3], { env })).code).toBe(0);
    expect(readFileSync(crontabFile(), 'utf8')).not.toContain(repo3);
  });

  it('the compaction line quotes paths like the sync line', () => {
    const line = cronCompactLine({ root: "/srv/it's 100%", node: '/usr/bin/node', bin: '/opt/a g/bin/agentgit', gitDir: '/opt/git/bin', everySec: 60, watch: false, compact: true });
    expect(line).toBe(`0 3 * * * PATH=/opt/git/bin:/usr/local/bin:/usr/bin:/bin /usr/bin/node '/opt/a g/bin/agentgit' compact auto -C '/srv/it'\\''s 100\\%' --quiet # agentgit-compact:/srv/it's 100\\%`);
  });
});

describe('schedule text (pure)', () => {
  it('periods map to cron fields and OnCalendar', () => {
    expect(parseEvery('30s', 'systemd')).toBe(30);
    expect(parseEvery('1h', 'cron')).toBe(3600);
    expect(() => parseEvery('5s', 'systemd')).toThrow(/10s/);
    expect(() => parseEvery('90m', 'systemd')).toThrow(/divide/);
    expect(() => parseEvery('soon', 'cron')).toThrow(/not a period/);
    expect(cronFields(60)).toBe('* * * * *');
    expect(cronFields(300)).toBe('*/5 * * * *');
    expect(cronFields(3600)).toBe('0 * * * *');
    expect(cronFields(7200)).toBe('0 */2 * * *');
    expect(onCalendar(30)).toBe('*-*-* *:*:00/30');
    expect(onCalendar(60)).toBe('*-*-* *:*:00');
    expect(onCalendar(3600 * 6)).toBe('*-*-* 00/6:00:00');
  });

  it('quotes paths with spaces, quotes, % and $ for systemd and cron', () => {
    expect(systemdQuote('/a b/%h$x"y')).toBe('"/a b/%%h$$x\\"y"');
    const line = cronLine({ root: "/srv/it's 100%", node: '/usr/bin/node', bin: '/opt/a g/bin/agentgit', gitDir: '/opt/git/bin', everySec: 60, watch: false, compact: false });
    expect(line).toBe(
      "* * * * * PATH=/opt/git/bin:/usr/local/bin:/usr/bin:/bin /usr/bin/node '/opt/a g/bin/agentgit' sync -C '/srv/it'\\''s 100\\%' --quiet --timeout 50 # agentgit:/srv/it's 100\\%",
    );
    const e = editCrontab('a\n' + line + '\nb\n', "/srv/it's 100%", null);
    expect(e.text).toBe('a\nb\n');
    expect(editCrontab('a\n' + line + '\n', "/srv/it's", null).removed).toBe(0);
  });
});
