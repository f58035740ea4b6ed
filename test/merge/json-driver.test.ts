/**
 * Merge rules II through real `git merge` with the agentgit merge driver:
 * a side cut off mid-write, and a task moved between projects while the
 * other branch edits it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, git, MARKERS, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

async function repo(): Promise<{ write: (p: string, s: string) => void; read: (p: string) => string; g: (...a: string[]) => string }> {
  const dir = join(tempDir(), 'r');
  mkdirSync(dir);
  const env = testEnv(tempDir());
  const r = await agentgit(['init', '-C', dir, '--instance', 'x'], { env });
  expect(r.code, r.stderr).toBe(0);
  return {
    write: (p, s) => writeFileSync(join(dir, p), s),
    read: (p) => readFileSync(join(dir, p), 'utf8'),
    g: (...a) => git(dir, a, env),
  };
}

const j = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

/** base on main, `other` on a branch, `mine` on main, then `git merge other`. */
async function mergeThrough(base: string, mine: string, other: string): Promise<string> {
  const r = await repo();
  r.write('state.json', base);
  r.g('add', '-A');
  r.g('commit', '-qm', 'base');
  r.g('switch', '-qc', 'other');
  // --no-verify: a cut-off side is what the commit guard (the pre-commit hook)
  // holds; here it arrives as another instance's commit, past this guard
  r.write('state.json', other);
  r.g('commit', '-qam', 'other', '--no-verify');
  r.g('switch', '-q', 'main');
  r.write('state.json', mine);
  r.g('commit', '-qam', 'main', '--no-verify');
  r.g('merge', '-q', '--no-edit', 'other');
  // the merge is committed; what lost (a broken side's text) is in the conflict record the driver writes
  expect(r.g('status', '--porcelain', '--untracked-files=no')).toBe('');
  const out = r.read('state.json');
  expect(MARKERS.test(out)).toBe(false);
  return out;
}

describe('merge rules II through git merge', () => {
  it('a file cut off mid-write on the merged branch never replaces the valid one', async () => {
    const base = j({ tasks: [{ id: 't1', title: 'one' }] });
    const added = j({ tasks: [{ id: 't1', title: 'one' }, { id: 't2', title: 'two' }] });
    const cut = j({ tasks: [{ id: 't1', title: 'one' }, { id: 't3', title: 'three' }] }).slice(0, 50);
    expect(await mergeThrough(base, added, cut)).toBe(added);
    expect(await mergeThrough(base, cut, added)).toBe(added);
  });

  it('a task moved between projects while the other branch edits it: once, with the edit', async () => {
    const t1 = { id: 't1', title: 'fix roof', status: 'todo' };
    const base = j({ projects: { home: { tasks: [t1, { id: 't2' }] }, work: { tasks: [{ id: 'w1' }] } } });
    const moved = j({ projects: { home: { tasks: [{ id: 't2' }] }, work: { tasks: [{ id: 'w1' }, t1] } } });
    const edited = j({ projects: { home: { tasks: [{ ...t1, status: 'done' }, { id: 't2' }] }, work: { tasks: [{ id: 'w1' }] } } });
    const want = { projects: { home: { tasks: [{ id: 't2' }] }, work: { tasks: [{ id: 'w1' }, { ...t1, status: 'done' }] } } };
    expect(JSON.parse(await mergeThrough(base, moved, edited))).toEqual(want);
    expect(JSON.parse(await mergeThrough(base, edited, moved))).toEqual(want);
  });
});
