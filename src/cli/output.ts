/** Printing results: one summary line for people, JSON for scripts. */
import type { SyncOutcome } from '../sync/round.js';
import { redactDeep } from '../sync/secrets.js';

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(redactDeep(v), null, 2) + '\n'); // no token, key or URL credential in any output
}

export function syncSummary(o: SyncOutcome): string {
  const parts = [`committed ${o.committed}`];
  const kinds = Object.entries(o.mergedByKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  if (o.fastForward) parts.push(`fast-forwarded ${o.mergedFromHub} file${o.mergedFromHub === 1 ? '' : 's'} from hub`);
  else if (o.mergedFromHub > 0 || kinds) parts.push(`merged ${o.mergedFromHub} from hub${kinds ? ` (${kinds})` : ''}`);
  if (o.conflicts > 0) parts.push(`${o.conflicts} concurrent write${o.conflicts === 1 ? '' : 's'} resolved (see \`agentgit conflicts\`)`);
  parts.push(o.pushed ? `pushed ${o.pushed.slice(0, 7)}` : 'pushed nothing');
  return `${parts.join(', ')} in ${o.durationMs} ms`;
}

/** Print a sync outcome and set the exit code. */
export function reportSync(o: SyncOutcome, a: { json?: boolean; quiet?: boolean }): void {
  o = redactDeep(o); // git's stderr quotes URLs; a held path may be a token
  if (a.json) {
    printJson({ ok: o.exitCode === 0, ...o, held: o.held.map(({ path, reason, detail }) => ({ path, reason, detail })) });
  } else if (a.quiet && o.exitCode === 75) {
    // quiet (cron mails every line): nothing on a temporary failure until the
    // outage outlasts the lag threshold, then one line per threshold period
    if (o.outage?.report) {
      process.stderr.write(`agentgit: every sync since ${new Date(o.outage.since).toISOString()} (${Math.round(o.outage.seconds / 60)} min) failed temporarily: ${oneLine(o.error ?? 'unknown')}; local work is committed and kept (exit 75; next report in ${Math.round(o.outage.thresholdSec / 60)} min)\n`);
    }
  } else {
    if (!a.quiet || o.exitCode !== 0) {
      for (const n of o.notes) process.stderr.write(`agentgit: ${n}\n`);
    }
    if (o.exitCode === 0) {
      if (!a.quiet) process.stdout.write(syncSummary(o) + '\n');
    } else {
      for (const h of o.held) process.stderr.write(`agentgit: held ${h.path}: ${h.detail.replace(/FILE/g, h.path)}\n`);
      const rest = o.held.length && o.error?.startsWith('held ') ? null : o.error;
      if (rest) process.stderr.write(`agentgit: ${rest}\n`);
      if (o.exitCode === 75) process.stderr.write('agentgit: local work is committed and kept; the next run will retry (exit 75)\n');
      else if (o.held.length) process.stderr.write(`agentgit: everything else synced (${syncSummary(o)}); exit 1 until the held files are dealt with\n`);
    }
  }
  process.exitCode = o.exitCode;
}

/** The first line of a message, for one-line reports. */
export function oneLine(s: string): string {
  return s.split('\n', 1)[0] ?? '';
}

/**
 * A progress line for long work (init or clone of many files): on stderr,
 * only when stderr is a terminal and neither --quiet nor --json was given;
 * redrawn at most every 100 ms, cleared when the work is done.
 */
export function progressLine(label: string, opts: { quiet?: boolean; json?: boolean; unit?: string } = {}): ((done: number, total: number) => void) | undefined {
  if (opts.quiet || opts.json || !process.stderr.isTTY) return undefined;
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < 100) return;
    last = now;
    const pct = total ? Math.floor((done * 100) / total) : 100;
    process.stderr.write(`\r${label}: ${pct}% (${done}/${total} ${opts.unit ?? 'files'})${done >= total ? '\n' : ''}`);
  };
}
