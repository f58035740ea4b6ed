/**
 * Issue #15: `agentgit compact history --before DATE` (docs/compaction.md).
 * The epoch carries the tree of the last first-parent commit at or before
 * DATE; the commits after it are replayed on top (same trees, each naming
 * its original); every instance checks that before crossing, and a forged
 * replay is refused. Real git, a real bare hub, the real CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCutDate, replayMessage, trailerOid } from '../../src/sync/compact.js';
import { cleanupTemp, expectSameSnapshots, git, Instance, makeBareHub } from '../helpers/agents.js';
import { count, ok } from './compact-helpers.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';

describe('--before dates and replay messages (pure)', () => {
  it('parses a date as 00:00 UTC and a time only with its zone, never the host zone', () => {
    expect(parseCutDate('2026-08-01')).toBe(Date.UTC(2026, 7, 1));
    expect(parseCutDate('2026-08-01T12:00:00+02:00')).toBe(Date.UTC(2026, 7, 1, 10));
    expect(parseCutDate('2026-08-01 12:00Z')).toBe(Date.UTC(2026, 7, 1, 12));
    for (const bad of ['2026-02-30', '2026-02-30T00:00:00Z', '2026-08-01T24:00:00Z', '2026-08-01T12:60Z', '2026-08-01T12:00:00', '3 days ago', 'yesterday', '2026-8-1']) expect(parseCutDate(bad), bad).toBeNull();
  });

  it('adds the replay trailer to the original trailer block, or starts one', () => {
    expect(replayMessage('agentgit: sync\n\nAgentgit-Instance: a\n', 'f'.repeat(40))).toBe(`agentgit: sync\n\nAgentgit-Instance: a\nAgentgit-Replay-Of: ${'f'.repeat(40)}\n`);
    expect(replayMessage('by hand\n', 'e'.repeat(40))).toBe(`by hand\n\nAgentgit-Replay-Of: ${'e'.repeat(40)}\n`);
    // a replay of a replay (a second cut inside the first one's replays) names the commit it replays, below the older trailer
    const twice = replayMessage(replayMessage('agentgit: sync\n\nAgentgit-Instance: a\n', 'f'.repeat(40)), 'e'.repeat(40));
    expect(trailerOid(`tree x\n\n${twice}`, 'Agentgit-Replay-Of')).toBe('e'.repeat(40));
  });
});

describe('compact history --before: an epoch at a cut, later commits replayed', () => {
  let hub: string;
  let a: Instance;
  let b: Instance;
  let c: Instance;
  const entries: string[] = [];
  const add = (i: Instance, e: string): void => {
    entries.push(e);
    i.append(day, `${e}\n`);
  };

  beforeAll(async () => {
    hub = makeBareHub();
    // a's first commits are dated 2020 (by the history, not the clock); what follows is dated now
    a = await Instance.init(hub, 'a', { files: { [day]: '# log\n' }, extraEnv: { GIT_COMMITTER_DATE: '2020-01-01T00:00:00Z' } });
    b = await Instance.clone(hub, 'b');
    c = await Instance.clone(hub, 'c');
    for (const i of [a, b, c]) await ok(i.sync());
    add(a, '- 08:00 a old one');
    await ok(a.sync());
    add(a, '- 08:10 a old two');
    await ok(a.sync());
    delete a.env.GIT_COMMITTER_DATE;
    for (const [i, e] of [[b, '- 09:00 b new'], [a, '- 09:10 a new'], [c, '- 09:20 c new']] as const) {
      await ok(i.sync());
      add(i, e);
      await ok(i.sync());
    }
    for (const i of [a, b, c]) await ok(i.sync());
  }, 180_000);

  it('keeps the commits after the cut (same trees, naming their originals), refuses forged replays, and converges', async () => {
    const oldHead = git(hub, ['rev-parse', 'main']).trim();
    const line = git(hub, ['log', '--first-parent', '--format=%H %ct', 'main']).trim().split('\n').map((l) => l.split(' ') as [string, string]);
    const at = line.findIndex(([, t]) => Number(t) * 1000 <= Date.UTC(2021, 0, 1));
    expect(at).toBeGreaterThan(0);
    const cut = line[at]![0];
    const originals = line.slice(0, at).map(([h]) => h).reverse();
    // unpushed work on b (committed) and c (not even committed)
    add(b, '- 10:00 b unpushed');
    await ok(b.sync(['--no-push']));
    add(c, '- 10:10 c offline');

    const r = await ok(a.run(['compact', 'history', '--before', '2021-01-01']));
    expect(r.stdout).toMatch(new RegExp(`${originals.length} commits? after the cut ${cut.slice(0, 10)} replayed`));
    const epoch = git(hub, ['rev-list', '--max-parents=0', 'main']).trim();
    expect(epoch.split('\n')).toHaveLength(1);
    const raw = git(hub, ['cat-file', '-p', epoch]);
    expect(raw).toContain(`Agentgit-Epoch-Of: ${oldHead}`);
    expect(raw).toContain(`Agentgit-Epoch-Cut: ${cut}`);
    expect(git(hub, ['rev-parse', `${epoch}^{tree}`]).trim()).toBe(git(hub, ['rev-parse', `${cut}^{tree}`]).trim());
    expect(git(hub, ['rev-parse', `refs/agentgit/archive/${epoch}`]).trim()).toBe(oldHead);
    const replayed = git(hub, ['rev-list', '--reverse', 'main']).trim().split('\n').slice(1);
    expect(replayed).toHaveLength(originals.length); // a had nothing unpushed: the epoch and the replays
    for (const [i, rc] of replayed.entries()) {
      expect(git(hub, ['cat-file', '-p', rc])).toContain(`Agentgit-Replay-Of: ${originals[i]}`);
      expect(git(hub, ['rev-parse', `${rc}^{tree}`]).trim()).toBe(git(hub, ['rev-parse', `${originals[i]}^{tree}`]).trim());
      expect(git(hub, ['log', '-1', '--format=%at %ct %s', rc]).trim()).toBe(git(hub, ['log', '-1', '--format=%at %ct %s', originals[i]!]).trim());
    }
    const realTip = replayed[replayed.length - 1]!;

    // forged replays, pushed over the real ones: c (not crossed yet) refuses each and writes nothing
    const sign = (tree: string, parent: string, msg: string, signed = true): string =>
      git(a.dir, ['commit-tree', ...(signed ? ['-S'] : ['--no-gpg-sign']), tree, '-p', parent, '-m', msg], a.env).trim();
    const first = originals[0]!;
    // every replay right, the first one unsigned
    const unsignedChain = (): string => {
      let tip = epoch;
      for (const [i, o] of originals.entries()) tip = sign(git(hub, ['rev-parse', `${o}^{tree}`]).trim(), tip, `x\n\nAgentgit-Replay-Of: ${o}\n`, i > 0);
      return tip;
    };
    const otherTree = git(hub, ['rev-parse', `${cut}^{tree}`]).trim();
    const firstTree = git(hub, ['rev-parse', `${first}^{tree}`]).trim();
    for (const [label, forged, reason] of [
      ['tree differs', sign(otherTree, epoch, `x\n\nAgentgit-Replay-Of: ${first}\n`), /another tree than the archived/],
      ['names another original', sign(firstTree, epoch, `x\n\nAgentgit-Replay-Of: ${cut}\n`), /does not name the archived/],
      ['unsigned', unsignedChain(), /failed verification/],
      ['replays missing', epoch, /replay of the archived .* is missing/],
    ] as const) {
      git(a.dir, ['push', '-q', '--force', hub, `${forged}:refs/heads/main`], a.env);
      const cHead = c.git(['rev-parse', 'HEAD']).trim();
      const rc = await c.sync();
      expect(rc.code, `${label}: ${rc.stderr}${rc.stdout}`).toBe(1);
      expect(rc.stderr + rc.stdout, label).toMatch(reason);
      // c's own write is committed locally (the first time), nothing from the hub is taken in
      const now = c.git(['rev-parse', 'HEAD']).trim();
      expect(now === cHead || c.git(['rev-parse', `${now}^`]).trim() === cHead, label).toBe(true);
      expect(c.git(['rev-list', 'HEAD']), label).not.toContain(epoch);
      expect(c.read(day), label).toContain('- 10:10 c offline');
    }
    git(a.dir, ['push', '-q', '--force', hub, `${realTip}:refs/heads/main`], a.env);

    for (const i of [b, c, a, b]) {
      const s = await ok(i.sync());
      expect(s.stdout + s.stderr).not.toMatch(/refused/);
    }
    expect(expectSameSnapshots([a, b, c]).diff).toEqual([]);
    const text = a.read(day);
    for (const e of entries) expect(count(text, e), e).toBe(1);
    expect(Number(git(hub, ['rev-list', '--count', 'main']).trim())).toBe(1 + originals.length + 2); // + b's and c's carried work
    await ok(a.run(['verify']));
    await ok(c.run(['verify']));
  }, 180_000);

  it('a bad --before is a usage error; a date before every commit compacts nothing', async () => {
    const u = await a.run(['compact', 'history', '--before', 'last week']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--before "last week": give a date as YYYY-MM-DD/);
    const head = git(hub, ['rev-parse', 'main']).trim();
    const n = await ok(a.run(['compact', 'history', '--before', '2019-01-01']));
    expect(n.stdout).toMatch(/no commit on the hub's branch was committed at or before 2019-01-01T00:00:00\.000Z: nothing to compact/);
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(head);
  }, 60_000);
});
