/* eslint-disable @typescript-eslint/no-explicit-any -- merged documents are parsed JSON, inspected loosely */
import { describe, expect, it } from 'vitest';
import {
  changedKeyPaths,
  clockOf,
  mergeClocks,
  mergeJsonText,
  type JsonMergeOutput,
} from '../../src/merge/json.js';
import type { JsonOptions, SideClocks } from '../../src/merge/types.js';
import { MARKER_RE } from '../../src/merge/util.js';

const OPTS: JsonOptions = {
  idKeys: ['id', 'uuid', 'key'],
  volatile: ['last_updated', 'lastUpdated', 'updated_at', 'updatedAt', 'updatedAtMs'],
  counters: [],
  timestampKeys: ['updated_at', 'updatedAt', 'updatedAtMs'],
};

const j = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

/** Merge both ways round, check the bytes agree, return the result and its parsed value. */
function merge(
  base: unknown,
  ours: unknown,
  theirs: unknown,
  opts: Partial<JsonOptions> = {},
  oc?: SideClocks,
  tc?: SideClocks,
): { out: JsonMergeOutput; value: any } {
  const o = { ...OPTS, ...opts };
  const b = base === null ? null : typeof base === 'string' ? base : j(base);
  const a = typeof ours === 'string' ? ours : j(ours);
  const c = typeof theirs === 'string' ? theirs : j(theirs);
  const out = mergeJsonText('f.json', b, a, c, o, oc, tc);
  const swapped = mergeJsonText('f.json', b, c, a, o, tc, oc);
  expect(swapped.text).toBe(out.text);
  expect(MARKER_RE.test(out.text)).toBe(false);
  let value: unknown;
  try {
    value = JSON.parse(out.text);
  } catch {
    value = undefined;
  }
  return { out, value };
}

const task = (id: number, status: string, updated_at: string, extra: Record<string, unknown> = {}) => ({
  id,
  status,
  created_at: '2026-01-01T00:00:00Z',
  updated_at,
  ...extra,
});

