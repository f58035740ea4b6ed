/**
 * `agentgit pause [--for DURATION]` / `agentgit resume` (see src/sync/pause.ts).
 */
import { openContext } from '../sync/context.js';
import { parseDuration, readPause, removePause, writePause } from '../sync/pause.js';
import { printJson } from './output.js';
import { reportError } from './main.js';

export async function pauseCommand(a: { C: string; for?: string; json: boolean }): Promise<void> {
  let ms: number | null = null;
  if (a.for !== undefined) {
    ms = parseDuration(a.for);
    if (ms === null) {
      reportError(`--for ${a.for} is not a duration: give e.g. 30m, 2h, 1d or 1h30m`, 2, a.json);
      return;
    }
  }
  const ctx = await openContext(a.C);
  try {
    const now = Date.now();
    const until = ms === null ? null : now + ms;
    await writePause(ctx.repo.gitDir, { since: now, until });
    const when = until === null ? 'until `agentgit resume`' : `until ${new Date(until).toISOString()}`;
    if (a.json) printJson({ ok: true, paused: true, until: until === null ? null : new Date(until).toISOString() });
    else process.stdout.write(`paused ${when}: sync and watch do nothing; local writes are kept and go out on resume\n`);
  } finally {
    ctx.repo.close();
  }
}

export async function resumeCommand(a: { C: string; json: boolean }): Promise<void> {
  const ctx = await openContext(a.C);
  try {
    const was = readPause(ctx.repo.gitDir);
    await removePause(ctx.repo.gitDir);
    if (a.json) printJson({ ok: true, paused: false, wasPaused: was !== null });
    else process.stdout.write(was ? 'resumed: the next round (at once under `agentgit watch`) syncs what was written meanwhile\n' : 'not paused: nothing to resume\n');
  } finally {
    ctx.repo.close();
  }
}
