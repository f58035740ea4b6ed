/**
 * Issue #15: `agentgit compact auto` runs what the synced policy's
 * `compaction` block says is due, on one instance at a time (lease
 * `compaction`), and `status` shows the hub's size (docs/compaction.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { compactionSchedule, parsePolicy } from '../../src/policy/policy.js';
import { Repo } from '../../src/git/repo.js';
import { storeSize } from '../../src/sync/compact.js';
import { BIN, cleanupTemp, expectSameSnapshots, git, Instance, makeBareHub, type Run } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

async function ok(r: Promise<Run>): Promise<Run> {
  const x = await r;
  expect(x.code, `${x.stderr}${x.stdout}`).toBe(0);
  return x;
}

const POLICY = '.agentgit/config.json';
const policy = (compaction: unknown): string => `${JSON.stringify({ version: 1, compaction }, null, 2)}\n`;
const hubCommits = (hub: string, grep: string): number => git(hub, ['log', '--format=%H', `--grep=${grep}`, 'main']).split('\n').filter(Boolean).length;

describe('the compaction block (pure)', () => {
  it('parses durations, round-trips through the accepted record, refuses bad values naming the file', () => {
    const cfg = parsePolicy(policy({ logsOlderThan: '90d', historyEvery: '30d' }));
    expect(compactionSchedule(cfg.compaction)).toEqual({ logsOlderThanDays: 90, historyEveryMs: 30 * 86_400_000 });
    expect(parsePolicy(JSON.stringify(cfg))).toEqual(cfg); // the accepted record re-parses what it stores
    expect(compactionSchedule(parsePolicy(null).compaction)).toEqual({ logsOlderThanDays: null, historyEveryMs: null });
    for (const bad of [{ logsOlderThan: '3 months' }, { logsOlderThan: 90 }, { historyEvery: 'weekly' }, { historyEvery: '30' }, { every: '1d' }, 'daily']) {
      expect(() => parsePolicy(policy(bad)), JSON.stringify(bad)).toThrow(/^\.agentgit\/config\.json: .*compaction/);
    }
  });
});

describe('compact auto: logs, two instances at once', () => {
  const [old, recent, archive] = ['memory/2026-01-05.md', 'memory/2026-05-30.md', 'memory/archive/2026-01.md'];
  let hub: string, a: Instance, b: Instance, c: Instance;

  beforeAll(async () => {
    hub = makeBareHub();
    const files = { [POLICY]: policy({ logsOlderThan: '90d' }), [old]: '- 09:00 a first\n- 09:05 a second\n', [recent]: '- 07:00 a recent\n' };
    a = await Instance.init(hub, 'a', { files });
    [b, c] = [await Instance.clone(hub, 'b'), await Instance.clone(hub, 'c')];
    for (const i of [a, b, c]) await ok(i.sync());
  }, 120_000);

  it('exits 0 with one line when nothing is due', async () => {
    const r = await ok(a.run(['compact', 'auto', '--today', '2026-02-01']));
    expect(r.stdout).toBe('no compaction due\n');
    expect(existsSync(a.path(old))).toBe(true);
    const j = JSON.parse((await ok(a.run(['compact', 'auto', '--json', '--today', '2026-02-01']))).stdout) as { ok: boolean; compacted: boolean };
    expect(j).toMatchObject({ ok: true, compacted: false });
  }, 60_000);

  it('compacts once when two instances run it at the same time; every entry arrives exactly once', async () => {
    // a paused instance compacts nothing (its sync would publish nothing) and exits 0
    await ok(a.run(['pause', '-C', a.dir]));
    expect((await ok(a.run(['compact', 'auto', '--today', '2026-06-01']))).stdout).toMatch(/^sync is paused here/);
    expect(existsSync(a.path(old))).toBe(true);
    await ok(a.run(['resume', '-C', a.dir]));
    c.append(old, '- 10:00 c late\n'); // c: uncommitted, not yet seen by anyone
    const [ra, rb] = await Promise.all([a.run(['compact', 'auto', '--today', '2026-06-01']), b.run(['compact', 'auto', '--today', '2026-06-01'])]);
    for (const r of [ra, rb]) expect(r.code, `${r.stderr}${r.stdout}`).toBe(0);
    const outs = [ra.stdout, rb.stdout];
    expect(outs.filter((o) => /^moved 1 daily log older than 90d into memory\/archive\/2026-01\.md/.test(o))).toHaveLength(1);
    expect(outs.filter((o) => /holds lease compaction( \(generation \d+\))?: nothing to do here|no compaction due/.test(o)), JSON.stringify([ra, rb])).toHaveLength(1);
    expect(hubCommits(hub, 'Agentgit-Compact-Logs')).toBe(1);
    for (const i of [c, a, b, c, a]) await ok(i.sync());
    expect(expectSameSnapshots([a, b, c]).diff).toEqual([]);
    expect(existsSync(a.path(old))).toBe(false);
    const all = [...a.snapshot().entries()].filter(([p]) => p.startsWith('memory/')).map(([, t]) => t).join('');
    for (const e of ['- 09:00 a first', '- 09:05 a second', '- 10:00 c late', '- 07:00 a recent']) {
      expect(all.split(e).length - 1, e).toBe(1);
    }
    expect(a.read(archive)).toContain('- 09:00 a first\n- 09:05 a second\n');
    // the lease was released: the next run takes it and finds nothing due
    expect((await ok(b.run(['compact', 'auto', '--today', '2026-06-01']))).stdout).toMatch(/no compaction due/);
  }, 180_000);

  it('status shows the hub size (a hub on disk) in text and JSON', async () => {
    const t = await ok(a.run(['status']));
    expect(t.stdout).toMatch(/^hub size: [\d.]+ (KiB|MiB) \(.*objects\)$/m);
    const j = JSON.parse((await ok(a.run(['status', '--json']))).stdout) as { storage: { bytes: number; of: string; path: string } };
    expect(j.storage.of).toBe('hub');
    expect(j.storage.bytes).toBeGreaterThan(0);
    expect(j.storage.path.startsWith(hub)).toBe(true);
    // a hub not on this disk (ssh, https): this clone's object store, labelled as such
    const repo = (await Repo.open(a.dir))!;
    const own = await storeSize(repo, 'ssh://git@example.invalid/kevin.git');
    repo.close();
    expect(own.of).toBe('clone');
    expect(own.bytes).toBeGreaterThan(0);
  }, 60_000);

  it('a bad value in the compaction block: exit 1, one line naming the file', async () => {
    a.write(POLICY, policy({ logsOlderThan: 'soon' }));
    const r = await a.run(['compact', 'auto']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\.agentgit\/config\.json: "compaction\.logsOlderThan" must be a number of days/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    a.write(POLICY, policy({ logsOlderThan: '90d' }));
  }, 60_000);
});

describe('compact auto: history', () => {
  it('starts one new epoch when the history is older than historyEvery, then nothing is due', async () => {
    const hub = makeBareHub();
    // commits dated long ago: due by the commit dates in the history, not by the clock of the files
    const a = await Instance.init(hub, 'a', { files: { [POLICY]: policy({ historyEvery: '1s' }), 'memory/notes.md': '- one\n' }, extraEnv: { GIT_COMMITTER_DATE: '2020-01-01T00:00:00Z' } });
    a.append('memory/notes.md', '- two\n');
    await ok(a.sync());
    expect(Number(git(hub, ['rev-list', '--count', 'main']).trim())).toBeGreaterThan(1);
    const r = await ok(a.run(['compact', 'auto']));
    expect(r.stdout).toMatch(/^new epoch [0-9a-f]{10}: \d+ commits archived/);
    expect(git(hub, ['for-each-ref', '--format=%(refname)', 'refs/agentgit/archive/']).trim().split('\n')).toHaveLength(1);
    expect(Number(git(hub, ['rev-list', '--count', 'main']).trim())).toBe(1);
    expect((await ok(a.run(['compact', 'auto']))).stdout).toBe('no compaction due\n');
    expect(a.read('memory/notes.md')).toBe('- one\n- two\n');
  }, 120_000);
});

describe('compact auto: the lease is renewed while it runs', () => {
  it('a run longer than the lease ttl keeps another instance out of lease compaction, then releases it', async () => {
    const hub = makeBareHub();
    const old = 'memory/2026-01-05.md';
    const a = await Instance.init(hub, 'a', { files: { [POLICY]: policy({ logsOlderThan: '90d' }), [old]: '- 09:00 a first\n' } });
    const b = await Instance.clone(hub, 'b');
    for (const i of [a, b]) await ok(i.sync());
    // a stalls 15 s in its first exchange with the hub while holding the lease (ttl 3 s: renewed every second)
    let stalled!: () => void;
    const atFailpoint = new Promise<void>((r) => (stalled = r));
    const slow = new Promise<Run>((res) => {
      const child = spawn(process.execPath, [BIN, 'compact', 'auto', '-C', a.dir, '--today', '2026-06-01', '--ttl', '3s'], { env: { ...a.env, AGENTGIT_FAILPOINT: 'fetch:sleep=15000' } });
      let [stdout, stderr] = ['', ''];
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/failpoint fetch: sleep/.test(stderr)) stalled();
      });
      child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
    });
    await atFailpoint;
    // b watches the lease for 8 s, far longer than ttl + margin: unrenewed, b would take it
    const rb = await b.run(['lease', 'acquire', 'compaction', '--ttl', '3s', '--wait', '8']);
    expect(rb.code, `${rb.stderr}${rb.stdout}`).toBe(75);
    expect(rb.stderr).toMatch(/lease compaction is held by kevin\/a/);
    const ra = await slow;
    expect(ra.code, `${ra.stderr}${ra.stdout}`).toBe(0);
    expect(ra.stdout).toMatch(/^moved 1 daily log older than 90d/);
    // released at the end: b takes it at once
    await ok(b.run(['lease', 'acquire', 'compaction', '--ttl', '3s']));
    await ok(b.run(['lease', 'release', 'compaction']));
    // a bad --ttl is a usage error
    const u = await a.run(['compact', 'auto', '--ttl', 'forever']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--ttl "forever": give a duration from 1s to 7d/);
  }, 120_000);
});
