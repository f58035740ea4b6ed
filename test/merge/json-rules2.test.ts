/* eslint-disable @typescript-eslint/no-explicit-any -- merged documents are parsed JSON, inspected loosely */
/**
 * Merge rules II (issue #12), the JSON part: one example per rule, each
 * merged both ways round (the bytes must agree).
 */
import { describe, expect, it } from 'vitest';
import { mergeJsonText, type JsonMergeOutput } from '../../src/merge/json.js';
import { mergeFile } from '../../src/merge/index.js';
import type { JsonOptions, SideClocks } from '../../src/merge/types.js';
import { MARKER_RE } from '../../src/merge/util.js';

const OPTS: JsonOptions = {
  idKeys: ['id'],
  volatile: ['updated_at'],
  counters: ['/counts/runs'],
  timestampKeys: ['updated_at'],
};

const j = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

function merge(base: unknown, ours: unknown, theirs: unknown, opts: Partial<JsonOptions> = {}, oc?: SideClocks, tc?: SideClocks): { out: JsonMergeOutput; value: any } {
  const o = { ...OPTS, ...opts };
  const b = base === null ? null : typeof base === 'string' ? base : j(base);
  const a = typeof ours === 'string' ? ours : j(ours);
  const c = typeof theirs === 'string' ? theirs : j(theirs);
  const out = mergeJsonText('f.json', b, a, c, o, oc, tc);
  const swapped = mergeJsonText('f.json', b, c, a, o, tc, oc);
  expect(swapped.text).toBe(out.text);
  expect(MARKER_RE.test(out.text)).toBe(false);
  // the byte path (mergeFile) gives the same bytes
  const enc = (s: string | null): Uint8Array | null => (s === null ? null : Buffer.from(s));
  const r = mergeFile({ path: 'f.json', kind: 'json', base: enc(b), ours: enc(a)!, theirs: enc(c)!, json: o, ...(oc ? { oursClock: oc } : {}), ...(tc ? { theirsClock: tc } : {}) });
  expect(Buffer.from(r.bytes).toString()).toBe(out.text);
  let value: unknown;
  try {
    value = JSON.parse(out.text);
  } catch {
    value = undefined;
  }
  return { out, value };
}

describe('a side that does not parse', () => {
  const base = { tasks: [{ id: 't1', title: 'one' }] };
  const added = { tasks: [{ id: 't1', title: 'one' }, { id: 't2', title: 'two' }] };
  const cut = j({ tasks: [{ id: 't1', title: 'one!' }, { id: 't3', title: 'three' }] }).slice(0, 40);

  it('a file cut off mid-write never beats the valid side, whatever the clocks say', () => {
    const { out, value } = merge(base, added, cut, {}, { file: '1' }, { file: '9' });
    expect(value).toEqual(added);
    expect(out.text).toBe(j(added));
    expect(out.conflicts).toHaveLength(1);
    expect(out.conflicts[0]!.loser.value).toBe(cut);
    expect(out.notes.join('\n')).toMatch(/does not parse/);
  });

  it('the base does not parse but both sides do: merged as both-added', () => {
    const { value } = merge('{"tasks": [', { a: 1, l: [1] }, { b: 2, l: [2] });
    expect(value).toEqual({ a: 1, l: [1, 2], b: 2 });
  });

  it('no side parses: whole-file last writer wins, the other on record', () => {
    const { out } = merge(base, '{"x":', '{"y":', {}, { file: '1' }, { file: '2' });
    expect(out.method).toBe('whole-file');
    expect(out.text).toBe('{"y":');
    expect(out.conflicts[0]!.loser.value).toBe('{"x":');
  });
});

