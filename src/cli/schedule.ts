/**
 * `agentgit schedule install|remove|show`: run agentgit for a repo from a
 * systemd user timer (or a `agentgit watch` service with --watch) or from
 * the user's crontab, with absolute paths. The text comes from
 * src/sync/schedule.ts; this file finds the paths, writes the unit files or
 * edits the crontab (only this repo's marked line), and asks systemctl to
 * load them when a user manager is reachable.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FailedError } from '../errors.js';
import { Repo } from '../git/repo.js';
import { checkDirExists, findRepoRoot, NotAnAgentRepoError, UsageError } from '../sync/context.js';
import { COMPACT_AT, cronCompactLine, cronLine, editCrontab, formatEvery, isOurCronLine, parseEvery, systemdUnits, unitNames, type ScheduleMode, type ScheduleSpec, type UnitFile } from '../sync/schedule.js';
import { printJson } from './output.js';

export interface ScheduleArgs {
  action: 'install' | 'remove' | 'show';
  C: string;
  every?: string;
  watch?: boolean;
  systemd?: boolean;
  cron?: boolean;
  json?: boolean;
}

/** The repo root -C names, which must be set up for agentgit (a schedule of anything else would fail every run). */
async function repoRoot(dir: string): Promise<string> {
  checkDirExists(dir);
  const root = findRepoRoot(dir);
  const repo = root ? await Repo.openAt(root) : null;
  if (!repo) throw new NotAnAgentRepoError(dir, root ?? undefined);
  try {
    if (!(await repo.configAll()).get('agentgit.instance')) throw new NotAnAgentRepoError(dir, repo.root);
    return repo.root;
  } finally {
    repo.close();
  }
}

/** This install's bin/agentgit: found upwards from this module (dist/cli/ or dist/bundle/). */
export function agentgitBin(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const bin = join(d, 'bin', 'agentgit');
    if (existsSync(bin) && existsSync(join(d, 'package.json'))) return bin;
    const up = dirname(d);
    if (up === d) throw new FailedError(`cannot find bin/agentgit above ${fileURLToPath(import.meta.url)}: reinstall agentgit`);
    d = up;
  }
}

/** The directory of the first executable `git` on PATH now, so the scheduled run finds the same one. */
function gitDir(): string | null {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d.startsWith('/')) continue;
    try {
      accessSync(join(d, 'git'), constants.X_OK);
      if (statSync(join(d, 'git')).isFile()) return d;
    } catch {
      /* not here */
    }
  }
  return null;
}

function unitDir(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(process.env.HOME || homedir(), '.config'), 'systemd', 'user');
}

interface Ran {
  ok: boolean;
  missing: boolean;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: string): Ran {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000, stdio: ['pipe', 'pipe', 'pipe'] });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { ok: !r.error && r.status === 0, missing, stdout: r.stdout ?? '', stderr: (r.stderr ?? '').trim() || (r.error ? r.error.message : `exit ${r.status ?? r.signal}`) };
}

/** A user systemd manager answers (`systemctl --user` has a bus to talk to). */
let usable: boolean | undefined;
let systemctlFailed = false;
function systemdUsable(): boolean {
  usable ??= run('systemctl', ['--user', 'show-environment']).ok;
  return usable;
}

/** The user's crontab, or null when there is no crontab command. */
function readCrontab(): string | null {
  const r = run('crontab', ['-l']);
  if (r.missing) return null;
  if (r.ok) return r.stdout;
  if (/no crontab/i.test(r.stderr)) return '';
  throw new FailedError(`crontab -l failed: ${r.stderr.split('\n')[0]}; fix cron (is the cron package installed and may this user use it?), or use --systemd`);
}

function writeCrontab(text: string): void {
  const r = run('crontab', ['-'], text);
  if (!r.ok) throw new FailedError(`crontab - failed: ${r.stderr.split('\n')[0]}; the crontab is unchanged`);
}

function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.agentgit-tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function installedUnits(root: string): UnitFile[] {
  const dir = unitDir();
  const n = unitNames(root);
  return [n.service, n.timer, n.watch, n.compact, n.compactTimer].filter((u) => existsSync(join(dir, u))).map((u) => ({ name: u, text: readFileSync(join(dir, u), 'utf8') }));
}

async function spec(a: ScheduleArgs, root: string, mode: ScheduleMode): Promise<ScheduleSpec> {
  return { root, node: process.execPath, bin: agentgitBin(), gitDir: gitDir(), everySec: parseEvery(a.every ?? '1m', mode), watch: !!a.watch, compact: await hasCompaction(root) };
}

