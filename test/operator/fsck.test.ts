/**
 * Issue #13: `git fsck` failed after two syncs ran at once ("missing tree
 * 4b825dc…"): a heartbeat commit points at the empty tree, which git knows
 * without it being written, so nothing wrote it. Every heartbeat now writes it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EMPTY_TREE } from '../../src/git/objects.js';
import { Repo } from '../../src/git/repo.js';
import { makeHeartbeat } from '../../src/sync/heartbeat.js';
import { cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const fsck = (dir: string): { code: number | null; out: string } => {
  const r = spawnSync('git', ['fsck', '--strict', '--no-dangling'], { cwd: dir, encoding: 'utf8', env: testEnv(dir) });
  return { code: r.status, out: r.stdout + r.stderr };
};

describe('git fsck stays clean', () => {
  it('a heartbeat made in a repo that never held the empty tree writes it', async () => {
    const env = testEnv(tempDir());
    const dir = join(tempDir(), 'repo');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    mkdirSync(join(dir, '.git', 'agentgit'), { recursive: true });
    const repo = (await Repo.openAt(dir))!;
    try {
      const oid = await makeHeartbeat(repo, { v: 1, agent: 'kevin', instance: 'x', at: 0, lastSuccessAt: null, head: null, checksum: null, dirty: false, conflictsTotal: 0, held: 0, lastDurationMs: null, recoveryMs: null, rebuildFailed: null }, false);
      git(dir, ['update-ref', 'refs/agentgit/instances/x', oid], env);
    } finally {
      repo.close();
    }
    expect(existsSync(join(dir, '.git', 'objects', EMPTY_TREE.slice(0, 2), EMPTY_TREE.slice(2)))).toBe(true);
    expect(fsck(dir)).toMatchObject({ code: 0 });
  });

  it('after concurrent syncs of three instances, hub and clones pass git fsck', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'notes.md': '# notes\n' } });
    const b = await Instance.clone(hub, 'b');
    const c = await Instance.clone(hub, 'c');
    for (let round = 0; round < 2; round++) {
      for (const i of [a, b, c]) i.append('notes.md', `- ${i.name} ${round}\n`);
      const codes = (await Promise.all([a.sync(), b.sync(), c.sync(), a.sync()])).map((r) => r.code);
      for (const code of codes) expect([0, 75]).toContain(code);
    }
    for (const i of [a, b, c]) expect((await i.sync()).code).toBe(0);
    for (const d of [hub, a.dir, b.dir, c.dir]) {
      const r = fsck(d);
      expect(r.out, d).not.toMatch(/missing|broken/);
      expect(r.code, `${d}: ${r.out}`).toBe(0);
    }
  });
});