describe('concurrent appends keep each side\'s order', () => {
  it('an appended question and answer stay in order (no ids, no timestamps)', () => {
    const base = { log: ['start'] };
    const ours = { log: ['start', 'what is 2+2?', '4'] };
    const theirs = { log: ['start', 'note from b'] };
    const { value } = merge(base, ours, theirs);
    const l: string[] = value.log;
    expect(l).toHaveLength(4);
    expect(l.indexOf('what is 2+2?')).toBeLessThan(l.indexOf('4'));
  });

  it('id items: each run in its own order, interleaved by timestamps', () => {
    const m = (id: string, at: string): object => ({ id, role: 'x', updated_at: at });
    const base = { messages: [m('m0', '2026-11-25T08:00:00Z')] };
    const ours = { messages: [...base.messages, m('zq', '2026-11-25T09:00:00Z'), m('aa', '2026-11-25T09:02:00Z')] };
    // 09:01 in +02:00 is 07:01Z: before both of ours
    const theirs = { messages: [...base.messages, m('mm', '2026-11-25T10:01:00+02:00'), m('mn', '2026-11-25T09:01:00Z')] };
    const { value } = merge(base, ours, theirs);
    expect(value.messages.map((x: any) => x.id)).toEqual(['m0', 'mm', 'zq', 'mn', 'aa']);
  });

  it('id items without timestamps: runs are not sorted by id', () => {
    const base = { tasks: [{ id: 'a' }] };
    const ours = { tasks: [{ id: 'a' }, { id: 'z1' }, { id: 'b1' }] };
    const theirs = { tasks: [{ id: 'a' }, { id: 'm' }] };
    const { value } = merge(base, ours, theirs);
    const ids = value.tasks.map((x: any) => x.id);
    expect(ids.indexOf('z1')).toBeLessThan(ids.indexOf('b1'));
    expect(ids).toHaveLength(4);
  });
});

describe('numbers keep their text', () => {
  it('untouched numbers come out exactly as written: big integers, 1e400, -0, 1.0, 1E2', () => {
    const base = '{"big": 12345678901234567890, "huge": 1e400, "z": -0, "f": 1.0, "e": 1E2, "x": 0.1000000000000000000001, "a": 1}\n';
    const ours = base.replace('"a": 1', '"a": 2');
    const theirs = base.replace('"a": 1}', '"a": 1, "b": 3}');
    const { out } = merge(base, ours, theirs);
    expect(out.text).toBe('{"big":12345678901234567890,"huge":1e400,"z":-0,"f":1.0,"e":1E2,"x":0.1000000000000000000001,"a":2,"b":3}\n');
    expect(out.notes.join('\n')).not.toMatch(/precision|lost digits/);
  });

  it('two ids above 2^53 stay two items, each keeping its edits', () => {
    const base = '{"items": [{"id": 9007199254740993, "v": 0}, {"id": 9007199254740995, "v": 0}]}';
    const ours = '{"items": [{"id": 9007199254740993, "v": 1}, {"id": 9007199254740995, "v": 0}]}';
    const theirs = '{"items": [{"id": 9007199254740993, "v": 0}, {"id": 9007199254740995, "v": 2}]}';
    const { out } = merge(base, ours, theirs);
    expect(out.text).toBe('{"items":[{"id":9007199254740993,"v":1},{"id":9007199254740995,"v":2}]}');
    expect(out.conflicts).toEqual([]);
  });

  it('counters add big integers exactly', () => {
    const { out } = merge('{"counts": {"runs": 90071992547409930}, "x": 0}', '{"counts": {"runs": 90071992547409931}, "x": 1}', '{"counts": {"runs": 90071992547409935}, "x": 0}');
    expect(out.text).toContain('"runs":90071992547409936');
  });

  it('counters above 2^53 whose text a double gives back still add exactly (not as doubles)', () => {
    // 9007199254740994 + 9007199254740996 is not a double: added as doubles the sum is off by 2
    const { out } = merge('{"counts": {"runs": 9007199254740992}}', '{"counts": {"runs": 9007199254740994}}', '{"counts": {"runs": 9007199254740996}}');
    expect(out.text).toBe('{"counts":{"runs":9007199254740998}}');
  });

  it('a race between big numbers is decided and reported with their exact text', () => {
    const { out } = merge('{"n": 1}', '{"n": 12345678901234567891}', '{"n": 12345678901234567890}');
    expect(out.text).toContain('12345678901234567891');
    expect(out.conflicts[0]!.loser.value).toBe('12345678901234567890');
  });
});

describe('duplicate keys', () => {
  it('the last occurrence is the value; an edit to the earlier one is on record, with a note', () => {
    const { out, value } = merge('{"a": 1, "b": 1}', '{"a": 7, "b": 1, "a": 1}', '{"a": 1, "b": 2}');
    expect(value).toEqual({ a: 1, b: 2 });
    expect(out.notes.join('\n')).toMatch(/\/a: the key occurs more than once/);
    expect(out.conflicts).toContainEqual({ path: 'f.json', key: '/a', winner: { value: '1' }, loser: { value: '7' }, rule: 'value' });
  });

  it('nested: the path of the object is named', () => {
    const { out, value } = merge('{"x": {"k": [{"a": 1}]}, "y": 0}', '{"x": {"k": [{"a": 1, "a": 3}]}, "y": 0}', '{"x": {"k": [{"a": 1}]}, "y": 1}');
    expect(value).toEqual({ x: { k: [{ a: 3 }] }, y: 1 });
    expect(out.conflicts.map((c) => c.key)).toEqual(['/x/k/0/a']);
  });
});

