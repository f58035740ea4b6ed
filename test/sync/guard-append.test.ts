/**
 * The commit guard and a log that was only appended to: nothing committed
 * is gone, so nothing is held, however the entry split reads the new text.
 * The case that found it: a JSONL value cut by a kill -9 (committed by a
 * round as it was), then completed by the writer; the closed value is one
 * entry where the committed text was several, and the guard used to call
 * those lines lost, hold the file and "restore" them, writing them twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const events = 'mission-control/events.jsonl';

describe('commit guard: appends', () => {
  it('a JSONL value committed half-written and completed later goes out as written, once', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [events]: '{"a":1}\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    a.append(events, '{"b":\n2\n'); // the writer died inside its value; a round commits what is there
    const r1 = await a.sync();
    expect(r1.code, r1.stderr).toBe(0);
    a.append(events, '}\n{"c":3}\n'); // the writer's retry completes it
    const r2 = await a.sync();
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).not.toMatch(/held/);
    const written = '{"a":1}\n{"b":\n2\n}\n{"c":3}\n';
    expect(a.read(events)).toBe(written);
    expect(git(hub, ['show', `main:${events}`])).toBe(written);
    expect((await b.sync()).code).toBe(0);
    expect(b.read(events)).toBe(written);
  });

  it('a real removal next to an append is still held', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [events]: '{"a":1}\n{"b":2}\n' } });
    a.write(events, '{"b":2}\n{"c":3}\n');
    const r = await a.sync();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/held mission-control\/events\.jsonl: 1 committed entry was removed/);
    expect(git(hub, ['show', `main:${events}`])).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
  });
});
