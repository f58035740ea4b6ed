/**
 * Issue #12: a JSON file cut off mid-write (a crashed agent) never reaches
 * the other instances. Both sides changed: the merge keeps the side that
 * parses (merge/json). Only one side changed: git never calls a merge, so
 * the commit guard holds the broken file and its last valid version stays
 * synced.
 */
import { utimesSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const tasks = 'mission-control/tasks.json';
const j = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

describe('commit guard: JSON cut off mid-write', () => {
  it('is held; the hub and the other instance keep the last valid version; fixed, it syncs', async () => {
    const hub = makeBareHub();
    const valid = j({ tasks: [{ id: 't1', title: 'one' }] });
    const a = await Instance.init(hub, 'a', { files: { [tasks]: valid } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    const cut = j({ tasks: [{ id: 't1', title: 'one' }, { id: 't2', title: 'two' }] }).slice(0, 40);
    a.write(tasks, cut);
    // changed a moment ago: taken as a write in flight, not a broken file (exit 0, nothing of it committed)
    const now = await a.sync();
    expect(now.code, now.stderr).toBe(0);
    expect(now.stderr + now.stdout).toMatch(/mission-control\/tasks\.json does not parse as JSON and changed 2 s ago or less: taken as being written/);
    expect(git(hub, ['show', `main:${tasks}`])).toBe(valid);
    // still broken a minute later: held
    const old = new Date(Date.now() - 60_000);
    utimesSync(a.path(tasks), old, old);
    const r = await a.sync();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/held mission-control\/tasks\.json: it no longer parses as JSON/);
    expect(git(hub, ['show', `main:${tasks}`])).toBe(valid);
    expect(a.read(tasks)).toBe(cut); // the agent's file is left for the operator
    expect((await b.sync()).code).toBe(0);
    expect(b.read(tasks)).toBe(valid);
    const fixed = j({ tasks: [{ id: 't1', title: 'one' }, { id: 't2', title: 'two' }] });
    a.write(tasks, fixed);
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    expect(b.read(tasks)).toBe(fixed);
  });

  it('a file that never parsed is committed as it is (only a valid version is protected)', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'notes.json': '{ not json\n' } });
    a.write('notes.json', '{ still not json\n');
    const r = await a.sync();
    expect(r.code, r.stderr).toBe(0);
    expect(git(hub, ['show', 'main:notes.json'])).toBe('{ still not json\n');
  });
});