describe('task board {tasks: [...]}', () => {
  const base = {
    tasks: [
      task(1, 'todo', '2026-01-01T00:00:00Z', { subtasks: [{ id: 1, completed: false }, { id: 2, completed: false }] }),
      task(2, 'todo', '2026-01-01T00:00:00Z'),
      task(3, 'todo', '2026-01-01T00:00:00Z'),
    ],
  };

  it('keeps edits to different tasks from both sides', () => {
    const ours = structuredClone(base);
    ours.tasks[0]!.status = 'done';
    ours.tasks[0]!.updated_at = '2026-01-02T00:00:00Z';
    const theirs = structuredClone(base);
    theirs.tasks[2]!.status = 'in-progress';
    theirs.tasks[2]!.updated_at = '2026-01-03T00:00:00Z';
    const { out, value } = merge(base, ours, theirs);
    expect(value.tasks.map((t: any) => t.status)).toEqual(['done', 'todo', 'in-progress']);
    expect(out.conflicts).toEqual([]);
    expect(out.method).toBe('structural');
  });

  it('merges different fields of the same task, and subtasks per id', () => {
    const ours = structuredClone(base) as any;
    ours.tasks[0].status = 'in-progress';
    ours.tasks[0].subtasks[0].completed = true;
    const theirs = structuredClone(base) as any;
    theirs.tasks[0].title = 'Write report';
    theirs.tasks[0].subtasks[1].completed = true;
    theirs.tasks[0].subtasks.push({ id: 3, completed: false });
    const { out, value } = merge(base, ours, theirs);
    expect(value.tasks[0]).toMatchObject({ id: 1, status: 'in-progress', title: 'Write report' });
    expect(value.tasks[0].subtasks).toEqual([
      { id: 1, completed: true },
      { id: 2, completed: true },
      { id: 3, completed: false },
    ]);
    expect(out.conflicts).toEqual([]);
  });

  it('decides the same field by the task updated_at (the later edit wins), and updated_at takes the max', () => {
    const ours = structuredClone(base);
    ours.tasks[1]!.status = 'done';
    ours.tasks[1]!.updated_at = '2026-01-05T00:00:00Z';
    const theirs = structuredClone(base);
    theirs.tasks[1]!.status = 'blocked';
    theirs.tasks[1]!.updated_at = '2026-01-04T00:00:00Z';
    // theirs has the later file clock: the item timestamp still decides.
    const { out, value } = merge(base, ours, theirs, {}, { file: '1' }, { file: '2' });
    expect(value.tasks[1]).toMatchObject({ status: 'done', updated_at: '2026-01-05T00:00:00Z' });
    expect(out.conflicts).toHaveLength(1);
    expect(out.conflicts[0]).toMatchObject({ key: '/tasks/@2/status', rule: 'updated_at', winner: { value: '"done"' }, loser: { value: '"blocked"' } });
  });

  it('keeps an edit over a delete, and deletes what the other side left alone', () => {
    const ours = structuredClone(base);
    ours.tasks.splice(1, 2); // delete tasks 2 and 3
    const theirs = structuredClone(base);
    theirs.tasks[2]!.status = 'done';
    const { out, value } = merge(base, ours, theirs);
    expect(value.tasks.map((t: any) => t.id)).toEqual([1, 3]);
    expect(value.tasks[1].status).toBe('done');
    expect(out.stats.keptEdits).toBe(1);
    expect(out.notes.join('\n')).toMatch(/\/tasks\/@3: deleted on one side and changed on the other/);
  });

  it('inserts new tasks after their predecessor, both sides at the same point sorted by id', () => {
    const ours = structuredClone(base) as any;
    ours.tasks.splice(1, 0, task(11, 'todo', 'x'));
    ours.tasks.push(task(20, 'todo', 'x'));
    const theirs = structuredClone(base) as any;
    theirs.tasks.splice(1, 0, task(10, 'todo', 'x'));
    const { value } = merge(base, ours, theirs);
    expect(value.tasks.map((t: any) => t.id)).toEqual([1, 10, 11, 2, 3, 20]);
  });

  it('reports two sides creating id 14 as a collision and keeps both tasks', () => {
    const ours = structuredClone(base) as any;
    ours.tasks.push(task(14, 'todo', '2026-01-02T00:00:00Z', { title: 'Buy milk' }));
    const theirs = structuredClone(base) as any;
    theirs.tasks.push(task(14, 'todo', '2026-01-02T00:00:00Z', { title: 'Call Bob' }));
    const { out, value } = merge(base, ours, theirs);
    const fourteens = value.tasks.filter((t: any) => t.id === 14);
    expect(fourteens.map((t: any) => t.title)).toEqual(['Buy milk', 'Call Bob']);
    expect(out.collisions).toHaveLength(1);
    expect(out.collisions[0]!.key).toBe('/tasks/@14');
    expect(out.collisions[0]!.values).toHaveLength(2);
    expect(out.stats.collisions).toBe(1);
  });

  it('merges identical adds on both sides into one item', () => {
    const ours = structuredClone(base) as any;
    ours.tasks.push(task(14, 'todo', 'x'));
    ours.tasks[0].status = 'done';
    const theirs = structuredClone(base) as any;
    theirs.tasks.push(task(14, 'todo', 'x'));
    const { out, value } = merge(base, ours, theirs);
    expect(value.tasks.filter((t: any) => t.id === 14)).toHaveLength(1);
    expect(out.collisions).toEqual([]);
  });

  it('moves a subtask (uuid) between tasks while the other side edits it', () => {
    const b = {
      tasks: [
        { id: 1, subtasks: [{ uuid: 'a1', completed: false }, { uuid: 'a2', completed: false }] },
        { id: 2, subtasks: [{ uuid: 'b1', completed: false }] },
      ],
    };
    const ours = structuredClone(b);
    ours.tasks[1]!.subtasks.push(ours.tasks[0]!.subtasks.splice(1, 1)[0]!);
    const theirs = structuredClone(b);
    theirs.tasks[0]!.subtasks[1]!.completed = true;
    const { value } = merge(b, ours, theirs);
    expect(value.tasks[0].subtasks).toEqual([{ uuid: 'a1', completed: false }]);
    expect(value.tasks[1].subtasks).toEqual([
      { uuid: 'b1', completed: false },
      { uuid: 'a2', completed: true },
    ]);
  });
});

