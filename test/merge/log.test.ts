/**
 * Examples for the `log` merge kind (src/merge/log.ts): the entry shapes
 * seen in agent state directories, and the commit guard's helpers.
 * The laws (commutativity, convergence, ...) are in log.laws.test.ts.
 */
import { describe, expect, test } from 'vitest';
import { __testing, lostEntries, mergeLogText, parseEntries, restoreLost } from '../../src/merge/log.js';
import { MARKER_RE } from '../../src/merge/util.js';

const DAILY = 'memory/2026-02-05.md';

/** Merge both ways round; the output must not depend on which side is ours. */
function merge(path: string, base: string | null, ours: string, theirs: string) {
  const r = mergeLogText(path, base, ours, theirs);
  expect(mergeLogText(path, base, theirs, ours).text).toBe(r.text);
  expect(__testing.mergeWithoutFastPaths(path, base, ours, theirs).text).toBe(r.text);
  return r;
}

const session = (time: string, id: string, summary: string): string =>
  `# Session: 2026-02-05 ${time} UTC\n\n- **Session Key**: agent:main:main\n- **Session ID**: ${id}\n- **Source**: telegram\n\n## Conversation Summary\n\n${summary}\n`;

describe('markdown daily logs', () => {
  test('OpenClaw session-memory entries from two instances interleave by time, blocks intact', () => {
    const base = session('09:00:00', 's1', 'user: hi\nassistant: hello');
    const ours = base + '\n' + session('13:40:12', 's3', 'user: plan the trip');
    const theirs = base + '\n' + session('11:02:00', 's2', 'user: fix the sink\nassistant: done');
    const r = merge(DAILY, base, ours, theirs);
    expect(r.text).toBe(
      base + '\n' + session('11:02:00', 's2', 'user: fix the sink\nassistant: done') + '\n' + session('13:40:12', 's3', 'user: plan the trip'),
    );
    expect(r.conflicts).toEqual([]);
    expect(r.stats).toMatchObject({ fromOurs: 5, fromTheirs: 5, deleted: 0 });
  });

  test('a status mark edited in place on one side while the other appends', () => {
    const base = '## Errands (1:40 PM)\n- [ ] call Bob\n- buy milk\n';
    const ours = '## Errands (1:40 PM)\n- [x] call Bob\n- buy milk\n';
    const theirs = base + '\n## Review (3:05 PM)\n- read PR 12\n';
    const r = merge(DAILY, base, ours, theirs);
    expect(r.text).toBe('## Errands (1:40 PM)\n- [x] call Bob\n- buy milk\n\n## Review (3:05 PM)\n- read PR 12\n');
    expect(r.stats).toMatchObject({ edited: 1, fromTheirs: 2 });
  });

  test('both sides append under the same heading: both bullets, once each, under it', () => {
    const base = '## A (9:00 AM)\n- a\n\n## B (9:10 AM)\n- b\n';
    const r = merge(DAILY, base, base + '- b2 from A\n', base + '- b3 from B\n');
    expect(r.text).toBe('## A (9:00 AM)\n- a\n\n## B (9:10 AM)\n- b\n- b2 from A\n- b3 from B\n');
  });

  test('new sections with their own times interleave; a timestamped bullet stays with its section', () => {
    const base = '# 2026-02-05\n';
    const ours = base + '\n## Standup (9:00 AM)\n- 09:05 notes sent\n\n## Lunch (12:30 PM)\n- booked\n';
    const theirs = base + '\n## Deploy (10:15 AM)\n- 10:20 rolled out\n';
    const r = merge(DAILY, base, ours, theirs);
    expect(r.text).toBe(
      '# 2026-02-05\n\n## Standup (9:00 AM)\n- 09:05 notes sent\n\n## Deploy (10:15 AM)\n- 10:20 rolled out\n\n## Lunch (12:30 PM)\n- booked\n',
    );
  });

  test('entries with the same header line but different bodies are not fused', () => {
    const base = '# Log\n';
    const r = merge('memory/notes.md', base, base + '\n## Notes\nwent to the shop\n', base + '\n## Notes\nfixed the sink\n');
    expect(r.text).toBe('# Log\n\n## Notes\nfixed the sink\n\n## Notes\nwent to the shop\n');
    // what git's merge=union does instead: one header, bodies fused
    expect(r.text).not.toContain('## Notes\nwent to the shop\nfixed the sink');
  });

  test('the same entry added by both sides appears once', () => {
    const base = '## Log (9:00 AM)\n- a\n';
    const both = '\n## Reminder (10:00 AM)\n- water the plants\n';
    const r = merge(DAILY, base, base + both + '- from A\n', base + both + '- from B\n');
    expect(r.text).toBe('## Log (9:00 AM)\n- a\n\n## Reminder (10:00 AM)\n- water the plants\n- from A\n- from B\n');
    expect(r.stats.both).toBe(2);
  });

  test('blank-line separators survive, also when an entry was at EOF on one side', () => {
    const base = '## A (9:00 AM)\n- a\n\n## B (9:10 AM)\n- b\n';
    const ours = base + '\n## C (9:20 AM)\n- c\n\n';
    const theirs = base + '\n## D (9:15 AM)\n- d\n\n';
    const r = merge(DAILY, base, ours, theirs);
    expect(r.text).toBe('## A (9:00 AM)\n- a\n\n## B (9:10 AM)\n- b\n\n## D (9:15 AM)\n- d\n\n## C (9:20 AM)\n- c\n\n');
    // git's union loses the separator between two entries that both end with a blank line
    const u = merge('notes/log.md', null, 'first entry\n\n', 'second entry\n\n');
    expect(u.text).toBe('first entry\n\nsecond entry\n\n');
  });

  test('an entry without a trailing newline is never fused with the next one', () => {
    const r = merge(DAILY, '- a\n', '- a\n- from A', '- a\n- from B');
    expect(r.text).toBe('- a\n- from A\n- from B');
  });

  test('a heading-looking line inside a fenced code block is not an entry', () => {
    const text = '## E (9:30 AM)\n```\n# not a heading\n- nor an item\n```\n## F (9:40 AM)\n';
    expect(parseEntries(DAILY, text).map((e) => e.key)).toEqual(['## E (9:30 AM)\n```\n# not a heading\n- nor an item\n```', '## F (9:40 AM)']);
    const base = '## A (9:00 AM)\n- a\n';
    const r = merge(DAILY, base, base + '\n## E (9:30 AM)\n```\n# not a heading\n```\n', base + '\n## D (9:25 AM)\n- d\n');
    expect(r.text).toBe('## A (9:00 AM)\n- a\n\n## D (9:25 AM)\n- d\n\n## E (9:30 AM)\n```\n# not a heading\n```\n');
  });

  test('deleted on one side and unchanged on the other: deleted', () => {
    const base = '## A (9:00 AM)\n- a\n- old note\n';
    const r = merge(DAILY, base, '## A (9:00 AM)\n- a\n', base + '- new\n');
    expect(r.text).toBe('## A (9:00 AM)\n- a\n- new\n');
    expect(r.stats.deleted).toBe(1);
  });

  test('edited differently on both sides: both versions kept, reported', () => {
    const base = '## Tasks (9:00 AM)\n- [ ] call Bob about the roof\n- buy milk\n';
    const ours = base.replace('[ ]', '[x]');
    const theirs = base.replace('[ ]', '[~]');
    const r = merge(DAILY, base, ours, theirs);
    expect(r.text).toBe('## Tasks (9:00 AM)\n- [x] call Bob about the roof\n- [~] call Bob about the roof\n- buy milk\n');
    expect(r.conflicts).toEqual([
      { path: DAILY, key: 'entry', winner: { value: '- [~] call Bob about the roof' }, loser: { value: '- [x] call Bob about the roof' }, rule: 'value' },
    ]);
    expect(r.notes.join('\n')).toMatch(/edited differently/);
  });

  test('edits that do not overlap are merged line by line; appends under one entry are both kept', () => {
    const base = '## Notes (9:00 AM)\n\nfirst paragraph line';
    const r = merge(DAILY, base + '\n', `${base}\nA adds a line\n`, `${base}\nB adds a line\n`);
    expect(r.text).toBe('## Notes (9:00 AM)\n\nfirst paragraph line\nA adds a line\nB adds a line\n');
    expect(r.conflicts).toEqual([]);
  });

  test('edited on one side, deleted on the other: the edit is kept', () => {
    const base = '- [ ] call Bob about the roof\n- buy milk\n';
    const r = merge(DAILY, base, '- [x] call Bob about the roof\n- buy milk\n', '- buy milk\n');
    expect(r.text).toBe('- [x] call Bob about the roof\n- buy milk\n');
  });

  test('both sides added the file: shared leading entries once, the rest a union', () => {
    const r = merge(DAILY, null, '# 2026-02-05\n\n## A (9:00 AM)\n- a\n', '# 2026-02-05\n\n## B (8:00 AM)\n- b\n');
    expect(r.text).toBe('# 2026-02-05\n\n## B (8:00 AM)\n- b\n\n## A (9:00 AM)\n- a\n');
    expect(merge(DAILY, '', '# 2026-02-05\n\n## A (9:00 AM)\n- a\n', '# 2026-02-05\n\n## B (8:00 AM)\n- b\n').text).toBe(r.text);
  });

  test('a base with conflict markers (virtual ancestor) never leaks markers', () => {
    const sides = '## A (9:00 AM)\n- a\n\n## B (9:10 AM)\n- b\n';
    const base = `<<<<<<<<< Temporary merge branch 1\n${sides}=========\n${sides}- c\n>>>>>>>>> Temporary merge branch 2\n`;
    const r = merge(DAILY, base, sides + '- x\n', sides + '- y\n');
    expect(r.text).toBe(sides + '- x\n- y\n');
    expect(MARKER_RE.test(r.text)).toBe(false);
    // markers a side really has are just lines
    const odd = 'example:\n=======\n';
    expect(merge('notes/doc.txt', '', odd, odd).text).toBe(odd);
  });
});