/** Whether the policy this clone runs has a `compaction` block (then the schedule also runs `agentgit compact auto` daily). */
async function hasCompaction(root: string): Promise<boolean> {
  const [{ openContext }, { compactionSchedule }] = await Promise.all([import('../sync/context.js'), import('../policy/policy.js')]);
  const ctx = await openContext(root);
  try {
    const c = compactionSchedule(ctx.policy.config.compaction);
    return c.logsOlderThanDays !== null || c.historyEveryMs !== null;
  } finally {
    ctx.repo.close();
  }
}

const compactNote = (s: ScheduleSpec): string =>
  s.compact ? `and \`agentgit compact auto\` daily at ${COMPACT_AT.at} (the policy has a "compaction" block)` : 'no compaction (the policy has no "compaction" block; add one, then install again)';

function chooseMode(a: ScheduleArgs): ScheduleMode {
  if (a.systemd && a.cron) throw new UsageError('--systemd and --cron exclude each other: name one, or neither (systemd when a user manager runs, else cron)');
  if (a.systemd) return 'systemd';
  if (a.cron) return 'cron';
  if (a.watch) return 'systemd';
  return systemdUsable() ? 'systemd' : 'cron';
}

/** systemctl --user ARGS, or the command to run by hand when no user manager answers. */
function systemctl(args: string[], notes: string[], pending: string[]): void {
  const line = `systemctl --user ${args.join(' ')}`;
  if (!systemdUsable()) {
    pending.push(line);
    return;
  }
  const r = run('systemctl', ['--user', ...args]);
  if (!r.ok) {
    notes.push(`\`${line}\` failed: ${r.stderr.split('\n')[0]}; fix that and run it again`);
    systemctlFailed = true;
  }
}

export async function scheduleCommand(a: ScheduleArgs): Promise<void> {
  const root = await repoRoot(a.C);
  const mode = chooseMode(a);
  if (a.action === 'show') return show(a, root, mode, await spec(a, root, mode));
  if (a.action === 'install') return install(a, root, mode, await spec(a, root, mode));
  return remove(a, root);
}

function install(a: ScheduleArgs, root: string, mode: ScheduleMode, s: ScheduleSpec): void {
  const notes: string[] = [];
  const pending: string[] = [];
  const written: string[] = [];
  if (mode === 'systemd') {
    const units = systemdUnits(s);
    const dir = unitDir();
    const keep = new Set(units.map((u) => u.name));
    // the other kind (timer vs watch) for this repo goes: one schedule per repo
    const stale = installedUnits(root).filter((u) => !keep.has(u.name));
    const staleActive = stale.filter((u) => u.name.endsWith('.timer') || u.name === unitNames(root).watch).map((u) => u.name);
    if (staleActive.length) systemctl(['disable', '--now', ...staleActive], notes, pending);
    for (const u of stale) unlinkSync(join(dir, u.name));
    for (const u of units) {
      writeAtomic(join(dir, u.name), u.text);
      written.push(join(dir, u.name));
    }
    const start = [s.watch ? unitNames(root).watch : unitNames(root).timer, ...(s.compact ? [unitNames(root).compactTimer] : [])];
    systemctl(['daemon-reload'], notes, pending);
    systemctl(['enable', '--now', ...start], notes, pending);
    if (pending.length) notes.push(`no systemd user manager answers here (\`systemctl --user\` needs a login session; for a server account: \`loginctl enable-linger $USER\`): run \`${pending.join(' && ')}\` once it does`);
    const cron = tryReadCrontab();
    if (cron && cron.split('\n').some((l) => isOurCronLine(l, root))) notes.push(`a crontab line for ${root} is installed too (both share the sync lock); \`agentgit schedule remove --cron -C ${root}\` removes it`);
  } else {
    const lines = [cronLine(s), ...(s.compact ? [cronCompactLine(s)] : [])];
    const current = readCrontab();
    if (current === null) throw new FailedError('no `crontab` command here: install cron (Debian/Ubuntu: apt-get install cron), or use --systemd');
    const e = editCrontab(current, root, lines);
    if (e.changed) writeCrontab(e.text);
    written.push(...lines.map((l) => `crontab: ${l}`));
    if (installedUnits(root).length) notes.push(`systemd units for ${root} are installed too (both share the sync lock); \`agentgit schedule remove --systemd -C ${root}\` removes them`);
  }
  if (a.json) {
    if (systemctlFailed) process.exitCode = 1;
    printJson({ ok: !systemctlFailed, action: 'install', repo: root, mode, watch: s.watch, every: s.watch ? null : formatEvery(s.everySec), compact: s.compact, written, pending, notes });
    return;
  }
  const what = s.watch ? '`agentgit watch`' : `\`agentgit sync\` every ${formatEvery(s.everySec)}`;
  process.stdout.write(`installed ${what}, ${compactNote(s)}, for ${root} (${mode}):\n${written.map((w) => `  ${w}\n`).join('')}`);
  for (const n of notes) process.stderr.write(`agentgit: ${n}\n`);
  if (systemctlFailed) process.exitCode = 1;
}