describe('kanban columns {todo, in-progress, done}', () => {
  const base = {
    todo: [
      { id: 'k1', title: 'one' },
      { id: 'k2', title: 'two' },
    ],
    'in-progress': [{ id: 'k3', title: 'three' }],
    done: [] as unknown[],
  };

  it('moves an item on one side and applies the other side edit to the moved item', () => {
    const ours = structuredClone(base);
    ours.done.push(ours.todo.shift()!);
    const theirs = structuredClone(base);
    theirs.todo[0]!.title = 'one (edited)';
    const { out, value } = merge(base, ours, theirs);
    expect(value.todo).toEqual([{ id: 'k2', title: 'two' }]);
    expect(value.done).toEqual([{ id: 'k1', title: 'one (edited)' }]);
    expect(out.conflicts).toEqual([]);
    expect(out.stats.moved).toBe(1);
  });

  it('a move beats a delete', () => {
    const ours = structuredClone(base);
    ours['in-progress'].push(ours.todo.pop()!);
    const theirs = structuredClone(base);
    theirs.todo.pop();
    const { value } = merge(base, ours, theirs);
    expect(value.todo).toEqual([{ id: 'k1', title: 'one' }]);
    expect(value['in-progress'].map((x: any) => x.id)).toEqual(['k3', 'k2']);
  });

  it('both sides moving the same item: the later clock wins and the loser is reported', () => {
    const ours = structuredClone(base);
    ours.done.push(ours.todo.shift()!);
    const theirs = structuredClone(base);
    theirs['in-progress'].push(theirs.todo.shift()!);
    const oc: SideClocks = { keys: { '/done/@k1/~loc': '0000000000002.0000.a' } };
    const tc: SideClocks = { keys: { '/in-progress/@k1/~loc': '0000000000001.0000.b' } };
    const { out, value } = merge(base, ours, theirs, {}, oc, tc);
    expect(value.done.map((x: any) => x.id)).toEqual(['k1']);
    expect(value['in-progress'].map((x: any) => x.id)).toEqual(['k3']);
    expect(value.todo.map((x: any) => x.id)).toEqual(['k2']);
    expect(out.conflicts).toHaveLength(1);
    expect(out.conflicts[0]).toMatchObject({ key: '/done/@k1', rule: 'clock', winner: { value: '"/done"' }, loser: { value: '"/in-progress"' } });
  });

  it('moves cards between columns of an id-keyed column array', () => {
    const b = {
      columns: [
        { id: 'todo', cards: [{ id: 1, t: 'a' }, { id: 2, t: 'b' }] },
        { id: 'done', cards: [{ id: 3, t: 'c' }] },
      ],
    };
    const ours = structuredClone(b);
    ours.columns[1]!.cards.unshift(ours.columns[0]!.cards.shift()!);
    const theirs = structuredClone(b);
    theirs.columns[0]!.cards[0]!.t = 'A';
    const { value } = merge(b, ours, theirs);
    expect(value.columns[0].cards).toEqual([{ id: 2, t: 'b' }]);
    expect(value.columns[1].cards).toEqual([
      { id: 1, t: 'A' },
      { id: 3, t: 'c' },
    ]);
  });
});

