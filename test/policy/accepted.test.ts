/** The accepted policy on disk (.git/agentgit/policy.accepted.json): real git repo, no hub. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Repo } from '../../src/git/repo.js';
import { ACCEPTED_FILE, loadPolicyState, readEffectivePolicy, settleAccepted, writeAccepted } from '../../src/sync/context.js';
import { cleanupTemp, git, tempDir } from '../helpers/agents.js';

afterAll(cleanupTemp);

async function repoWith(policy: object | null): Promise<Repo> {
  const dir = tempDir();
  git(dir, ['init', '-q', '-b', 'main']);
  if (policy) {
    mkdirSync(join(dir, '.agentgit'), { recursive: true });
    writeFileSync(join(dir, '.agentgit/config.json'), JSON.stringify(policy));
  }
  return (await Repo.openAt(dir))!;
}
const keys = async (r: Repo) => [...new Set((await loadPolicyState(r)).pending.map((c) => c.key))];

describe('accepted policy record', () => {
  it('nothing recorded: compared with the defaults; accepting clears what is pending', async () => {
    const r = await repoWith({ rebuild: { command: ['true'] }, secrets: ['private/'] });
    const st = await loadPolicyState(r);
    expect(st.recorded).toBe(false);
    expect(st.pending.map((c) => c.key)).toEqual(['rebuild.command']);
    expect((await readEffectivePolicy(r)).config.rebuild).toBeNull();
    expect((await readEffectivePolicy(r)).isSecretPath('private/a')).toBe(true); // the tightening applies at once
    await writeAccepted(r, st.proposed, st.proposedId);
    expect(await keys(r)).toEqual([]);
    expect((await readEffectivePolicy(r)).config.rebuild?.command).toEqual(['true']);
    r.close();
  });

  it('a damaged record counts as none: the defaults (fail closed)', async () => {
    const r = await repoWith({ logs: { allowRewrite: ['**'] } });
    const st = await loadPolicyState(r);
    await writeAccepted(r, st.proposed, st.proposedId);
    expect(await keys(r)).toEqual([]);
    writeFileSync(r.stateFile(ACCEPTED_FILE), '{"version": 1, "policy": {"logs": ');
    expect(await keys(r)).toEqual(['logs.allowRewrite']);
    r.close();
  });

  it('settling records tightenings, never relaxations', async () => {
    const r = await repoWith({ secrets: ['a/'] });
    await settleAccepted(r);
    expect((await loadPolicyState(r)).accepted.secrets).toEqual(['a/']);
    writeFileSync(join(r.root, '.agentgit/config.json'), JSON.stringify({ secrets: ['b/'], rebuild: { command: ['evil'] } }));
    await settleAccepted(r);
    const st = await loadPolicyState(r);
    expect(st.accepted.secrets.sort()).toEqual(['a/', 'b/']);
    expect(st.accepted.rebuild).toBeNull();
    expect(st.pending.map((c) => c.key)).toEqual(['rebuild.command', 'secrets']);
    r.close();
  });
});