describe('plain and JSONL logs', () => {
  test('[YYYY-MM-DD HH:MM] one-line entries interleave by time', () => {
    const base = '[2026-02-05 09:00] started\n[2026-02-05 09:30] read mail\n';
    const r = merge('memory/history.log', base, base + '[2026-02-05 10:00] A one\n[2026-02-05 11:00] A two\n', base + '[2026-02-05 10:30] B one\n[2026-02-05 10:45] B two\n');
    expect(r.text).toBe(base + '[2026-02-05 10:00] A one\n[2026-02-05 10:30] B one\n[2026-02-05 10:45] B two\n[2026-02-05 11:00] A two\n');
  });

  test('untimestamped continuation lines stay with their line', () => {
    const base = '[2026-02-05 09:00] started\n';
    const r = merge('logs/agent.log', base, base + '[2026-02-05 10:00] error:\n  at foo()\n  at bar()\n', base + '[2026-02-05 10:00] another thing\n');
    expect(r.text).toBe(base + '[2026-02-05 10:00] another thing\n[2026-02-05 10:00] error:\n  at foo()\n  at bar()\n');
  });

  test('nanobot HISTORY.md: dated paragraphs are entries', () => {
    const base = '[2026-02-05 09:00] Started the day.\n\n';
    const r = merge('memory/HISTORY.md', base, base + '[2026-02-05 10:00] A did this,\nover two lines.\n\n', base + '[2026-02-05 09:45] B did that.\n\n');
    expect(r.text).toBe(base + '[2026-02-05 09:45] B did that.\n\n[2026-02-05 10:00] A did this,\nover two lines.\n\n');
  });

  test('§-separated entries (Hermes) keep their lines together', () => {
    const base = 'first fact\n§\nsecond fact\n';
    const r = merge('memories/MEMORY.txt', base, base + '§\nA fact\nwith detail\n', base + '§\nB fact\n');
    expect(r.text).toBe(base + '§\nA fact\nwith detail\n§\nB fact\n');
  });

  test('a pretty-printed multi-line JSONL object is one entry and merges by its timestamp', () => {
    const base = '{"ts": 1770282000000, "msg": "start"}\n';
    const pretty = '{\n  "timestamp": "2026-02-05T09:10:00Z",\n  "msg": "pretty {A}",\n  "tags": ["x", "}\\" ]"]\n}\n';
    const entries = parseEntries('sessions/s.jsonl', base + pretty + 'not json at all\n');
    expect(entries.map((e) => e.text)).toEqual([base, pretty, 'not json at all\n']);
    expect(entries[1]!.ts).toBe(Date.UTC(2026, 1, 5, 9, 10));
    const theirs = base + '{"ts": 1770282300, "msg": "B at 9:05, epoch seconds"}\n{"createdAtMs": 1770283200000, "msg": "B at 9:20"}\n';
    const r = merge('sessions/s.jsonl', base, base + pretty, theirs);
    expect(r.text).toBe(base + '{"ts": 1770282300, "msg": "B at 9:05, epoch seconds"}\n' + pretty + '{"createdAtMs": 1770283200000, "msg": "B at 9:20"}\n');
  });

  test('an unbalanced JSONL line does not swallow the rest of the file', () => {
    const text = '{"a": 1\n{"b": 2}\n{"c": [\n  3\n]}\n';
    expect(parseEntries('x.ndjson', text).map((e) => e.text)).toEqual(['{"a": 1\n', '{"b": 2}\n', '{"c": [\n  3\n]}\n']);
  });
});

