/**
 * `agentgit schedule`, the pure part: from a repo root, the absolute paths
 * of node, bin/agentgit and git, and a period, the exact text of the systemd
 * user units or the crontab line that run agentgit for that repo. Nothing
 * here reads the clock, the environment or the disk: the same options give
 * the same bytes, so `show` prints exactly what `install` writes.
 */
import { createHash } from 'node:crypto';
import { UsageError } from './context.js';

export type ScheduleMode = 'systemd' | 'cron';

export interface ScheduleSpec {
  /** Absolute repo root (the work tree holding .git). */
  root: string;
  /** Absolute path of the node binary (process.execPath). */
  node: string;
  /** Absolute path of this install's bin/agentgit. */
  bin: string;
  /** Directory of the git binary found now (added to PATH), or null. */
  gitDir: string | null;
  /** Period in seconds (parseEvery). */
  everySec: number;
  /** Run `agentgit watch` as a service instead of a timed `agentgit sync`. */
  watch: boolean;
  /** Also run `agentgit compact auto` once a day (the policy has a `compaction` block). */
  compact: boolean;
}

/** When the daily `agentgit compact auto` runs: 03:00 of the scheduler's clock (when it runs changes nothing it decides: docs/compaction.md). */
export const COMPACT_AT = { at: '03:00', onCalendar: '*-*-* 03:00:00', cron: '0 3 * * *' } as const;

/** The base PATH scheduled runs get (cron's own is shorter still); the git binary's directory goes first. */
export const BASE_PATH = '/usr/local/bin:/usr/bin:/bin';

const DIVIDES_MINUTE = [10, 12, 15, 20, 30];
const DIVIDES_HOUR = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];
const DIVIDES_DAY = [1, 2, 3, 4, 6, 8, 12];

/**
 * `--every`: 30s, 1m, 5m, 1h… A period that divides the next larger unit,
 * so runs stay evenly spaced across the hour/day (cron's and OnCalendar's
 * `*\/N` restart at each hour). Seconds only for systemd (cron's unit is a
 * minute); 10s is the shortest (a round must have time to finish).
 */
export function parseEvery(text: string, mode: ScheduleMode): number {
  const m = /^\s*(\d+)\s*(s|sec|m|min|h)?\s*$/.exec(text);
  const hint = 'use a period like 30s, 1m, 5m, 15m or 1h';
  if (!m) throw new UsageError(`--every ${JSON.stringify(text)} is not a period: ${hint}`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'm')[0] as 's' | 'm' | 'h';
  const sec = n * (unit === 's' ? 1 : unit === 'm' ? 60 : 3600);
  if (mode === 'cron' && sec < 60) throw new UsageError(`--every ${text}: cron cannot run more often than once a minute; use --every 1m, or --systemd (down to 10s), or \`agentgit schedule install --watch\` to sync on change`);
  if (sec < 10) throw new UsageError(`--every ${text}: shorter than 10s leaves a round no time to finish; use 10s or more, or \`agentgit schedule install --watch\` to sync on change`);
  const ok = sec < 60 ? DIVIDES_MINUTE.includes(sec) : sec < 3600 ? sec % 60 === 0 && DIVIDES_HOUR.includes(sec / 60) : sec % 3600 === 0 && (DIVIDES_DAY.includes(sec / 3600) || sec === 86400);
  if (!ok) throw new UsageError(`--every ${text}: the period must divide the minute, hour or day evenly (${DIVIDES_MINUTE.join('s, ')}s; ${DIVIDES_HOUR.join('m, ')}m; ${DIVIDES_DAY.join('h, ')}h or 24h)`);
  return sec;
}

/** `agentgit sync --timeout` for a period: the round ends before the next one starts (50 s for a minute, at most 120). */
export function timeoutFor(everySec: number): number {
  return Math.max(5, Math.min(120, everySec - 10));
}

/** A short, stable id of a repo root, so two repos' units do not clash. */
export function repoId(root: string): string {
  return createHash('sha256').update(root).digest('hex').slice(0, 10);
}

export function unitNames(root: string): { service: string; timer: string; watch: string; compact: string; compactTimer: string } {
  const id = repoId(root);
  return { service: `agentgit-sync-${id}.service`, timer: `agentgit-sync-${id}.timer`, watch: `agentgit-watch-${id}.service`, compact: `agentgit-compact-${id}.service`, compactTimer: `agentgit-compact-${id}.timer` };
}

