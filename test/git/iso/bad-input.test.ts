/**
 * Bad input on the isomorphic-git engine (issue #16), found by the reliability
 * suite's bad-input scenario (test/reliability/lib/badinput.ts) when it first ran
 * on this engine: a nested repository must stay out of the commit, and an
 * untracked symlink where the hub adds a directory must not wedge the round.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, git, Instance, makeBareHub, tempDir } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());

describe('bad input on the isomorphic-git engine', () => {
  beforeAll(() => void (process.env.AGENTGIT_ENGINE = 'isomorphic-git'));
  afterAll(() => void delete process.env.AGENTGIT_ENGINE);

  it('a directory holding its own .git is named, not synced, and left intact', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    mkdirSync(join(a.dir, 'tools/other'), { recursive: true });
    expect(spawnSync('git', ['init', '-q', join(a.dir, 'tools/other')]).status).toBe(0);
    a.write('tools/other/readme.md', 'another repo\n');
    a.write('y.md', 'y\n');
    const r = await a.sync();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/tools\/other\/? holds its own \.git/);
    expect(git(hub, ['ls-tree', '-r', '--name-only', 'main']).split('\n')).toEqual(expect.arrayContaining(['y.md']));
    expect(git(hub, ['ls-tree', '-r', '--name-only', 'main'])).not.toMatch(/tools\//);
    expect(existsSync(join(a.dir, 'tools/other/.git/HEAD'))).toBe(true);
  });

  it('an untracked symlink where the hub adds a directory: the round ends, both converge, nothing is written through the link', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'notes/n.md': 'n\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await b.sync()).code).toBe(0);
    const outside = tempDir('agentgit-outside-');
    symlinkSync(outside, join(b.dir, 'notes/drop'));
    a.write('notes/drop/x.md', 'from a\n');
    expect((await a.sync()).code).toBe(0);
    const rb = await b.sync();
    expect(rb.code, rb.stderr).toBe(0);
    for (const i of [a, b, a]) expect((await i.sync()).code).toBe(0);
    expect(existsSync(join(outside, 'x.md'))).toBe(false);
    expect(a.git(['rev-parse', 'HEAD'])).toBe(b.git(['rev-parse', 'HEAD']));
    expect(b.git(['status', '--porcelain'])).toBe('');
  });
});