describe('deep nesting', () => {
  const deep = (n: number, leaf: string): string => '{"d":'.repeat(n) + leaf + '}'.repeat(n);

  it('4,500 levels: a deep edit and an unrelated top-level change both survive', () => {
    const b = `{"top": 0, "deep": ${deep(4500, '0')}}`;
    const { out, value } = merge(b, `{"top": 1, "deep": ${deep(4500, '0')}}`, `{"top": 0, "deep": ${deep(4500, '[2]')}}`);
    expect(out.method).toBe('structural');
    expect(value.top).toBe(1);
    expect(out.text).toContain('[2]');
    expect(out.conflicts).toEqual([]);
  });

  it('two different edits below the depth limit race as a unit, reported; siblings still merge', () => {
    const b = `{"top": 0, "deep": ${deep(3000, '0')}, "x": 0}`;
    const { out, value } = merge(b, `{"top": 1, "deep": ${deep(3000, '1')}, "x": 0}`, `{"top": 0, "deep": ${deep(3000, '2')}, "x": 2}`);
    expect(value.top).toBe(1);
    expect(value.x).toBe(2);
    expect(out.conflicts).toHaveLength(1);
    expect(out.notes.join('\n')).toMatch(/nested deeper than/);
  });
});

describe('id-less items and repeated ids do not turn an id-array into a set', () => {
  const task = (id: string, title: string): object => ({ id, title });

  it('one id-less item: concurrent edits of an id item still merge into one item', () => {
    const base = { tasks: [task('a', 'A'), { note: 'loose' }, task('b', 'B')] };
    const ours = { tasks: [{ ...task('a', 'A'), done: true }, { note: 'loose' }, task('b', 'B')] };
    const theirs = { tasks: [{ ...task('a', 'A'), prio: 1 }, { note: 'loose' }, task('b', 'B!')] };
    const { value, out } = merge(base, ours, theirs);
    expect(value.tasks).toEqual([{ id: 'a', title: 'A', done: true, prio: 1 }, { note: 'loose' }, { id: 'b', title: 'B!' }]);
    expect(out.conflicts).toEqual([]);
  });

  it('id-less items merge as values: added on either side kept, removed on either side removed', () => {
    const base = { tasks: [task('a', 'A'), { note: 'x' }] };
    const ours = { tasks: [task('a', 'A1'), { note: 'y' }] };
    const theirs = { tasks: [task('a', 'A'), { note: 'x' }, { note: 'z' }] };
    const { value } = merge(base, ours, theirs);
    expect(value.tasks).toEqual([{ id: 'a', title: 'A1' }, { note: 'y' }, { note: 'z' }]);
  });

  it('a repeated id: its occurrences merge as values, reported; the other items still merge by id', () => {
    const base = { tasks: [task('a', 'A'), task('a', 'A copy'), task('b', 'B')] };
    const ours = { tasks: [task('a', 'A'), task('a', 'A copy'), task('b', 'B1')] };
    const theirs = { tasks: [task('a', 'A'), task('a', 'A copy'), { ...task('b', 'B'), done: true }] };
    const { value, out } = merge(base, ours, theirs);
    expect(value.tasks).toEqual([task('a', 'A'), task('a', 'A copy'), { id: 'b', title: 'B1', done: true }]);
    expect(out.notes.join('\n')).toMatch(/id "a" occurs more than once/);
  });

  it('a repeated id whose occurrences pair up: two edits of one occurrence make one item, reported', () => {
    const base = { tasks: [task('a', 'A'), task('a', 'A copy'), task('b', 'B')] };
    const ours = { tasks: [task('a', 'A'), { ...task('a', 'A copy'), done: true }, task('b', 'B')] };
    const theirs = { tasks: [task('a', 'A'), { ...task('a', 'A copy'), prio: 2 }, task('b', 'B')] };
    const { value, out } = merge(base, ours, theirs);
    expect(value.tasks).toEqual([task('a', 'A'), { id: 'a', title: 'A copy', done: true, prio: 2 }, task('b', 'B')]);
    expect(out.notes.join('\n')).toMatch(/id "a" occurs more than once in one array; its occurrences merged in order/);
    expect(out.conflicts).toEqual([]);
  });

  it('a repeated id whose occurrences do not pair up (one side added one) merges as values', () => {
    const base = { tasks: [task('a', 'A'), task('a', 'A copy')] };
    const ours = { tasks: [task('a', 'A'), { ...task('a', 'A copy'), done: true }] };
    const theirs = { tasks: [task('a', 'A'), task('a', 'A copy'), task('a', 'A third')] };
    const { value, out } = merge(base, ours, theirs);
    expect(value.tasks).toEqual([task('a', 'A'), { id: 'a', title: 'A copy', done: true }, task('a', 'A third')]);
    expect(out.notes.join('\n')).toMatch(/every occurrence merges as a plain value/);
  });
});

