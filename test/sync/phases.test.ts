/**
 * Issue #16: the round runs named phases that return values
 * (src/sync/round.ts). A round that fails partway reports and records what
 * its phases did before the failure: what it committed before a hub that
 * cannot be reached (exit 75), what it merged before a push the secret scan
 * refuses (exit 1).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SyncOutcome } from '../../src/sync/round.js';
import { cleanupTemp, git, Instance, makeBareHub, tempDir } from '../helpers/agents.js';
import { closedPortUrl } from '../helpers/hubs.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';

/** `agentgit sync --json`: the round's outcome. */
const outcomeOf = (stdout: string): SyncOutcome => JSON.parse(stdout) as SyncOutcome;
const stateOf = (i: Instance): { lastExitCode: number; lastError: string | null } => JSON.parse(readFileSync(join(i.dir, '.git/agentgit/state.json'), 'utf8')) as { lastExitCode: number; lastError: string | null };

describe('the round as phases: a round that fails partway reports what it did', () => {
  it('exit 75 after committing: the report counts the commit and the state records the failure', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# log\n' } });
    a.git(['remote', 'set-url', 'origin', closedPortUrl('ssh')]);
    a.append(day, '- 10:00 offline\n');
    a.write('notes/new.md', 'new\n');
    const r = await a.sync(['--json']);
    expect(r.code, r.stderr).toBe(75);
    const o = outcomeOf(r.stdout);
    expect(o.committed).toBe(2);
    expect(o.pushed).toBeNull();
    expect(o.error).toMatch(/hub is unreachable/);
    expect(a.git(['status', '--porcelain'])).toBe('');
    expect(stateOf(a)).toMatchObject({ lastExitCode: 75, lastError: o.error });
  });

  it('exit 1 after a merge: the report counts what the hub brought and names the merged head; nothing reaches the hub', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# log\n' } });
    const b = await Instance.clone(hub, 'b');
    b.append(day, '- 10:00 from b\n');
    b.write('notes/b.md', 'b\n');
    expect((await b.sync()).code).toBe(0);
    // a commit made by hand, past the guard: the scan before the push refuses it
    const keyFile = join(tempDir('key'), 'deploy');
    const key = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile], { encoding: 'utf8' });
    expect(key.status).toBe(0);
    a.write('notes/pasted.md', `look: ${readFileSync(keyFile, 'utf8')}`);
    a.git(['add', 'notes/pasted.md']);
    a.git(['-c', 'core.hooksPath=/dev/null', 'commit', '-q', '-m', 'by hand']);
    const hubBefore = git(hub, ['rev-parse', 'main']).trim();
    const r = await a.sync(['--json']);
    expect(r.code, r.stderr).toBe(1);
    const o = outcomeOf(r.stdout);
    expect(o.mergedFromHub).toBeGreaterThanOrEqual(2); // b's two files (and their clock files)
    expect(o.head).toBe(a.git(['rev-parse', 'HEAD']).trim());
    expect(a.git(['rev-list', '--count', `${hubBefore}..HEAD`]).trim()).not.toBe('0');
    expect(a.git(['merge-base', '--is-ancestor', hubBefore, 'HEAD']).trim()).toBe('');
    expect(o.pushed).toBeNull();
    expect(o.error).toMatch(/private key/);
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(hubBefore);
    expect(a.read(day)).toContain('- 10:00 from b');
    expect(stateOf(a)).toMatchObject({ lastExitCode: 1, lastError: o.error });
  });
});
