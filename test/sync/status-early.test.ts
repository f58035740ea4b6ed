/**
 * A round asks `git status` as soon as the work tree is recovered, beside
 * the setup steps (repairClone, settleAccepted, writeVersionedSetup in
 * sync/round.ts lockAndRecover). Those change what status would say only
 * when they repair something (.gitignore, .gitattributes, the attributes,
 * the config): then status is asked again after them. Counted from the
 * trace (AGENTGIT_TRACE=1 lists every git process a round starts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, Instance, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

async function statusCalls(a: Instance): Promise<{ code: number; calls: number; stderr: string }> {
  const r = await agentgit(['sync', '-C', a.dir], { env: { ...a.env, AGENTGIT_TRACE: '1' } });
  return { code: r.code, calls: (r.stderr.match(/\] git status /g) ?? []).length, stderr: r.stderr };
}

describe('the status of a round', () => {
  it('is asked once when the setup is intact, and again when a setup step repaired something; the repaired rules apply to the round', async () => {
    const a = await Instance.init(makeBareHub(), 'a', { files: { 'notes.md': 'hello\n' } });
    expect((await a.sync()).code).toBe(0);

    a.append('notes.md', 'one more line\n');
    const intact = await statusCalls(a);
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.calls).toBe(1);
    expect(a.git(['status', '--porcelain'])).toBe('');

    // .gitignore's managed block taken out by hand, and in the same round a file it ignores (a secret glob) appears
    const gitignore = readFileSync(a.path('.gitignore'), 'utf8');
    expect(gitignore).toContain('*.pem');
    writeFileSync(a.path('.gitignore'), '');
    a.write('deploy.pem', 'not a real key\n');
    a.append('notes.md', 'and another\n');
    const repaired = await statusCalls(a);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.calls).toBe(2);
    expect(readFileSync(a.path('.gitignore'), 'utf8')).toBe(gitignore);
    expect(a.git(['ls-files', 'deploy.pem'])).toBe(''); // ignored again before the status the commit used
    expect(a.git(['status', '--porcelain'])).toBe('');
    expect(a.git(['log', '-1', '--name-only', '--format='])).toContain('notes.md');
  });
});
