/**
 * `agentgit rebuild`: run the policy's rebuild command for derived state
 * by hand, record how long it took (the recovery time health reports).
 */
import { runRebuild } from '../sync/rebuild.js';
import { openContext } from '../sync/context.js';
import { readState, writeState } from '../sync/state.js';

export async function rebuildCommand(a: { C: string }): Promise<void> {
  const { repo, policy, consent } = await openContext(a.C);
  try {
    const spec = policy.config.rebuild;
    if (consent.pending.some((c) => c.key === 'rebuild.command')) {
      process.stderr.write(`agentgit: .agentgit/config.json names a rebuild command this machine has not accepted (${JSON.stringify(consent.proposed.rebuild?.command)}); review it with \`agentgit policy diff -C ${a.C}\`, accept it with \`agentgit policy accept -C ${a.C}\`${spec ? `; running the accepted one meanwhile (${JSON.stringify(spec.command)})` : ''}\n`);
      if (!spec) {
        process.exitCode = 1;
        return;
      }
    }
    if (!spec) {
      process.stderr.write('agentgit: no rebuild command: set "rebuild": {"command": [...], "paths": [...]} in .agentgit/config.json\n');
      process.exitCode = 2;
      return;
    }
    const r = await runRebuild(repo.root, spec);
    const file = repo.stateFile('state.json');
    const st = await readState(file);
    st.recoveryMs = r.ms;
    st.rebuildFailed = r.error;
    st.rebuildAt = Date.now();
    await writeState(file, st);
    if (r.error) {
      process.stderr.write(`agentgit: rebuild failed after ${(r.ms / 1000).toFixed(1)} s: ${r.error}\n`);
      process.exitCode = 1;
    } else process.stdout.write(`rebuilt derived state in ${(r.ms / 1000).toFixed(1)} s\n`);
  } finally {
    repo.close();
  }
}
