/**
 * Counterexamples the property tests of the log merge found
 * (test/merge/log.laws.test.ts), shrunk to examples, one per cause.
 */
import { describe, expect, test } from 'vitest';
import { lostEntries, mergeLogText, parseEntries, restoreLost } from '../../src/merge/log.js';

const JSONL = 'sessions/events.jsonl';
const PRETTY = '{\n  "timestamp": "2026-02-05T08:01:00Z",\n  "msg": "call Bob o0",\n  "data": {"n": [0, "a]b{c"]}\n}\n';

/** Both orders give the same bytes; returns them. */
function merged(path: string, o: string | null, a: string, b: string): string {
  const r = mergeLogText(path, o, a, b).text;
  expect(mergeLogText(path, o, b, a).text).toBe(r);
  return r;
}
const keys = (path: string, text: string): string[] => parseEntries(path, text).map((e) => e.key);

describe('an entry one side edits while the other puts another entry in its place', () => {
  // seed -75552736, "no loss": B's new event stood where o1 was (a 1:1
  // replacement), so it was read as B's edit of o1 and fused with A's edit
  test('another time: the edit and the new entry both kept whole', () => {
    const o1 = '{"ts":1770278520000,"msg":"call Bob o1"}';
    const b0 = '{"ts":1770307260000,"msg":"call Bob B0"}';
    const out = merged(JSONL, PRETTY + o1 + '\n', PRETTY + o1 + ' (edited A)\n', PRETTY + b0 + '\n');
    expect(keys(JSONL, out)).toEqual([PRETTY.slice(0, -1), o1 + ' (edited A)', b0]);
  });

  test('another id, no time (the texts look alike): both kept whole, nothing invented', () => {
    const o1 = '{"event":"call Bob","id":"o1","note":"no time"}';
    const b0 = '{"event":"call Bob","id":"B0","note":"no time"}';
    const out = merged(JSONL, PRETTY + o1 + '\n', PRETTY + o1 + ' (edited A)\n', PRETTY + b0 + '\n');
    expect(keys(JSONL, out)).toEqual([PRETTY.slice(0, -1), o1 + ' (edited A)', b0]);
  });

  test('a continuation line edited on one side, replaced by a new timestamped line on the other: both kept whole', () => {
    // seed -381900929 (LOG_LAW_RUNS=3000), "no duplicates": the new line took
    // the other side's words and came out as a line nobody wrote
    const o = '[2026-02-05 08:01] call Bob o0\n  detail 0 of o0\n';
    const out = merged('logs/history.log', o, '[2026-02-05 08:01] call Bob o0\n[2026-02-05 16:01] call Bob A0\n', '[2026-02-05 08:01] call Bob o0\n  detail 0 of o0 (edited B)\n');
    expect(out).toBe('[2026-02-05 08:01] call Bob o0\n  detail 0 of o0 (edited B)\n[2026-02-05 16:01] call Bob A0\n');
  });

  test('a real edit on both sides still merges: a box ticked on one, words added on the other', () => {
    const o = '# Tasks\n- [ ] buy milk\n- [ ] call Bob\n';
    const out = merged('memory/tasks.md', o, '# Tasks\n- [x] buy milk\n- [ ] call Bob\n', '# Tasks\n- [ ] buy milk and eggs\n- [ ] call Bob\n');
    expect(out).toBe('# Tasks\n- [x] buy milk and eggs\n- [ ] call Bob\n');
  });
});

describe('a boilerplate entry of another section', () => {
  // seed 929222489 (LOG_LAW_RUNS=2000), "no loss": A dropped o0's summary
  // and wrote a new session with its own; that summary paired with o0's (same
  // heading) and took B's edit of o0's heading: two entries fused into one
  test('is not the edit of the entry with the same heading in another section', () => {
    const DAY = 'memory/2026-02-05.md';
    const session = (t: string, id: string): string => `# Session: 2026-02-05 ${t}:00 UTC\n\n- **Session ID**: ${id}\n\n`;
    const summary = (id: string, edit = ''): string => `## Conversation Summary${edit}\n\nuser: call Bob?\nassistant: done (${id})\n`;
    const o = '# 2026-02-05\n\n' + session('08:01', 'o0') + summary('o0');
    const a = '# 2026-02-05\n\n' + session('08:01', 'o0') + session('16:01', 'A0') + summary('A0');
    const b = '# 2026-02-05\n\n' + session('08:01', 'o0') + summary('o0', ' (edited B)');
    const out = merged(DAY, o, a, b);
    expect(out).toContain(summary('o0', ' (edited B)'));
    expect(out).toContain(session('16:01', 'A0') + summary('A0'));
  });
});

describe('a log cut short inside a code fence', () => {
  // seed 123962420 (LOG_LAW_RUNS=2000), "guard": the restored entry was put
  // after the cut entry, inside its open fence, and read as still lost
  const DAY = 'memory/2026-02-05.md';
  const before = '# 2026-02-05\n- 08:01 call Bob o0\n';
  const after = '# 2026-02-05\n\n## ship release (4:01 PM)\n- [ ] ship release A0\n\n## Conversation Summary\n\nuser: read PR?\n\n```\n# not a headi';

  test('restoreLost puts the lost entries before the cut one, so they count as restored', () => {
    const fixed = restoreLost(DAY, before, after);
    expect(lostEntries(DAY, before, fixed).lost).toEqual([]);
    expect(keys(DAY, fixed).slice(-2)).toEqual(['- 08:01 call Bob o0', '## Conversation Summary\n\nuser: read PR?\n\n```\n# not a headi']);
  });

  test('a merge puts the new entries of the other side before the cut one', () => {
    const theirs = before + '\n## pay rent (11:59 PM)\n- paid B0\n';
    const out = merged(DAY, before, after, theirs);
    expect(keys(DAY, out)).toContain('## pay rent (11:59 PM)');
    expect(keys(DAY, out)).toContain('- paid B0');
    expect(keys(DAY, out).at(-1)).toBe('## Conversation Summary\n\nuser: read PR?\n\n```\n# not a headi');
  });
});
