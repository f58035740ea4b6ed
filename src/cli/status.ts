/**
 * `agentgit status`: ahead/behind the hub (as of the last fetch: status
 * never touches the network), uncommitted and held files, last sync and
 * last success. Full health signals: see docs/health.md.
 */
import { openContext } from '../sync/context.js';
import { readState } from '../sync/state.js';
import { isClockPath } from '../sync/clocks.js';
import { printJson } from './output.js';

export async function statusCommand(a: { C: string; json: boolean }): Promise<void> {
  const ctx = await openContext(a.C);
  const { repo, policy, settings } = ctx;
  try {
    const st = await readState(repo.stateFile('state.json'));
    const head = await repo.revParse('HEAD');
    const tracking = await repo.revParse(`refs/remotes/${settings.remote}/${settings.branch}`);
    const ab = head && tracking ? await repo.aheadBehind(head, tracking) : { ahead: head ? -1 : 0, behind: 0 };
    const uncommitted = (await repo.status())
      .filter((s) => !isClockPath(s.path) && policy.kindOf(s.path) !== 'local' && !s.path.endsWith('/'))
      .map((s) => s.path);
    const report = {
      root: repo.root,
      agent: settings.agent,
      instance: settings.instance,
      branch: settings.branch,
      hub: ctx.config.get(`remote.${settings.remote}.url`) ?? null,
      head,
      ahead: ab.ahead,
      behind: ab.behind,
      uncommitted,
      held: st.held,
      lastSyncAt: st.lastSyncAt ? new Date(st.lastSyncAt).toISOString() : null,
      lastSuccessAt: st.lastSuccessAt ? new Date(st.lastSuccessAt).toISOString() : null,
      lastExitCode: st.lastExitCode,
      lastError: st.lastError,
      conflictsTotal: st.conflictsTotal,
    };
    if (a.json) {
      printJson(report);
      return;
    }
    const ago = (t: number | null): string => (t ? `${new Date(t).toISOString()} (${Math.round((Date.now() - t) / 1000)} s ago)` : 'never');
    const lines = [
      `${settings.agent}/${settings.instance} on ${settings.branch}, hub ${report.hub ?? '(none)'}`,
      tracking ? `ahead ${ab.ahead}, behind ${ab.behind} (as of the last sync)` : 'hub not fetched yet',
      `uncommitted: ${uncommitted.length ? uncommitted.join(', ') : 'none'}`,
      `held: ${st.held.length ? st.held.map((h) => `${h.path} (${h.reason})`).join(', ') : 'none'}`,
      `last sync: ${ago(st.lastSyncAt)}${st.lastExitCode !== null ? `, exit ${st.lastExitCode}` : ''}${st.lastError ? `: ${st.lastError}` : ''}`,
      `last success: ${ago(st.lastSuccessAt)}`,
      `concurrent writes resolved so far: ${st.conflictsTotal}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    repo.close();
  }
}