describe('moves anywhere in the document', () => {
  it('a task moved from projects.home.tasks to projects.work.tasks while the other side edits it: once, with the edit', () => {
    const t1 = { id: 't1', title: 'fix roof', status: 'todo' };
    const base = { projects: { home: { tasks: [t1, { id: 't2' }] }, work: { tasks: [{ id: 'w1' }] } } };
    const ours = { projects: { home: { tasks: [{ id: 't2' }] }, work: { tasks: [{ id: 'w1' }, t1] } } };
    const theirs = { projects: { home: { tasks: [{ ...t1, status: 'done' }, { id: 't2' }] }, work: { tasks: [{ id: 'w1' }] } } };
    const { value, out } = merge(base, ours, theirs);
    expect(value.projects.home.tasks).toEqual([{ id: 't2' }]);
    expect(value.projects.work.tasks).toEqual([{ id: 'w1' }, { ...t1, status: 'done' }]);
    expect(out.conflicts).toEqual([]);
  });

  it('a subtask moved into different parents on each side: one copy, decided by the clocks, reported', () => {
    const s1 = { id: 's1', text: 'buy nails' };
    const base = { tasks: [{ id: 'a', subtasks: [s1] }, { id: 'b', subtasks: [] }, { id: 'c', subtasks: [] }] };
    const ours = { tasks: [{ id: 'a', subtasks: [] }, { id: 'b', subtasks: [s1] }, { id: 'c', subtasks: [] }] };
    const theirs = { tasks: [{ id: 'a', subtasks: [] }, { id: 'b', subtasks: [] }, { id: 'c', subtasks: [{ ...s1, text: 'buy screws' }] }] };
    const { value, out } = merge(base, ours, theirs, {}, { file: '1' }, { file: '2' });
    const all = value.tasks.flatMap((t: any) => t.subtasks);
    expect(all).toEqual([{ id: 's1', text: 'buy screws' }]);
    expect(value.tasks[2].subtasks).toHaveLength(1); // theirs's move is later
    expect(out.notes.join('\n')).toMatch(/moved to/);
  });

  it('a subtask moved out of a nested task into a top-level list while the other side edits it', () => {
    const base = { inbox: [{ id: 'i0' }], projects: [{ id: 'p', tasks: [{ id: 't', subtasks: [{ id: 's', v: 0 }] }] }] };
    const ours = { inbox: [{ id: 'i0' }, { id: 's', v: 0 }], projects: [{ id: 'p', tasks: [{ id: 't', subtasks: [] }] }] };
    const theirs = { inbox: [{ id: 'i0' }], projects: [{ id: 'p', tasks: [{ id: 't', subtasks: [{ id: 's', v: 1 }] }] }] };
    const { value } = merge(base, ours, theirs);
    expect(value.inbox).toEqual([{ id: 'i0' }, { id: 's', v: 1 }]);
    expect(value.projects[0].tasks[0].subtasks).toEqual([]);
  });
});

describe('a side cut off inside a UTF-8 character', () => {
  it('is not valid UTF-8 and never beats the side that parses (mergeFile)', () => {
    const base = Buffer.from(j({ notes: ['café'] }));
    const good = Buffer.from(j({ notes: ['café', 'crème'] }));
    const full = Buffer.from(j({ notes: ['café', 'brûlée'] }));
    const cut = full.subarray(0, full.indexOf(Buffer.from('û')) + 1); // the first byte of û only
    for (const [ours, theirs, oc, tc] of [
      [good, cut, { file: '1' }, { file: '9' }],
      [cut, good, { file: '9' }, { file: '1' }],
    ] as const) {
      const r = mergeFile({ path: 'f.json', kind: 'json', base, ours, theirs, json: OPTS, oursClock: oc, theirsClock: tc });
      expect(Buffer.from(r.bytes).equals(good)).toBe(true);
      expect(r.report.conflicts).toHaveLength(1);
      expect(r.report.notes.join('\n')).toMatch(/not valid UTF-8/);
    }
  });
});
