/**
 * Bad input on the isomorphic-git engine (issue #16), found by the reliability
 * suite's bad-input scenario (test/reliability/lib/badinput.ts) when it first ran
 * on this engine: a nested repository must stay out of the commit, and an
 * untracked symlink where the hub adds a directory must not wedge the round.
 * And a file hub whose filesystem stops answering (the hub-hung scenario): this
 * engine reads a file hub in-process with synchronous reads, so a killable probe
 * (iso/file-transport.ts probeFileHub) makes the round end at its deadline with
 * exit 75, as the git engine does by killing git. The stall is a FIFO nobody
 * writes in place of the hub's HEAD and branch ref.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, git, Instance, makeBareHub, tempDir } from '../../helpers/agents.js';

afterAll(() => cleanupTemp());

describe('bad input and a stalled hub on the isomorphic-git engine', () => {
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

  /** a stalled file hub: */
  it('sync --timeout ends with exit 75 naming the deadline, local work committed; once the hub answers, the next run pushes', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'x.md': 'x\n' } });
    const files = ['HEAD', 'refs/heads/main'].map((f) => join(hub, f));
    for (const f of files) {
      renameSync(f, `${f}.real`);
      expect(spawnSync('mkfifo', [f]).status).toBe(0);
    }
    a.write('y.md', 'y\n');
    // the test's own kill (60 s) only fires if the round blocks: then the exit code is not 75
    const r = await agentgit(['sync', '-C', a.dir, '--timeout', '3'], { env: a.env, timeoutMs: 60_000 });
    for (const f of files) {
      unlinkSync(f);
      renameSync(`${f}.real`, f);
    }
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toMatch(/did not answer in time/);
    expect(r.stderr).toMatch(/local work is committed and kept/);
    expect(a.git(['status', '--porcelain'])).toBe('');
    const r2 = await a.sync();
    expect(r2.code, r2.stderr).toBe(0);
    expect(spawnSync('git', ['--git-dir', hub, 'show', 'main:y.md'], { encoding: 'utf8' }).stdout).toBe('y\n');
  });
});