describe('other shapes', () => {
  it('merges a root-level array of tasks', () => {
    const base = [
      { id: 1, status: 'todo' },
      { id: 2, status: 'todo' },
    ];
    const ours = [
      { id: 1, status: 'done' },
      { id: 2, status: 'todo' },
      { id: 3, status: 'todo' },
    ];
    const theirs = [{ id: 2, status: 'doing' }];
    const { value } = merge(base, ours, theirs);
    // task 1: edited by ours, deleted by theirs -> edit kept
    expect(value).toEqual([
      { id: 1, status: 'done' },
      { id: 2, status: 'doing' },
      { id: 3, status: 'todo' },
    ]);
  });

  it('heartbeat-state.json: per key, later value wins; last_updated is volatile and never a conflict', () => {
    const base = { lastChecks: { email: 1767225600, calendar: 1767225600, weather: 1767225600 }, last_updated: '2026-01-01T00:00:00Z' };
    const ours = { lastChecks: { email: 1767229200, calendar: 1767225600, weather: 1767232800 }, last_updated: '2026-01-01T02:00:00Z' };
    const theirs = { lastChecks: { email: 1767225600, calendar: 1767240000, weather: 1767230000 }, last_updated: '2026-01-01T05:00:00Z' };
    const { out, value } = merge(base, ours, theirs, { volatile: [...OPTS.volatile, '/lastChecks/*'] });
    expect(value).toEqual({
      lastChecks: { email: 1767229200, calendar: 1767240000, weather: 1767232800 },
      last_updated: '2026-01-01T05:00:00Z',
    });
    expect(out.conflicts).toEqual([]);
    expect(out.stats.volatile).toBe(2);
  });

  it('{version, setupCompletedAt}: written once, edits on both sides survive', () => {
    const base = { version: 1 };
    const ours = { version: 2 };
    const theirs = { version: 1, setupCompletedAt: '2026-01-02T00:00:00Z' };
    const { value, out } = merge(base, ours, theirs);
    expect(value).toEqual({ version: 2, setupCompletedAt: '2026-01-02T00:00:00Z' });
    expect(out.conflicts).toEqual([]);
  });

  it('{version, setupCompletedAt}: both sides completing setup is a reported race, decided by clocks', () => {
    const { value, out } = merge(
      { version: 1 },
      { version: 1, setupCompletedAt: '2026-01-02T00:00:00Z' },
      { version: 1, setupCompletedAt: '2026-01-03T00:00:00Z' },
      {},
      { file: '0000000000005.0000.a' },
      { file: '0000000000004.0000.b' },
    );
    expect(value.setupCompletedAt).toBe('2026-01-02T00:00:00Z');
    expect(out.conflicts).toMatchObject([{ key: '/setupCompletedAt', rule: 'clock', loser: { value: '"2026-01-03T00:00:00Z"' } }]);
  });

  it('volatile "*" (a clocks file): every key takes the maximum, nested objects merge', () => {
    const base = { '/a': '0000000000001.0000.x', nested: { '/b': '0000000000001.0000.x' } };
    const ours = { '/a': '0000000000003.0000.x', nested: { '/b': '0000000000001.0000.x', '/c': '0000000000002.0000.x' } };
    const theirs = { '/a': '0000000000002.0000.y', nested: { '/b': '0000000000005.0000.y', '/c': '0000000000001.0000.y' } };
    const { value, out } = merge(base, ours, theirs, { volatile: ['*'] });
    expect(value).toEqual({ '/a': '0000000000003.0000.x', nested: { '/b': '0000000000005.0000.y', '/c': '0000000000002.0000.x' } });
    expect(out.conflicts).toEqual([]);
  });

  it('counters add both deltas', () => {
    const base = { stats: { runs: 10, errors: 1 }, total: 5 };
    const ours = { stats: { runs: 13, errors: 1 }, total: 7 };
    const theirs = { stats: { runs: 12, errors: 4 }, total: 6, fresh: 2 };
    const { value, out } = merge(base, ours, theirs, { counters: ['/stats/*', '/total'] });
    expect(value).toEqual({ stats: { runs: 15, errors: 4 }, total: 8, fresh: 2 });
    expect(out.conflicts).toEqual([]);
    // a counter added on both sides: base counts as 0
    expect(merge({}, { n: 2 }, { n: 3 }, { counters: ['/n'] }).value).toEqual({ n: 5 });
    // the same increment on both sides is two increments; bare names match anywhere
    expect(merge({ s: { runs: 1 }, x: 0 }, { s: { runs: 2 }, x: 1 }, { s: { runs: 2 }, x: 2 }, { counters: ['runs'] }).value.s).toEqual({ runs: 3 });
  });

  it('scalar arrays merge as sets: adds from both, removals from either', () => {
    const base = { tags: ['a', 'b', 'c'] };
    const ours = { tags: ['a', 'c', 'x'] };
    const theirs = { tags: ['a', 'b', 'c', 'w', 'd'] };
    const { value, out } = merge(base, ours, theirs);
    expect(value.tags).toEqual(['a', 'c', 'w', 'd', 'x']); // theirs's run [w, d] keeps its order
    expect(out.conflicts).toEqual([]);
    // both adding the same element keeps one
    expect(merge({ t: [1] }, { t: [1, 2] }, { t: [2, 1, 3] }).value.t.filter((x: number) => x === 2)).toHaveLength(1);
  });

  it('arrays of id-less objects merge as sets of canonical values (two edits of one element both survive)', () => {
    const base = { notes: [{ text: 'a' }, { text: 'b' }] };
    const ours = { notes: [{ text: 'a' }, { text: 'b!' }] };
    const theirs = { notes: [{ text: 'a' }, { text: 'b?' }] };
    const { value } = merge(base, ours, theirs);
    expect(value.notes).toEqual([{ text: 'a' }, { text: 'b!' }, { text: 'b?' }]);
  });

  it('one side reordering a list keeps that order', () => {
    const base = { tags: ['c', 'a', 'b'] };
    const ours = { tags: ['a', 'b', 'c'] };
    const theirs = { tags: ['c', 'a', 'b', 'd'] };
    // d follows its predecessor b, in the reordered list
    expect(merge(base, ours, theirs).value.tags).toEqual(['a', 'b', 'd', 'c']);
  });

  it('keeps base key order and appends new keys deterministically', () => {
    const base = '{\n  "z": 1,\n  "a": 1\n}\n';
    const ours = '{\n  "z": 2,\n  "a": 1,\n  "m": 1\n}\n';
    const theirs = '{\n  "z": 1,\n  "a": 2,\n  "k": 1\n}\n';
    const { out } = merge(base, ours, theirs);
    expect(out.text).toBe('{\n  "z": 2,\n  "a": 2,\n  "k": 1,\n  "m": 1\n}\n');
  });

  it('a type change on both sides is a whole-value race', () => {
    const { value, out } = merge({ x: { a: 1 } }, { x: [1] }, { x: 'flat' }, {}, { file: '1' }, { file: '2' });
    expect(value).toEqual({ x: 'flat' });
    expect(out.conflicts[0]).toMatchObject({ key: '/x', rule: 'clock', loser: { value: '[1]', clock: '1' } });
  });

  it('treats "__proto__" and "toString" as ordinary keys', () => {
    const base = '{"a":1}';
    const ours = '{"a":1,"__proto__":{"p":1}}';
    const theirs = '{"a":2,"toString":3}';
    const { out } = merge(base, ours, theirs);
    expect(out.text).toBe('{"a":2,"__proto__":{"p":1},"toString":3}');
  });
});

