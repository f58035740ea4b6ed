/**
 * Issue #15: a new epoch over a real ssh hub (sshd, test/helpers/hubs.ts,
 * as the lease tests use it). Three instances: one with committed,
 * unpushed work; one offline with an uncommitted write; the compaction
 * killed (kill -9) right after its push, and a crossing killed in its
 * work-tree update. Afterwards every entry exactly once, the instances
 * byte-identical, the hub's history the epoch plus what came after.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, expectSameSnapshots, git, Instance } from '../helpers/agents.js';
import { hubsAvailable, startSshHub } from '../helpers/hubs.js';
import { count, killedAt, ok } from './compact-helpers.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';
const avail = hubsAvailable();
describe.skipIf(!avail.ssh)('compact history over an ssh hub', () => {
  it('unpushed, offline and killed instances cross into the epoch: every entry once, byte-identical', async () => {
    const hub = await startSshHub();
    try {
      const a = await Instance.init(hub.url, 'a', { extraEnv: hub.clientEnv, files: { [day]: '# log\n' } });
      const b = await Instance.clone(hub.url, 'b', { extraEnv: hub.clientEnv, admitBy: a });
      const c = await Instance.clone(hub.url, 'c', { extraEnv: hub.clientEnv, admitBy: a });
      for (const i of [b, c, a]) await ok(i.sync());
      const entries: string[] = [];
      const add = (i: Instance, e: string): void => {
        entries.push(e);
        i.append(day, `${e}\n`);
      };
      for (let n = 0; n < 2; n++) {
        for (const i of [a, b, c]) {
          add(i, `- 10:0${n} ${i.name} entry ${n}`);
          await ok(i.sync());
        }
      }
      await ok(a.sync());
      await ok(b.sync());
      const oldHead = git(hub.repoPath, ['rev-parse', 'main']).trim();
      // b: committed, not pushed; c: offline with a write not even committed
      add(b, '- 11:00 b unpushed');
      await ok(b.sync(['--no-push']));
      add(c, '- 11:10 c offline');

      // the compaction dies right after its atomic push; its next sync crosses like any instance
      await killedAt(a, 'compact', ['compact', 'history']);
      const epoch = git(hub.repoPath, ['rev-list', '--max-parents=0', 'main']).trim();
      expect(git(hub.repoPath, ['cat-file', '-p', epoch])).toContain(`Agentgit-Epoch-Of: ${oldHead}`);
      expect(git(hub.repoPath, ['rev-parse', `refs/agentgit/archive/${epoch}`]).trim()).toBe(oldHead);
      add(a, '- 11:20 a after the kill');
      await ok(a.sync());
      // b's crossing dies in its work-tree update; the next sync finishes it from the journal
      await killedAt(b, 'checkout', ['sync']);
      await ok(b.sync());
      for (const i of [c, a, b, c]) {
        const r = await ok(i.sync());
        expect(r.stdout + r.stderr).not.toMatch(/refused/);
      }
      expect(expectSameSnapshots([a, b, c]).diff).toEqual([]);
      const text = a.read(day);
      for (const e of entries) expect(count(text, e), e).toBe(1);
      for (const i of [a, b, c]) expect(i.git(['status', '--porcelain']), i.name).toBe('');
      // the hub's history: the epoch and what came after it (a's entry, b's and c's carried work), nothing old
      expect(git(hub.repoPath, ['rev-list', '--max-parents=0', 'main']).trim()).toBe(epoch);
      expect(Number(git(hub.repoPath, ['rev-list', '--count', 'main']).trim())).toBe(4);
      await ok(c.run(['verify']));
    } finally {
      await hub.stop();
    }
  }, 300_000);
});