function tryReadCrontab(): string | null {
  try {
    return readCrontab();
  } catch {
    return null;
  }
}

function remove(a: ScheduleArgs, root: string): void {
  const notes: string[] = [];
  const pending: string[] = [];
  const removed: string[] = [];
  const both = !a.systemd && !a.cron;
  if (a.systemd || both) {
    const units = installedUnits(root);
    if (units.length) {
      const n = unitNames(root);
      const active = units.map((u) => u.name).filter((u) => u === n.timer || u === n.watch || u === n.compactTimer);
      systemctl(['disable', '--now', ...(active.length ? active : units.map((u) => u.name))], notes, pending);
      for (const u of units) {
        unlinkSync(join(unitDir(), u.name));
        removed.push(join(unitDir(), u.name));
      }
      systemctl(['daemon-reload'], notes, pending);
      if (pending.length) notes.push(`no systemd user manager answers here; if one runs for this user elsewhere, run \`${pending.join(' && ')}\``);
    }
  }
  if (a.cron || both) {
    const current = a.cron ? readCrontab() : tryReadCrontab();
    if (current === null && a.cron) throw new FailedError('no `crontab` command here: nothing to remove from cron');
    if (current) {
      const lines = current.split('\n').filter((l) => isOurCronLine(l, root, true));
      if (lines.length) {
        writeCrontab(editCrontab(current, root, null).text);
        removed.push(...lines.map((l) => `crontab: ${l}`));
      }
    }
  }
  if (a.json) {
    if (systemctlFailed) process.exitCode = 1;
    printJson({ ok: !systemctlFailed, action: 'remove', repo: root, removed, pending, notes });
    return;
  }
  if (!removed.length) process.stdout.write(`nothing installed for ${root}\n`);
  else process.stdout.write(`removed the schedule of ${root}:\n${removed.map((r) => `  ${r}\n`).join('')}`);
  for (const n of notes) process.stderr.write(`agentgit: ${n}\n`);
  if (systemctlFailed) process.exitCode = 1;
}

function show(a: ScheduleArgs, root: string, mode: ScheduleMode, s: ScheduleSpec): void {
  const dir = unitDir();
  const units = installedUnits(root).map((u) => ({ path: join(dir, u.name), text: u.text }));
  const cron = tryReadCrontab();
  const cronLines = cron ? cron.split('\n').filter((l) => isOurCronLine(l, root, true)) : [];
  const would = mode === 'systemd' ? systemdUnits(s).map((u) => ({ path: join(dir, u.name), text: u.text })) : [cronLine(s), ...(s.compact ? [cronCompactLine(s)] : [])].map((l) => ({ path: 'crontab', text: l + '\n' }));
  if (a.json) {
    printJson({ ok: true, repo: root, installed: { systemd: units, cron: cronLines }, install: { mode, watch: s.watch, every: s.watch ? null : formatEvery(s.everySec), compact: s.compact, files: would } });
    return;
  }
  const out: string[] = [];
  if (!units.length && !cronLines.length) out.push(`nothing installed for ${root}`);
  else {
    out.push(`installed for ${root}:`);
    for (const u of units) out.push(`# ${u.path}`, u.text.trimEnd(), '');
    for (const l of cronLines) out.push('# crontab', l, '');
  }
  out.push('', `\`agentgit schedule install${mode === 'cron' ? ' --cron' : ' --systemd'}${s.watch ? ' --watch' : ` --every ${formatEvery(s.everySec)}`}\` would write (${compactNote(s)}):`);
  for (const w of would) out.push(`# ${w.path}`, w.text.trimEnd(), '');
  process.stdout.write(out.join('\n').trimEnd() + '\n');
}