describe('entries and timestamps', () => {
  test('joining entry texts gives the input back', () => {
    for (const [path, text] of [
      [DAILY, '\n\npreamble\n# H\n\n- a\n  - nested\n\n```\n# x\n```\n1. one\n* star\nparagraph\n\n\n'],
      ['a.jsonl', '\n{"a":\n 1}\n\nx\n{'],
      ['a.log', '  \nline\n\n  \nlast'],
      ['x.md', ''],
    ] as const) {
      expect(parseEntries(path, text).map((e) => e.text).join('')).toBe(text);
    }
  });

  test('timestamps in their usual shapes', () => {
    const ts = __testing.parseTimestamp;
    expect(ts('# Session: 2026-02-05 13:40:12 UTC')).toBe(Date.UTC(2026, 1, 5, 13, 40, 12));
    expect(ts('at 2026-02-05T13:40:12Z')).toBe(Date.UTC(2026, 1, 5, 13, 40, 12));
    expect(ts('2026-02-05T13:40:12.250+02:00')).toBe(Date.UTC(2026, 1, 5, 11, 40, 12, 250));
    expect(ts('[2026-02-05 13:40] text')).toBe(Date.UTC(2026, 1, 5, 13, 40));
    expect(ts('## Topic (1:40 PM)', 'memory/2026-02-05.md')).toBe(Date.UTC(2026, 1, 5, 13, 40));
    expect(ts('## Topic (12:05 am)')).toBe(5 * 60_000);
    expect(ts('- 13:40 did it')).toBe((13 * 60 + 40) * 60_000);
    expect(ts('- 13:40 did it', 'memory/2026-02-05-trip.md')).toBe(Date.UTC(2026, 1, 5, 13, 40));
    expect(ts('no time here, version 1.2.3')).toBeNull();
    const json = (line: string) => parseEntries('e.jsonl', line)[0]!.ts;
    expect(json('{"ts": 1770298812}')).toBe(1770298812000);
    expect(json('{"ts": 1770298812000}')).toBe(1770298812000);
    expect(json('{"time": "2026-02-05T13:40:12Z"}')).toBe(1770298812000);
    expect(json('{"id": 1, "updatedAt": "2026-02-05T13:40:12Z"}')).toBe(1770298812000);
    expect(json('{"lastRunAtMs": 1770298812000}')).toBe(1770298812000);
  });

  test('total: odd inputs never throw', () => {
    const odd = ['\u0000\u0001', '{"a": "unterminated', '```\nunclosed fence\n# h', '\n\n\n', '§', '<<<<<<< x\n', 'x'.repeat(10_000)];
    for (const path of [DAILY, 'a.jsonl', 'a.log']) {
      for (const o of [...odd, null]) {
        for (const a of odd) {
          for (const b of odd) expect(typeof mergeLogText(path, o, a, b).text).toBe('string');
        }
      }
    }
  });
});

