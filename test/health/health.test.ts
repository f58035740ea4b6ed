/**
 * Health and audit, end to end: heartbeats on the hub, lag and drift,
 * conflicts, Prometheus output, rebuild of derived state, the audit log.
 */
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub, tempDir } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

interface Status {
  health: { level: string; reasons: string[] };
  drift: { ratio: number };
  checksum: string;
  conflicts: { total: number };
  held: unknown[];
  recovery: { ms: number | null; failed: string | null };
  instances: { instance: string; lagSeconds: number | null; level: string; checksum: string | null }[];
}

async function status(i: Instance): Promise<Status> {
  const r = await i.run(['status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Status;
}

// thresholds in seconds, small enough for a test and wide enough for a loaded machine
const policy = (extra: object = {}): string => JSON.stringify({ version: 1, health: { lagWarnSeconds: 8, lagFailSeconds: 16, heartbeatSeconds: 0 }, ...extra }, null, 2) + '\n';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('health and audit', () => {
  it('an instance that stops syncing shows growing lag on the others, warn then fail at the thresholds', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { '.agentgit/config.json': policy(), 'MEMORY.md': 'm\n' } });
    const b = await Instance.clone(hub, 'b');
    const c = await Instance.clone(hub, 'c');
    const round = async (insts: Instance[]): Promise<number> => {
      const t = Date.now();
      expect((await Promise.all(insts.map((i) => i.sync(['--wait', '60'])))).map((r) => r.code)).toEqual(insts.map(() => 0));
      return (Date.now() - t) / 1000;
    };
    // thresholds scaled to how fast this machine syncs, so a loaded CI box cannot flake
    const t = Math.max(await round([a, b, c]), await round([a, b, c]));
    const warn = Math.ceil(4 * t) + 3;
    const fail = 2 * warn;
    a.write('.agentgit/config.json', JSON.stringify({ version: 1, health: { lagWarnSeconds: warn, lagFailSeconds: fail, heartbeatSeconds: 0 } }, null, 2) + '\n');
    await round([a]);
    await round([a, b, c]);
    await round([a, b, c]);
    let s = await status(a);
    expect(s.instances.map((i) => i.instance).sort()).toEqual(['a', 'b', 'c']);
    expect(s.health.reasons).toEqual([]);
    expect(s.health.level).toBe('ok');
    // c stops; a and b go on
    await sleep((warn + 1) * 1000);
    await round([a, b]);
    s = await status(a);
    const lagC1 = s.instances.find((i) => i.instance === 'c')!;
    expect(lagC1.lagSeconds!).toBeGreaterThan(warn);
    expect(lagC1.lagSeconds!).toBeLessThan(fail);
    expect(lagC1.level).toBe('warn');
    expect(s.health.level).toBe('warn');
    expect(s.health.reasons.join('\n')).toMatch(/instance c last synced \d+ s ago/);
    await sleep(Math.max(0, (fail - lagC1.lagSeconds! + 1) * 1000));
    await round([a, b]);
    s = await status(b);
    const lagC2 = s.instances.find((i) => i.instance === 'c')!;
    expect(lagC2.lagSeconds!).toBeGreaterThan(lagC1.lagSeconds!);
    expect(lagC2.level).toBe('fail');
    expect(s.health.level).toBe('fail');
    const check = await b.run(['status', '--check']);
    expect(check.code).toBe(2);
    // c comes back: healthy again
    await round([c]);
    await round([a, b, c]);
    await round([a]); // a fetches the heartbeats b and c published in that round
    const back = await status(a);
    expect(back.instances.find((i) => i.instance === 'c')!.level).toBe('ok');
    expect(back.health.reasons).toEqual([]);
  }, 900_000); // its waits scale with how long a round takes on this machine

  it('a local edit that cannot be pushed shows drift; after convergence drift is 0 and checksums match', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { '.agentgit/config.json': policy(), 'memory/2026-11-25.md': '- 09:00 x\n', 'MEMORY.md': 'm\n' } });
    const b = await Instance.clone(hub, 'b');
    for (const i of [a, b, a, b]) expect((await i.sync()).code).toBe(0);
    renameSync(hub, hub + '.away');
    a.append('memory/2026-11-25.md', '- 10:00 offline\n');
    expect((await a.sync()).code).toBe(1); // a hub path that is gone is a mistake to fix, not an outage (issue #13)
    const s1 = await status(a);
    expect(s1.drift.ratio).toBeGreaterThan(0);
    expect(s1.health.level).not.toBe('ok');
    renameSync(hub + '.away', hub);
    for (const i of [a, b, a, b]) expect((await i.sync()).code).toBe(0);
    const sa = await status(a);
    const sb = await status(b);
    expect(sa.drift.ratio).toBe(0);
    expect(sb.drift.ratio).toBe(0);
    expect(sa.checksum).toBe(sb.checksum);
    expect(sa.instances.find((i) => i.instance === 'b')!.checksum).toBe(sa.checksum);
  });

  it('last-writer-wins races show in conflicts and the counter; the Prometheus file parses and agrees', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { '.agentgit/config.json': policy(), 'state.json': '{\n  "mood": "calm",\n  "n": 1\n}\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    a.write('state.json', '{\n  "mood": "happy",\n  "n": 1\n}\n');
    b.write('state.json', '{\n  "mood": "grumpy",\n  "n": 1\n}\n');
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    expect((await a.sync()).code).toBe(0);
    expect(a.read('state.json')).toBe(b.read('state.json'));
    const winner = JSON.parse(a.read('state.json')).mood as string;
    expect(winner).toBe('grumpy'); // b wrote last (later clock)
    const c = await b.run(['conflicts', '--json']);
    const recs = JSON.parse(c.stdout) as { path: string; key: string; winner: { value: string }; loser: { value: string }; winnerInstance: string }[];
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ path: 'state.json', key: '/mood', winner: { value: '"grumpy"' }, loser: { value: '"happy"' }, winnerInstance: 'b' });
    const human = await a.run(['conflicts']);
    expect(human.stdout).toMatch(/ state\.json \/mood {2}\(decided by clock\)\n {2}kept {2}b at [^:]+:\d\d:[\d.]+Z: "grumpy"\n {2}lost {2}a at \S+: "happy"\n/);
    const s = await status(b);
    expect(s.conflicts.total).toBe(1);
    const prom = join(tempDir(), 'agentgit.prom');
    expect((await b.run(['status', '--prometheus', prom])).code).toBe(0);
    const families = parsePrometheusTextFormat(readFileSync(prom, 'utf8')) as { name: string; metrics: { value: string; labels: Record<string, string> }[] }[];
    const get = (n: string): { value: string; labels: Record<string, string> }[] => families.find((f) => f.name === n)!.metrics;
    expect(Number(get('agentgit_conflicts_total')[0]!.value)).toBe(1);
    expect(get('agentgit_conflicts_total')[0]!.labels).toEqual({ agent: 'kevin', instance: 'b' });
    expect(Number(get('agentgit_drift_ratio')[0]!.value)).toBe(s.drift.ratio);
    expect(Number(get('agentgit_held_files')[0]!.value)).toBe(0);
    expect(get('agentgit_lag_seconds').map((m) => m.labels.peer).sort()).toEqual(['a', 'b']);
    expect(Number(get('agentgit_last_success_timestamp_seconds')[0]!.value)).toBeGreaterThan(Date.now() / 1000 - 120);
    // sync can write it too
    const prom2 = join(tempDir(), 'sync.prom');
    expect((await b.sync(['--prometheus', prom2, '--quiet'])).code).toBe(0);
    expect(readFileSync(prom2, 'utf8')).toMatch(/^agentgit_sync_duration_seconds\{agent="kevin",instance="b"\} [0-9.]+$/m);
  });

  it('a rebuild that sleeps shows its time; one that fails turns health to fail with its exit status', async () => {
    const hub = makeBareHub();
    const slow = policy({ rebuild: { command: ['sh', '-c', 'sleep 1.2 && touch .rebuilt.tmp'], paths: ['memory/'], timeoutSeconds: 20 } });
    const a = await Instance.init(hub, 'a', { files: { '.agentgit/config.json': slow, 'memory/2026-11-25.md': '- 09:00 x\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.run(['policy', 'accept'])).code).toBe(0); // a rebuild command runs on B once B's operator accepts it
    a.append('memory/2026-11-25.md', '- 09:30 y\n');
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0); // brings a memory change: rebuild runs
    let s = await status(b);
    expect(s.recovery.ms!).toBeGreaterThanOrEqual(1200);
    expect(s.recovery.failed).toBeNull();
    b.write('.agentgit/config.json', policy({ rebuild: { command: ['sh', '-c', 'echo index corrupt >&2; exit 3'], paths: ['memory/'] } }));
    expect((await b.run(['policy', 'accept'])).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    const r = await b.run(['rebuild']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exited with status 3: index corrupt/);
    s = await status(b);
    expect(s.health.level).toBe('fail');
    expect(s.health.reasons.join('\n')).toMatch(/rebuild failed: sh -c .* exited with status 3/);
  });

  it('agentgit log shows instance, signature, entries and keys per commit; plain git log agrees', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'memory/2026-11-25.md': '- 09:00 x\n', 'tasks.json': '{"tasks": []}\n' } });
    a.append('memory/2026-11-25.md', '- 09:10 y\n- 09:20 z\n');
    a.write('tasks.json', '{"tasks": [{"id": 1, "status": "todo"}]}\n');
    expect((await a.sync()).code).toBe(0);
    const r = await a.run(['log', '--json', '--instance', 'a']);
    const rows = JSON.parse(r.stdout) as { instance: string; signature: string; files: { path: string; entriesAdded?: number; keysChanged?: string[] }[] }[];
    expect(rows[0]!.instance).toBe('a');
    expect(rows[0]!.signature).toBe('good');
    expect(rows[0]!.files.find((f) => f.path === 'memory/2026-11-25.md')!.entriesAdded).toBe(2);
    expect(rows[0]!.files.find((f) => f.path === 'tasks.json')!.keysChanged!.length).toBeGreaterThan(0);
    expect(git(a.dir, ['log', '-1', '--format=%an %G?'], a.env).trim()).toBe('kevin/a G');
    const byPath = JSON.parse((await a.run(['log', '--json', '--path', 'tasks.json'])).stdout) as unknown[];
    expect(byPath.length).toBe(2);
  });
});