function checkPaths(spec: ScheduleSpec): void {
  for (const [what, p] of [['repo root', spec.root], ['node', spec.node], ['agentgit', spec.bin], ['git directory', spec.gitDir ?? '/']] as const) {
    if (!p.startsWith('/')) throw new UsageError(`${what} ${p} is not an absolute path`);
    if (/[\n\r\0]/.test(p)) throw new UsageError(`${what} ${JSON.stringify(p)} holds a line break: move it to a path without one to schedule it`);
  }
}

export function pathFor(spec: ScheduleSpec): string {
  const dirs = BASE_PATH.split(':');
  if (spec.gitDir && !dirs.includes(spec.gitDir)) dirs.unshift(spec.gitDir);
  return dirs.join(':');
}

/** The agentgit arguments a scheduled run uses. */
export function commandArgs(spec: ScheduleSpec): string[] {
  return spec.watch ? ['watch', '-C', spec.root, '--quiet'] : ['sync', '-C', spec.root, '--quiet', '--timeout', String(timeoutFor(spec.everySec))];
}

/** The agentgit arguments of the daily compaction run. */
export function compactArgs(spec: ScheduleSpec): string[] {
  return ['compact', 'auto', '-C', spec.root, '--quiet'];
}

/** A word for a systemd ExecStart=/Environment= line: double-quoted, `%` and `$` doubled so systemd expands neither. */
export function systemdQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

/** OnCalendar= for a period (evenly dividing the minute, hour or day: parseEvery). */
export function onCalendar(everySec: number): string {
  if (everySec < 60) return `*-*-* *:*:00/${everySec}`;
  if (everySec < 3600) return everySec === 60 ? '*-*-* *:*:00' : `*-*-* *:00/${everySec / 60}:00`;
  if (everySec === 86400) return '*-*-* 00:00:00';
  return `*-*-* 00/${everySec / 3600}:00:00`;
}

export interface UnitFile {
  name: string;
  text: string;
}

/** The systemd user units: a oneshot service + timer for sync, or one long-running service for watch. */
export function systemdUnits(spec: ScheduleSpec): UnitFile[] {
  checkPaths(spec);
  const names = unitNames(spec.root);
  const exec = [spec.node, spec.bin, ...commandArgs(spec)].map(systemdQuote).join(' ');
  const env = `Environment=${systemdQuote(`PATH=${pathFor(spec)}`)}`;
  // the root in a Description: % is the only character systemd expands there
  const desc = spec.root.replace(/%/g, '%%');
  const units = spec.watch ? watchUnit(names, exec, env, desc) : syncUnits(spec, names, exec, env, desc);
  if (!spec.compact) return units;
  const header = '# written by `agentgit schedule install` (the policy has a "compaction" block); `agentgit schedule remove` deletes it';
  return [
    ...units,
    {
      name: names.compact,
      text: [
        header,
        '[Unit]',
        `Description=agentgit compact auto of ${desc}`,
        '',
        '[Service]',
        'Type=oneshot',
        env,
        `ExecStart=${[spec.node, spec.bin, ...compactArgs(spec)].map(systemdQuote).join(' ')}`,
        // 75 = temporary (hub unreachable, the compare-and-swap lost): the next day retries
        'SuccessExitStatus=75',
        '',
      ].join('\n'),
    },
    {
      name: names.compactTimer,
      text: [header, '[Unit]', `Description=agentgit compact auto of ${desc}, daily`, '', '[Timer]', `OnCalendar=${COMPACT_AT.onCalendar}`, 'Persistent=true', `Unit=${names.compact}`, '', '[Install]', 'WantedBy=timers.target', ''].join('\n'),
    },
  ];
}

type Names = ReturnType<typeof unitNames>;

function watchUnit(names: Names, exec: string, env: string, desc: string): UnitFile[] {
  return [
    {
      name: names.watch,
      text: [
        '# written by `agentgit schedule install --watch`; `agentgit schedule remove` deletes it',
        '[Unit]',
        `Description=agentgit watch: keep ${desc} in sync on change`,
        '',
        '[Service]',
        'Type=simple',
        env,
        `ExecStart=${exec}`,
        // SIGTERM: the watcher finishes or abandons its round safely and exits 0
        'KillSignal=SIGTERM',
        'TimeoutStopSec=150',
        // a crash or kill -9 loses nothing: the next round recovers
        'Restart=on-failure',
        'RestartSec=10',
        // 2 (usage: the repo or flags are wrong) will not get better by restarting
        'RestartPreventExitStatus=2',
        '',
        '[Install]',
        'WantedBy=default.target',
        '',
      ].join('\n'),
    },
  ];
}

