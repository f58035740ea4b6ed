/**
 * A lock file left on a hub on disk (a push killed while it held the
 * branch's lock): neither git's push nor agentgit's in-process push
 * removes it, so the round commits locally, exits 75 and names the file;
 * once it is gone, the next round pushes.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, makeBareHub, syncedPair } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

describe('a lock file left on the hub', () => {
  it('exits 75 naming it, keeps the work committed, and pushes once it is gone', async () => {
    const hub = makeBareHub();
    const { a } = await syncedPair(hub, { 'MEMORY.md': '# memory\n' });
    const lock = join(hub, 'refs', 'heads', 'main.lock');
    writeFileSync(lock, '');
    a.append('memory/2026-12-04.md', '- while the hub is locked\n');
    const r = await a.sync();
    expect(r.code).toBe(75);
    expect(r.stderr).toContain(`${lock} exists`);
    expect(existsSync(lock)).toBe(true); // never removed by agentgit
    expect(a.git(['log', '-1', '--format=%s'])).toMatch(/^agentgit: 1 file from /); // committed locally
    rmSync(lock);
    expect((await a.sync()).code).toBe(0);
    expect(git(hub, ['show', 'main:memory/2026-12-04.md'])).toContain('- while the hub is locked');
  });
});