describe('last writer wins by clocks', () => {
  const base = { settings: { theme: 'light', lang: 'en' } };
  const ours = { settings: { theme: 'dark', lang: 'en' } };
  const theirs = { settings: { theme: 'blue', lang: 'en' } };

  it('per-key clocks decide a race, more specific than the file clock', () => {
    const oc: SideClocks = { file: '0000000000009.0000.a', keys: { '/settings/theme': '0000000000001.0000.a' } };
    const tc: SideClocks = { file: '0000000000002.0000.b', keys: { '/settings': '0000000000003.0000.b' } };
    const { value, out } = merge(base, ours, theirs, {}, oc, tc);
    expect(value.settings.theme).toBe('blue');
    expect(out.conflicts[0]).toMatchObject({
      key: '/settings/theme',
      rule: 'clock',
      winner: { value: '"blue"', clock: '0000000000003.0000.b' },
      loser: { value: '"dark"', clock: '0000000000001.0000.a' },
    });
  });

  it('falls back to the file clock, then to the values', () => {
    expect(merge(base, ours, theirs, {}, { file: '2' }, { file: '1' }).value.settings.theme).toBe('dark');
    const tie = merge(base, ours, theirs);
    expect(tie.value.settings.theme).toBe('dark'); // "dark" > "blue"
    expect(tie.out.conflicts[0]!.rule).toBe('value');
  });

  it('epoch timestamps (updatedAtMs) decide before clocks', () => {
    const b = { items: [{ id: 'x', v: 1, updatedAtMs: 1000 }] };
    const o = { items: [{ id: 'x', v: 2, updatedAtMs: 3000 }] };
    const t = { items: [{ id: 'x', v: 3, updatedAtMs: 2000 }] };
    const { value, out } = merge(b, o, t, {}, { file: '1' }, { file: '9' });
    expect(value.items[0]).toEqual({ id: 'x', v: 2, updatedAtMs: 3000 });
    expect(out.conflicts[0]!.rule).toBe('updated_at');
  });
});

