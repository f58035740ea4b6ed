/**
 * The hub-verification retry (src/sync/round.ts verifyIncoming): the walk
 * that lists what the hub brings (relate → commitsSince, stopping at the 32
 * commits nearest the hub head last seen) can also list an old commit of
 * our own history, reached through a side line. Verified as if it were new,
 * such a commit can fail (here: signed by a key removed since, which the
 * round counts as removed for every commit it is given); before refusing
 * anything, the round asks git for the exact list (`rev-list THEIRS ^OURS`),
 * which does not hold it, and takes the hub's valid history.
 *
 * The history (real git, a real bare hub, four instances):
 *
 *   Q ── O (b) ── R (a removes b's key) ── A1 … A40 (a) ──┐
 *   └── D1 (d, offline at Q) ─────────────────────────── L (d's merge)
 *        O ── E1 (e, offline at O) ──────────────────────── M (e's merge of L)
 *
 * a last saw L. Its walk from M stops at L and at Q (2 steps from L, among
 * the 32 nearest), but reaches O through E1: O is listed, and fails.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub } from '../helpers/agents.js';
import { ok } from './compact-helpers.js';

afterAll(() => cleanupTemp());

describe('hub verification: the walk lists an old commit of ours, git\'s exact list does not', () => {
  it('a valid history whose walk reaches an old commit signed by a key removed since is taken, not refused', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'notes/a.md': 'a\n' } });
    const b = await Instance.clone(hub, 'b');
    const d = await Instance.clone(hub, 'd');
    const e = await Instance.clone(hub, 'e');
    for (const i of [a, b, d, e]) await ok(i.sync());
    for (const i of [a, b, d, e]) await ok(i.sync()); // everyone at Q (the admissions included)
    const q = git(hub, ['rev-parse', 'main']).trim();
    for (const i of [a, b, d, e]) expect(i.git(['rev-parse', 'HEAD']).trim(), i.name).toBe(q);
    // O: b's commit on Q; e and a take it
    b.write('notes/b.md', 'b\n');
    await ok(b.sync());
    const o = git(hub, ['rev-parse', 'main']).trim();
    await ok(e.sync());
    await ok(a.sync());
    expect(e.git(['rev-parse', 'HEAD']).trim()).toBe(o);
    // R: a removes b's key; then 40 commits of a's (plain signed git commits), pushed by a round
    await ok(a.run(['trust', 'remove', 'kevin/b']));
    for (let n = 1; n <= 40; n++) {
      a.write('notes/a.md', `a ${n}\n`);
      a.git(['commit', '-q', '--no-verify', '-am', `a ${n}`]);
    }
    await ok(a.sync());
    expect(Number(git(hub, ['rev-list', '--count', `${o}..main`]).trim())).toBeGreaterThan(40);
    // L: d, offline at Q with its own commit D1, merges the hub's history
    expect(d.git(['rev-parse', 'HEAD']).trim()).toBe(q);
    d.write('notes/d.md', 'd\n');
    await ok(d.sync());
    const l = git(hub, ['rev-parse', 'main']).trim();
    expect(git(hub, ['rev-list', '--parents', '-n1', l]).trim().split(' ')).toHaveLength(3);
    await ok(a.sync()); // a last saw L
    expect(a.git(['rev-parse', 'refs/remotes/origin/main']).trim()).toBe(l);
    // M: e, offline at O with its own commit E1, merges L
    e.write('notes/e.md', 'e\n');
    await ok(e.sync());
    const m = git(hub, ['rev-parse', 'main']).trim();
    expect(git(hub, ['rev-list', `${l}..${m}`]).trim().split('\n')).toHaveLength(2); // E1 and M: all git lists
    // a: the walk from M lists O too (signed by b, removed since); git's list does not: taken
    const r = await a.sync();
    expect(r.code, `${r.stderr}${r.stdout}`).toBe(0);
    expect(a.git(['rev-parse', 'HEAD']).trim()).toBe(m);
    expect(a.read('notes/e.md')).toBe('e\n');
    expect(a.read('notes/b.md')).toBe('b\n');
  }, 240_000);
});
