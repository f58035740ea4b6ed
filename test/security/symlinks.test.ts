/**
 * agentgit never writes its own files through a symbolic link (issue #11,
 * item 2): a `.gitignore` or a clock file committed as a link (by an
 * admitted key) is refused on arrival; a link put in the work tree (by hand,
 * or left by older versions) is refused with a message naming it, and the
 * file outside is never touched; the work-tree update never writes beneath
 * a link.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Repo } from '../../src/git/repo.js';
import { Policy } from '../../src/policy/policy.js';
import { checkout } from '../../src/sync/checkout.js';
import { cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';
import { treeRejections } from '../../src/git/paths.js';
import { hostileCommit, keyOf, publish, type RawEntry, scratch, scratchRepo, world } from './hostile.js';

afterAll(() => cleanupTemp());

describe('symlinks where agentgit writes', () => {
  it('a .gitignore or a clock file committed as a link to a file outside is refused on arrival; the file outside is never touched', async () => {
    const { hub, a, b, good } = await world();
    const outside = join(tempDir(), 'victim.txt');
    writeFileSync(outside, 'precious\n');
    const s = scratch(hub);
    for (const path of [['.gitignore'], ['.agentgit', 'clocks', 'MEMORY.md.clock'], ['docs', '.gitattributes']]) {
      const bad = hostileCommit(s, { entries: [{ path, mode: '120000', content: outside, replace: true }], signingKey: keyOf(a) });
      publish(s, hub, bad);
      b.append('MEMORY.md', `- ${path.join('/')}\n`);
      const r = await b.sync();
      expect(r.code, `${path.join('/')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/refused the hub's history/);
      expect(readFileSync(outside, 'utf8')).toBe('precious\n');
      expect(git(hub, ['rev-parse', 'main']).trim()).toBe(bad);
      publish(s, hub, good);
      expect((await b.sync()).code).toBe(0);
      git(s.gitDir, ['fetch', '-q', hub, '+main:main'], s.env);
    }
  }, 300_000);

  it('a .gitignore, a clocks directory or state.json made a link in the instance itself: refused with the file named, nothing written through it; a regular file again: sync goes on', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'truth\n' } });
    const outside = join(tempDir(), 'victim.txt');
    writeFileSync(outside, 'precious\n');
    // .gitignore: the managed block would be appended to the target every round
    const kept = a.read('.gitignore');
    rmSync(a.path('.gitignore'));
    symlinkSync(outside, a.path('.gitignore'));
    const r = await a.sync();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${a.path('.gitignore')} is a symbolic link`);
    expect(readFileSync(outside, 'utf8')).toBe('precious\n');
    rmSync(a.path('.gitignore'));
    writeFileSync(a.path('.gitignore'), kept);
    expect((await a.sync()).code).toBe(0);
    // the clocks directory: a clock file would be written into the directory outside
    const outDir = join(tempDir(), 'victim-dir');
    mkdirSync(outDir);
    rmSync(a.path('.agentgit/clocks'), { recursive: true, force: true });
    symlinkSync(outDir, a.path('.agentgit/clocks'));
    a.write('notes.md', 'a note\n');
    const r2 = await a.sync();
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('is a symbolic link');
    expect(readdirSync(outDir)).toEqual([]);
    rmSync(a.path('.agentgit/clocks'));
    git(a.dir, ['checkout', '--', '.agentgit/clocks'], a.env);
    const r3 = await a.sync();
    expect(r3.code, r3.stderr).toBe(0);
    expect(git(hub, ['show', 'main:notes.md'])).toBe('a note\n');
    // state.json in .git/agentgit: never written through
    const state = join(a.dir, '.git', 'agentgit', 'state.json');
    rmSync(state, { force: true });
    symlinkSync(outside, state);
    a.append('notes.md', 'more\n');
    await a.sync();
    expect(readFileSync(outside, 'utf8')).toBe('precious\n');
  }, 300_000);

  it('state.json made a FIFO: the round neither blocks on it nor writes into it; it is replaced by a regular file', async () => {
    const a = await Instance.init(makeBareHub(), 'a', { files: { 'MEMORY.md': 'truth\n' } });
    expect((await a.sync()).code).toBe(0);
    const state = join(a.dir, '.git', 'agentgit', 'state.json');
    rmSync(state);
    expect(spawnSync('mkfifo', [state]).status).toBe(0);
    a.append('MEMORY.md', 'more\n');
    const r = await a.sync(); // opened non-blocking: a blocking open would wait for a writer forever
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(state).isFile()).toBe(true);
    expect((JSON.parse(readFileSync(state, 'utf8')) as { lastExitCode: number }).lastExitCode).toBe(0);
  }, 60_000);

  it('a path beneath a link of the same tree is refused, also when only a case-insensitive file system makes them one; a file and a directory differing in case pass', async () => {
    const { dir, base, s } = scratchRepo();
    const make = (entries: RawEntry[]) => hostileCommit(s, { entries, signingKey: '', parent: base });
    const repo = (await Repo.openAt(dir))!;
    try {
      const check = async (tip: string) => (await treeRejections(repo, { tip, exclude: [base], limits: { maxDepth: 64, maxBlobBytes: 1e9 } }))[0]?.reason ?? null;
      expect(await check(make([{ path: ['Link'], mode: '120000', content: '/etc' }, { path: ['link', 'x.md'], mode: '100644', content: 'x' }]))).toMatch(/case-insensitive.*symbolic link/);
      expect(await check(make([{ path: ['link'], mode: '120000', content: '/etc' }, { path: ['link', 'x.md'], mode: '100644', content: 'x' }]))).toMatch(/holds this name twice/);
      expect(await check(make([{ path: ['Notes', 'x.md'], mode: '100644', content: 'x' }, { path: ['notes'], mode: '100644', content: 'y' }]))).toBeNull();
    } finally {
      repo.close();
    }
  }, 60_000);

  it('the work-tree update never writes beneath a link: a directory the agent replaced by a link keeps the link, nothing lands outside', async () => {
    const dir = join(tempDir(), 'w');
    const env = testEnv(tempDir());
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    const commit = (files: Record<string, string>, msg: string): string => {
      for (const [p, c] of Object.entries(files)) {
        mkdirSync(join(dir, p, '..'), { recursive: true });
        writeFileSync(join(dir, p), c);
      }
      git(dir, ['add', '-A'], env);
      git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', msg], env);
      return git(dir, ['rev-parse', 'HEAD'], env).trim();
    };
    const from = commit({ 'notes/a.md': 'a\n' }, 'one');
    const to = commit({ 'notes/a.md': 'a2\n', 'notes/b.md': 'b\n' }, 'two');
    git(dir, ['update-ref', 'refs/heads/main', from], env);
    git(dir, ['read-tree', from], env);
    // the work tree as of `from`, but notes/ is now a link to a directory outside
    const outDir = join(tempDir(), 'outside');
    mkdirSync(outDir);
    writeFileSync(join(outDir, 'a.md'), 'a\n');
    rmSync(join(dir, 'notes'), { recursive: true, force: true });
    symlinkSync(outDir, join(dir, 'notes'));
    const repo = (await Repo.openAt(dir))!;
    try {
      const r = await checkout(repo, Policy.fromText(null), 'refs/heads/main', from, to);
      expect(r.keptLocal.sort()).toEqual(['notes/a.md', 'notes/b.md']);
    } finally {
      repo.close();
    }
    expect(readdirSync(outDir)).toEqual(['a.md']);
    expect(readFileSync(join(outDir, 'a.md'), 'utf8')).toBe('a\n');
  }, 60_000);
});