describe('unparseable input', () => {
  it('an unparseable side never wins over one that parses, even when it is newer; its text is on record', () => {
    const base = j({ a: 1 });
    const ours = j({ a: 2 });
    const theirs = '{"a": 3,,,';
    const { out } = merge(base, ours, theirs, {}, { file: '1' }, { file: '2' });
    expect(out.text).toBe(ours);
    expect(out.conflicts).toEqual([
      { path: 'f.json', key: '', winner: { value: ours, clock: '1' }, loser: { value: theirs, clock: '2' }, rule: 'value' },
    ]);
  });

  it('neither side parses: whole-file last writer wins', () => {
    const { out } = merge(j({ a: 1 }), '{"a": 2,,', '{"a": 3,,,', {}, { file: '1' }, { file: '2' });
    expect(out.method).toBe('whole-file');
    expect(out.text).toBe('{"a": 3,,,');
  });

  it('a side with conflict markers never wins', () => {
    const theirs = '<<<<<<< ours\n{"a":1}\n=======\n{"a":2}\n>>>>>>> theirs\n';
    const { out } = merge(j({ a: 0 }), j({ a: 5 }), theirs, {}, { file: '1' }, { file: '2' });
    expect(out.text).toBe(j({ a: 5 }));
  });

  it('an unparseable base (virtual ancestor with markers) is merged as an empty base', () => {
    const base = '<<<<<<< x\n{"a":1}\n=======\n{"a":2}\n>>>>>>> y\n';
    const { out, value } = merge(base, { a: 1, b: 1 }, { a: 1, c: 1 });
    expect(value).toEqual({ a: 1, b: 1, c: 1 });
    expect(out.method).toBe('structural');
    expect(out.notes.join('\n')).toMatch(/base does not parse/);
  });

  it('never throws on garbage', () => {
    for (const [b, o, t] of [
      [null, '', '{'],
      ['', 'null', '[]'],
      ['1', '"x"', 'true'],
      ['[[[[', '{"a":[1,2]}', '{"a":{"b":[]}}'],
    ] as const) {
      expect(() => mergeJsonText('p', b, o, t, OPTS)).not.toThrow();
      expect(mergeJsonText('p', b, o, t, OPTS).text).toBe(mergeJsonText('p', b, t, o, OPTS).text);
    }
  });

  it('never throws on absurdly deep documents', () => {
    const deep = (n: number, leaf: string): string => '['.repeat(n) + leaf + ']'.repeat(n);
    const out = mergeJsonText('p', deep(50000, '0'), deep(50000, '1'), deep(50000, '2'), OPTS);
    expect(['structural', 'whole-file']).toContain(out.method);
    expect(out.text).toBe(mergeJsonText('p', deep(50000, '0'), deep(50000, '2'), deep(50000, '1'), OPTS).text);
  });

  it('base null: both sides added the file', () => {
    const { value, out } = merge(null, { a: 1, list: [1, 2] }, { b: 2, list: [2, 3] });
    expect(value).toEqual({ a: 1, list: [1, 2, 3], b: 2 });
    expect(out.conflicts).toEqual([]);
  });
});