function syncUnits(spec: ScheduleSpec, names: Names, exec: string, env: string, desc: string): UnitFile[] {
  return [
    {
      name: names.service,
      text: [
        '# written by `agentgit schedule install`; `agentgit schedule remove` deletes it',
        '[Unit]',
        `Description=agentgit sync of ${desc}`,
        '',
        '[Service]',
        'Type=oneshot',
        env,
        `ExecStart=${exec}`,
        // 75 = temporary (hub unreachable, another sync running): the next run
        // retries; an outage that lasts turns `agentgit status --check` to fail
        'SuccessExitStatus=75',
        `TimeoutStartSec=${timeoutFor(spec.everySec) + 30}`,
        '',
      ].join('\n'),
    },
    {
      name: names.timer,
      text: [
        '# written by `agentgit schedule install`; `agentgit schedule remove` deletes it',
        '[Unit]',
        `Description=agentgit sync of ${desc}, every ${formatEvery(spec.everySec)}`,
        '',
        '[Timer]',
        `OnCalendar=${onCalendar(spec.everySec)}`,
        'AccuracySec=1s',
        'Persistent=true',
        `Unit=${names.service}`,
        '',
        '[Install]',
        'WantedBy=timers.target',
        '',
      ].join('\n'),
    },
  ];
}

export function formatEvery(sec: number): string {
  return sec % 3600 === 0 ? `${sec / 3600}h` : sec % 60 === 0 ? `${sec / 60}m` : `${sec}s`;
}

/** A word for the shell cron runs (/bin/sh): single-quoted; `%` escaped, which cron would turn into a newline. */
export function cronQuote(s: string): string {
  const q = /^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
  return q.replace(/%/g, '\\%');
}

/** The marker ending agentgit's crontab line for a repo: `remove` finds exactly this line. */
export function cronMarker(root: string): string {
  return `# agentgit:${root.replace(/%/g, '\\%')}`;
}

/** The five time fields for a period of whole minutes (parseEvery). */
export function cronFields(everySec: number): string {
  const min = everySec / 60;
  if (min === 1) return '* * * * *';
  if (min < 60) return `*/${min} * * * *`;
  const h = min / 60;
  return h === 24 ? '0 0 * * *' : h === 1 ? '0 * * * *' : `0 */${h} * * *`;
}

/** The crontab line: time fields, PATH for git, absolute node and agentgit, then the marker (a shell comment). */
export function cronLine(spec: ScheduleSpec): string {
  checkPaths(spec);
  if (spec.watch) throw new UsageError('--watch runs a long-lived service: cron cannot supervise it; use --systemd, or run `agentgit watch` under your own supervisor');
  const cmd = [spec.node, spec.bin, ...commandArgs(spec)].map(cronQuote).join(' ');
  return `${cronFields(spec.everySec)} PATH=${cronQuote(pathFor(spec))} ${cmd} ${cronMarker(spec.root)}`;
}

/** The marker ending the daily compaction line for a repo. */
export function cronCompactMarker(root: string): string {
  return `# agentgit-compact:${root.replace(/%/g, '\\%')}`;
}

/** The daily `agentgit compact auto` crontab line (spec.compact). */
export function cronCompactLine(spec: ScheduleSpec): string {
  checkPaths(spec);
  const cmd = [spec.node, spec.bin, ...compactArgs(spec)].map(cronQuote).join(' ');
  return `${COMPACT_AT.cron} PATH=${cronQuote(pathFor(spec))} ${cmd} ${cronCompactMarker(spec.root)}`;
}

/** Whether a crontab line is agentgit's line for this repo (with `compact`: its sync line or its compaction line). */
export function isOurCronLine(line: string, root: string, compact = false): boolean {
  if (/^\s*#/.test(line)) return false;
  const l = line.trimEnd();
  return l.endsWith(' ' + cronMarker(root)) || (compact && l.endsWith(' ' + cronCompactMarker(root)));
}

/** A crontab with this repo's lines (sync, compaction) set (replacing any earlier ones) or removed; other lines untouched. */
export function editCrontab(current: string, root: string, line: string | string[] | null): { text: string; removed: number; changed: boolean } {
  const lines = current === '' ? [] : current.replace(/\n$/, '').split('\n');
  const kept = lines.filter((l) => !isOurCronLine(l, root, true));
  const removed = lines.length - kept.length;
  if (line !== null) kept.push(...(Array.isArray(line) ? line : [line]));
  const text = kept.length ? kept.join('\n') + '\n' : '';
  return { text, removed, changed: text !== (current === '' || current.endsWith('\n') ? current : current + '\n') };
}
