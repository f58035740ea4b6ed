/**
 * Counterexamples the property tests of the log merge found
 * (test/merge/log.laws.test.ts), shrunk to examples, one per cause.
 */
import { describe, expect, test } from 'vitest';
import { mergeLogText, parseEntries } from '../../src/merge/log.js';

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