describe('formatting', () => {
  const doc = { a: 1, list: [1, 2], nested: { x: true } };
  const variants: [string, string | number][] = [
    ['2 spaces', 2],
    ['4 spaces', 4],
    ['tab', '\t'],
    ['minified', ''],
  ];
  for (const [name, indent] of variants) {
    it(`keeps ${name} indentation and the trailing newline convention`, () => {
      for (const nl of ['\n', '']) {
        const fmt = (v: unknown): string => JSON.stringify(v, null, indent) + nl;
        const { out } = merge(fmt(doc), fmt({ ...doc, a: 2 }), fmt({ ...doc, b: 3 }));
        expect(out.text).toBe(fmt({ ...doc, a: 2, b: 3 }));
      }
    });
  }

  it('uses the sides indentation when base is null or says nothing', () => {
    const four = (v: unknown): string => JSON.stringify(v, null, 4) + '\n';
    expect(merge(null, four({ a: 1 }), four({ b: 1 })).out.text).toBe(four({ a: 1, b: 1 }));
    expect(merge('{}', four({ a: 1 }), four({ b: 1 })).out.text).toBe(four({ a: 1, b: 1 }));
  });

  it('fast paths return a side text exactly', () => {
    const base = '{"a":1}';
    const odd = '{ "a" :   2 }';
    expect(mergeJsonText('p', base, base, odd, OPTS).text).toBe(odd);
    expect(mergeJsonText('p', base, odd, base, OPTS).text).toBe(odd);
    expect(mergeJsonText('p', base, odd, odd, OPTS).text).toBe(odd);
  });
});

describe('changedKeyPaths', () => {
  it('reports the most specific changed paths, items by @id', () => {
    const before = j({ a: 1, b: { c: 1, d: 2 }, tasks: [{ id: 14, status: 'todo' }, { id: 15, status: 'x' }], tags: ['a'], gone: 1 });
    const after = j({ a: 1, b: { c: 2, d: 2, e: 3 }, tasks: [{ id: 14, status: 'done' }, { id: 16 }, { id: 15, status: 'x' }], tags: ['a', 'b'] });
    expect(changedKeyPaths(before, after, OPTS)).toEqual(['/b/c', '/b/e', '/tasks/@14/status', '/tasks/@16', '/tags']);
  });

  it('escapes segments, reports moves at the new path, and the root for a new file', () => {
    expect(changedKeyPaths(j({ 'a/b': 1, 'c~': 1 }), j({ 'a/b': 2, 'c~': 2 }), OPTS)).toEqual(['/a~1b', '/c~0']);
    // a move: the new location, and the fields changed on the way
    expect(changedKeyPaths(j({ todo: [{ id: 'k', t: 1, u: 1 }], done: [] }), j({ todo: [], done: [{ id: 'k', t: 2, u: 1 }] }), OPTS)).toEqual([
      '/done/@k/~loc',
      '/done/@k/t',
    ]);
    expect(changedKeyPaths(null, j({ a: 1 }), OPTS)).toEqual(['']);
    expect(changedKeyPaths(j({ a: 1 }), '{', OPTS)).toEqual([]);
    expect(changedKeyPaths('{', j({ a: 1 }), OPTS)).toEqual([]);
  });
});

describe('clocks recorded the way the sync engine records them', () => {
  // src/sync/commit.ts: at each write, '' (the file) and every changed key path get the write's clock.
  const base = j({ todo: [{ id: 'k1', title: 'one' }], doing: [], done: [] });
  const side = (text: string, clock: string): SideClocks => {
    const keys: Record<string, string> = { '': clock };
    for (const k of changedKeyPaths(base, text, OPTS)) keys[k] = clock;
    return { file: clock, keys };
  };

  it('a later move wins a move race; an earlier move does not make the item fields newer', () => {
    const movedDoing = j({ todo: [], doing: [{ id: 'k1', title: 'one' }], done: [] });
    const movedDone = j({ todo: [], doing: [], done: [{ id: 'k1', title: 'one' }] });
    const r = merge(base, movedDoing, movedDone, {}, side(movedDoing, '0000000000002.0000.a'), side(movedDone, '0000000000001.0000.b'));
    expect(r.value.doing.map((x: any) => x.id)).toEqual(['k1']);
    expect(r.out.conflicts[0]).toMatchObject({ key: '/doing/@k1', rule: 'clock' });

    // b edits the title in place (at 3), c moves the card (at 9): when a
    // (title at 4) meets the merged (b, c), a's later title wins, and c's
    // later move does not count as a title write.
    const editedB = j({ todo: [{ id: 'k1', title: 'B' }], doing: [], done: [] });
    const editedA = j({ todo: [{ id: 'k1', title: 'A' }], doing: [], done: [] });
    const cb = side(editedB, '0000000000003.0000.b');
    const cc = side(movedDone, '0000000000009.0000.c');
    const bc = mergeJsonText('f.json', base, editedB, movedDone, OPTS, cb, cc).text;
    const r2 = merge(base, editedA, bc, {}, side(editedA, '0000000000004.0000.a'), mergeClocks(cb, cc));
    expect(r2.value.done).toEqual([{ id: 'k1', title: 'A' }]);
    expect(r2.out.conflicts[0]).toMatchObject({ key: '/done/@k1/title', rule: 'clock', loser: { value: '"B"', clock: '0000000000003.0000.b' } });
  });

  it('a key the side did not write does not take the file clock of its last write', () => {
    // a: title at 1; b: status at 5 (so b's file clock is 5); c: title at 3.
    const o = j({ title: 't', status: 's' });
    const stamp = (text: string, clock: string): SideClocks => {
      const keys: Record<string, string> = { '': clock };
      for (const k of changedKeyPaths(o, text, OPTS)) keys[k] = clock;
      return { file: clock, keys };
    };
    const a = j({ title: 'A', status: 's' });
    const b = j({ title: 't', status: 'B' });
    const c = j({ title: 'C', status: 's' });
    const [ca, cb, cc] = [stamp(a, '1'), stamp(b, '5'), stamp(c, '3')];
    const ab = mergeJsonText('f', o, a, b, OPTS, ca, cb).text;
    expect(JSON.parse(mergeJsonText('f', o, ab, c, OPTS, mergeClocks(ca, cb), cc).text)).toEqual({ title: 'C', status: 'B' });
  });
});

