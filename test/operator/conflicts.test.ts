/**
 * Issue #13: `agentgit conflicts` a person can act on: a stable short ID per
 * record, ISO UTC times, both values in full, --path, --since, --json, and
 * `conflicts take ID` to bring the losing value back as a new write.
 * Real git, a real bare hub, two instances racing on the same keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, Instance, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

interface Shown {
  id: string;
  time: string;
  path: string;
  key: string;
  winner: { value: string | null; instance: string; time: string };
  loser: { value: string | null; instance: string; time: string };
}

const LONG_A = 'a'.repeat(70) + ' from a';
const LONG_B = 'a'.repeat(70) + ' from b';

let a: Instance;
let b: Instance;
let recs: Shown[];

beforeAll(async () => {
  const hub = makeBareHub();
  a = await Instance.init(hub, 'a', {
    files: {
      'prefs.json': JSON.stringify({ theme: 'light', motto: 'x', tasks: [{ id: 't1', status: 'todo' }] }, null, 2) + '\n',
      'MEMORY.md': '# Memory\n\nline one\nline two\nline three\n',
    },
  });
  b = await Instance.clone(hub, 'b');
  a.updateJson<Record<string, unknown>>('prefs.json', (v) => ({ ...v, theme: 'dark-a', motto: LONG_A, tasks: [{ id: 't1', status: 'done-a' }] }));
  a.write('MEMORY.md', '# Memory\n\nline one\nline two by a\nline three\n');
  b.updateJson<Record<string, unknown>>('prefs.json', (v) => ({ ...v, theme: 'dark-b', motto: LONG_B, tasks: [{ id: 't1', status: 'done-b' }] }));
  b.write('MEMORY.md', '# Memory\n\nline one\nline two by b\nline three\n');
  expect((await a.sync()).code).toBe(0);
  expect((await b.sync()).code).toBe(0);
  expect((await a.sync()).code).toBe(0);
  const r = await a.run(['conflicts', '--json']);
  expect(r.code, r.stderr).toBe(0);
  recs = JSON.parse(r.stdout) as Shown[];
}, 120_000);

describe('agentgit conflicts', () => {
  it('lists every record with a stable ID, ISO UTC times and both values in full', async () => {
    const keys = recs.map((r) => `${r.path} ${r.key}`).sort();
    expect(keys).toEqual(['MEMORY.md hunk@4', 'prefs.json /motto', 'prefs.json /tasks/@t1/status', 'prefs.json /theme']);
    for (const r of recs) {
      expect(r.id).toMatch(/^[0-9a-f]{8}$/);
      expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(new Set([r.winner.instance, r.loser.instance])).toEqual(new Set(['a', 'b']));
    }
    const motto = recs.find((r) => r.key === '/motto')!;
    expect(new Set([motto.winner.value, motto.loser.value])).toEqual(new Set([JSON.stringify(LONG_A), JSON.stringify(LONG_B)]));
    // the same record has the same ID on the other instance
    expect((await b.sync()).code).toBe(0);
    const onB = JSON.parse((await b.run(['conflicts', '--json'])).stdout) as Shown[];
    expect(onB.map((r) => r.id).sort()).toEqual(recs.map((r) => r.id).sort());
    // people see both long values whole, the time and the way to take one back
    const text = (await a.run(['conflicts'])).stdout;
    expect(text).toContain(LONG_A);
    expect(text).toContain(LONG_B);
    expect(text).toMatch(/^[0-9a-f]{8} {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}prefs\.json \/theme/m);
    expect(text).toContain(`agentgit conflicts take ${motto.id}`);
  });

  it('filters by --path and --since; a bad date is a usage error, as JSON with --json', async () => {
    const md = JSON.parse((await a.run(['conflicts', '--json', '--path', '*.md'])).stdout) as Shown[];
    expect(md.map((r) => r.path)).toEqual(['MEMORY.md']);
    expect((JSON.parse((await a.run(['conflicts', '--json', '--since', '2000-01-01'])).stdout) as Shown[]).length).toBe(4);
    expect(JSON.parse((await a.run(['conflicts', '--json', '--since', '2999-01-01T00:00'])).stdout)).toEqual([]);
    const bad = await a.run(['conflicts', '--json', '--since', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, exitCode: 2, error: expect.stringMatching(/--since yesterday-ish/) });
  });

  it('take ID writes the losing value back (a JSON key, an array item by id, a text hunk); the next sync carries it everywhere', async () => {
    for (const key of ['/theme', '/tasks/@t1/status', 'hunk@4']) {
      const r = recs.find((x) => x.key === key)!;
      const t = await a.run(['conflicts', 'take', r.id.slice(0, 6)]);
      expect(t.code, t.stderr).toBe(0);
      expect(t.stdout).toMatch(/next `agentgit sync` commits it/);
    }
    const theme = recs.find((x) => x.key === '/theme')!;
    const status = recs.find((x) => x.key === '/tasks/@t1/status')!;
    const hunk = recs.find((x) => x.key === 'hunk@4')!;
    const prefs = a.readJson<{ theme: string; tasks: { id: string; status: string }[] }>('prefs.json');
    expect(JSON.stringify(prefs.theme)).toBe(theme.loser.value);
    expect(JSON.stringify(prefs.tasks[0]!.status)).toBe(status.loser.value);
    expect(a.read('MEMORY.md')).toBe(`# Memory\n\nline one\n${hunk.loser.value}line three\n`);
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    expect(b.read('prefs.json')).toBe(a.read('prefs.json'));
    expect(b.read('MEMORY.md')).toBe(a.read('MEMORY.md'));
  });

  it('take with an unknown ID: exit 1, says where to look, writes nothing', async () => {
    const before = a.read('prefs.json');
    const r = await a.run(['conflicts', 'take', 'ffffffff']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no conflict record ffffffff.*agentgit conflicts/);
    expect(a.read('prefs.json')).toBe(before);
  });
});