describe('commit guard helpers', () => {
  const before = '## A (9:00 AM)\n- [ ] call Bob\n- buy milk\n\n## B (9:10 AM)\n- b\n';

  test('truncation loses entries; an in-place edit does not', () => {
    expect(lostEntries(DAILY, before, '## A (9:00 AM)\n- [ ] call Bob\n')).toEqual({ lost: ['- buy milk', '## B (9:10 AM)', '- b'], added: [], edited: 0 });
    expect(lostEntries(DAILY, before, before.replace('[ ]', '[x]'))).toEqual({ lost: [], added: [], edited: 1 });
    expect(lostEntries(DAILY, before, before.replace('- buy milk\n', '- buy oat milk\n') + '- new\n')).toEqual({ lost: [], added: ['- new'], edited: 1 });
    // cut short in the middle of an entry: that entry is lost too
    expect(lostEntries(DAILY, before, before.slice(0, before.indexOf('9:10')))).toEqual({ lost: ['## B (9:10 AM)', '- b'], added: [], edited: 0 });
    // moved is not lost
    expect(lostEntries(DAILY, '- a\n- b\n- c\n', '- c\n- a\n- b\n')).toEqual({ lost: [], added: [], edited: 0 });
  });

  test('restoreLost: the committed entries come back, new entries and edits are kept', () => {
    const after = '## A (9:00 AM)\n- [x] call Bob\n- bought bread\n';
    const fixed = restoreLost(DAILY, before, after);
    // new entries where the work tree has them, lost ones back right after them
    expect(fixed).toBe('## A (9:00 AM)\n- [x] call Bob\n- bought bread\n- buy milk\n\n## B (9:10 AM)\n- b\n');
    expect(lostEntries(DAILY, before, fixed).lost).toEqual([]);
    // a file cut short mid-line gets its entry back whole
    expect(restoreLost(DAILY, before, before.slice(0, before.indexOf('9:10')))).toBe(before);
    expect(restoreLost(DAILY, before, '')).toBe(before);
  });
});

describe('performance', () => {
  test('a 10 MB log with 1 MB appended on each side keeps every entry of both sides', () => {
    const section = (tag: string, i: number): string => {
      const t = 8 * 60 + (i % 900);
      const h = Math.floor(t / 60);
      return `\n## Topic ${tag}${i} (${h % 12 || 12}:${String(t % 60).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'})\n- [ ] do thing ${tag}${i} with some words in it\n- note about ${tag}${i}, lorem ipsum dolor sit amet\n  - nested detail ${i}\n`;
    };
    const build = (tag: string, from: number, bytes: number): string => {
      const parts: string[] = [];
      let size = 0;
      for (let i = from; size < bytes; i++) {
        const s = section(tag, i);
        parts.push(s);
        size += s.length;
      }
      return parts.join('');
    };
    const base = build('o', 0, 10_000_000);
    const ours = base + build('A', 0, 1_000_000);
    const theirs = base + build('B', 0, 1_000_000);
    // speed is measured in bench/ (ratios against git merge-file in one run), never timed here
    const r = mergeLogText(DAILY, base, ours, theirs);
    expect(r.text.length).toBe(ours.length + theirs.length - base.length);
    expect(r.text.startsWith(base)).toBe(true);
  });
});
