/**
 * `agentgit lease` on a file hub: three real instances, loops of leased
 * runs (never two at once, tokens grow), status, scripts' commands, exit
 * statuses, a forged lease commit. The faults (kill -9, a frozen holder, a
 * holder cut off), clock skew and the ssh hub are in the other
 * test/coord/lease-*.test.ts files, so each file stays short.
 * AGENTGIT_LEASE_TRIALS scales the loops (lease-harness.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub, tempDir } from '../helpers/agents.js';
import { checkLog, fleet, killLeftovers, loops, TRIALS } from './lease-harness.js';

afterAll(() => cleanupTemp());
afterEach(() => killLeftovers());

describe('lease: file hub', () => {
  let hub: string;
  let insts: Instance[];
  beforeAll(async () => {
    hub = makeBareHub();
    insts = await fleet(hub);
  }, 120_000);

  it(`three instances × ${TRIALS} leased runs: never two at once, tokens grow, sync undisturbed`, async () => {
    const log = join(tempDir(), 'runs.log');
    const codes = await loops(insts, log, TRIALS);
    const spans = checkLog(log);
    expect(spans.length).toBe(codes.filter((c) => c === 0).length);
    expect(spans.length).toBeGreaterThanOrEqual(TRIALS); // most runs get the lease
    expect(new Set(spans.map((s) => s.inst)).size).toBeGreaterThan(1);
    // the lease lives on the hub beside the branch, never on it
    expect(git(hub, ['for-each-ref', '--format=%(refname)', 'refs/agentgit/leases/'])).toBe('refs/agentgit/leases/job\n');
    const [a, b] = insts as [Instance, Instance];
    a.write('memory/note.md', '# note\n');
    for (const i of [a, b]) expect((await i.sync()).code).toBe(0);
    for (const i of insts) {
      expect(i.git(['log', '--format=%s'])).not.toMatch(/lease/);
      expect(i.git(['for-each-ref', '--format=%(refname)', 'refs/remotes/', 'refs/heads/'])).not.toMatch(/lease/);
    }
    expect(git(hub, ['log', '--format=%s', 'main'])).not.toMatch(/lease/);
    expect(b.read('memory/note.md')).toBe('# note\n');
  }, 600_000);

  it('status lists the lease with holder, generation and what this instance has seen; --json too', async () => {
    const [a] = insts as [Instance];
    const r = await a.run(['lease', 'status', '-C', a.dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { leases: Array<{ name: string; state: string; holder: string; generation: number }> }).leases;
    expect(rows).toEqual([expect.objectContaining({ name: 'job', state: 'released', generation: expect.any(Number) })]);
    const t = await a.run(['lease', 'status', '-C', a.dir]);
    expect(t.stdout).toMatch(/^job\treleased by kevin\/[abc], generation \d+, ttl 2\.0s/);
  });

  it('a held lease: exit 75 naming the holder and the earliest take; acquire/renew/release for scripts', async () => {
    const [a, b] = insts as [Instance, Instance];
    const acq = await a.run(['lease', 'acquire', 'cron', '-C', a.dir, '--ttl', '30s', '--json']);
    expect(acq.code, acq.stderr).toBe(0);
    const token = (JSON.parse(acq.stdout) as { token: number }).token;
    const other = await b.run(['lease', 'run', 'cron', '-C', b.dir, '--', 'true']);
    expect(other.code).toBe(75);
    expect(other.stderr).toMatch(/^agentgit: lease cron is held by kevin\/a \(generation \d+\): seen unchanged for .* it can be taken in .* at the earliest/);
    expect((await a.run(['lease', 'renew', 'cron', '-C', a.dir])).stdout).toMatch(/^renewed lease cron \(token \d+\)/);
    expect((await b.run(['lease', 'renew', 'cron', '-C', b.dir])).code).toBe(1); // b holds nothing
    const rel = await a.run(['lease', 'release', 'cron', '-C', a.dir]);
    expect(rel.stdout).toBe(`released lease cron (token ${token})\n`);
    const next = await b.run(['lease', 'run', 'cron', '-C', b.dir, '--', 'sh', '-c', 'echo $AGENTGIT_LEASE_TOKEN']);
    expect(next.code, next.stderr).toBe(0);
    expect(Number(next.stdout.trim())).toBe(token + 1);
    // usage
    for (const bad of [['run', 'cron', '-C', b.dir], ['run', 'a/b', '-C', b.dir, '--', 'true'], ['run', 'x', '-C', b.dir, '--ttl', '5ms', '--', 'true']]) {
      const u = await b.run(['lease', ...bad]);
      expect(u.code, u.stderr).toBe(2);
      expect(u.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    }
  }, 120_000);

  it("the command's exit status is lease run's; a missing command is 127", async () => {
    const [c] = insts.slice(2) as [Instance];
    expect((await c.run(['lease', 'run', 'st', '-C', c.dir, '--', 'sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await c.run(['lease', 'run', 'st', '-C', c.dir, '--', 'no-such-command-here'])).code).toBe(127);
  }, 60_000);

  it('a forged (unsigned) lease commit is not believed: held by an unknown writer until unchanged for the ttl, then outbid', async () => {
    const [a, b] = insts as [Instance, Instance];
    const rec = { v: 1, name: 'forged', agent: 'kevin', instance: 'b', generation: 500, ttlMs: 1000, state: 'released', at: 0 };
    const env = { ...a.env, GIT_AUTHOR_NAME: 'kevin/b', GIT_AUTHOR_EMAIL: 'x@y', GIT_COMMITTER_NAME: 'kevin/b', GIT_COMMITTER_EMAIL: 'x@y' };
    const tree = git(hub, ['hash-object', '-t', 'tree', '-w', '--stdin'], env).trim();
    const msgFile = join(tempDir(), 'msg');
    writeFileSync(msgFile, `agentgit lease forged: released by kevin/b (generation 500)\n\n${JSON.stringify(rec)}\n`);
    const oid = git(hub, ['commit-tree', tree, '-F', msgFile], env).trim();
    git(hub, ['update-ref', 'refs/agentgit/leases/forged', oid]);
    const st = await a.run(['lease', 'status', 'forged', '-C', a.dir, '--json']);
    expect(JSON.parse(st.stdout).leases[0]).toMatchObject({ name: 'forged', state: 'unverified', reason: expect.stringMatching(/not believed: it is not signed/) });
    // a long ttl here: a's own observation began at `status`, and a loaded machine may take seconds between the two commands
    const now = await a.run(['lease', 'run', 'forged', '-C', a.dir, '--ttl', '60s', '--', 'true']);
    expect(now.code).toBe(75); // a "released" it cannot verify is no release
    expect(now.stderr).toMatch(/held by an unverified holder \(it is not signed; it claims kevin\/b\)/);
    const later = await b.run(['lease', 'run', 'forged', '-C', b.dir, '--ttl', '2s', '--wait', '60', '--', 'sh', '-c', 'echo $AGENTGIT_LEASE_TOKEN']);
    expect(later.code, later.stderr).toBe(0);
    expect(Number(later.stdout.trim())).toBe(501);
  }, 120_000);
});