describe('clock helpers', () => {
  it('clockOf: the latest clock recorded at, above or below a path, else the file clock', () => {
    const c: SideClocks = { file: '0', keys: { '': '1', '/a': '5', '/a/b': '3', '/x/y': '7', '/t/@1/~loc': '8' } };
    expect(clockOf(c, '/a/b')).toBe('5'); // /a was rewritten after /a/b
    expect(clockOf(c, '/a/c')).toBe('5');
    expect(clockOf(c, '/x')).toBe('7');
    expect(clockOf(c, '/z')).toBe('1'); // nothing recorded: the file clock ('' or file, the later)
    expect(clockOf(c, '/t/@1/title')).toBe('1'); // a move is not a write of the fields
    expect(clockOf(c, '/t')).toBe('8'); // ... but is a write into the array
  });

  it('mergeClocks keeps the later clock per recorded path', () => {
    const m = mergeClocks({ file: '1', keys: { '/a': '5', '': '1' } }, { file: '2', keys: { '/a': '4', '/a/b': '3', '/c': '0', '': '2' } });
    expect(m).toEqual({ file: '2', keys: { '/a': '5', '': '2', '/a/b': '3', '/c': '0' } });
  });
});

describe('size', () => {
  // speed is measured in bench/ (ratios against git in one run), never timed here
  it('merges a 5 MB document with 1,000 changes per side, every change kept', () => {
    const n = 16000;
    const tasks = Array.from({ length: n }, (_, i) => ({
      id: i,
      status: 'todo',
      title: `Task number ${i} with a reasonably long title to take up space`,
      created_at: '2026-01-01T00:00:00Z',
      tags: ['alpha', 'beta'],
      subtasks: [
        { id: 1, completed: false },
        { id: 2, completed: false },
      ],
    }));
    const base = { tasks, meta: { version: 1 } };
    const ours = structuredClone(base);
    const theirs = structuredClone(base);
    for (let k = 0; k < 1000; k++) {
      ours.tasks[k * 7]!.status = 'done';
      theirs.tasks[k * 11 + 3]!.title = 'renamed';
    }
    const bt = JSON.stringify(base, null, 2);
    expect(bt.length).toBeGreaterThan(5_000_000);
    const out = mergeJsonText('big.json', bt, JSON.stringify(ours, null, 2), JSON.stringify(theirs, null, 2), OPTS);
    expect(out.method).toBe('structural');
    const v = JSON.parse(out.text) as typeof base;
    for (let k = 0; k < 1000; k++) {
      expect(v.tasks[k * 7]!.status).toBe('done');
      expect(v.tasks[k * 11 + 3]!.title).toBe('renamed');
    }
    expect(v.tasks).toHaveLength(n);
  });
});
