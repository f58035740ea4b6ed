/**
 * Hostile tree paths (issue #11, item 1): the rules of git/paths.ts against
 * git itself, and sync, clone and init joining a hub refusing a commit by
 * an ADMITTED key whose tree holds `.git/hooks/…`, `../escaped.txt` and
 * friends: nothing written outside the work tree or into .git, no hook run,
 * nothing pushed onward; once the hub is fixed, sync goes on.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPath } from '../../src/git/paths.js';
import { agentgit, cleanupTemp, git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';
import { fingerprint, hostileCommit, keyOf, publish, type RawEntry, scratch } from './hostile.js';

afterAll(() => cleanupTemp());

const BAD: Array<[string, string]> = [
  ['.git/hooks/post-checkout', '100755'],
  ['.git', '100644'],
  ['a/.git/config', '100644'],
  ['.GIT/hooks/x', '100644'],
  ['.Git/x', '100644'],
  ['.git./x', '100644'],
  ['.git ./x', '100644'],
  ['.git::$INDEX_ALLOCATION/x', '100644'],
  ['git~1/x', '100644'],
  ['GIT~1/config', '100644'],
  ['.g\u200cit/x', '100644'],
  ['.\u200dgit/x', '100644'],
  ['\ufeff.git/x', '100644'],
  ['.gi\u206at/x', '100644'],
  ['../escaped.txt', '100644'],
  ['a/../../escaped.txt', '100644'],
  ['./x', '100644'],
  ['a//b', '100644'],
  ['/etc/passwd', '100644'],
  ['a/', '100644'],
  ['', '100644'],
  ['a\\..\\x', '100644'],
  ['a\0b', '100644'],
  ['sub', '160000'],
  ['.gitmodules', '120000'],
  ['docs/.gitattributes', '120000'],
  ['.gitignore', '120000'],
  ['.GITIGNORE.', '120000'],
  ['gitign~1', '120000'],
  ['.mailmap', '120000'],
  ['.agentgit/clocks/MEMORY.md.clock', '120000'],
  ['.agentgit', '120000'],
  ['x'.repeat(256), '100644'],
  ['a/'.repeat(2100) + 'x', '100644'],
  ['a', '100600'],
];

const GOOD: Array<[string, string]> = [
  ['MEMORY.md', '100644'],
  ['memory/2026-11-25.md', '100644'],
  ['.gitignore', '100644'],
  ['.agentgit/clocks/MEMORY.md.clock', '100644'],
  ['.github/workflows/x.yml', '100644'],
  ['.gitx', '100644'],
  ['git~2/x', '100644'],
  ['a.git', '100644'],
  ['...', '100644'],
  ['notes/link', '120000'],
  ['run.sh', '100755'],
  ['名前/ファイル.md', '100644'],
  ['x'.repeat(255), '100644'],
];

describe('checkPath: the rules', () => {
  it('refuses every known-bad path and accepts the ordinary ones', () => {
    for (const [p, m] of BAD) expect(checkPath(p, m), `${JSON.stringify(p)} ${m}`).not.toBeNull();
    for (const [p, m] of GOOD) expect(checkPath(p, m), `${JSON.stringify(p)} ${m}`).toBeNull();
  });

  it('git itself refuses the .git spellings and dot components we refuse (core.protectNTFS/protectHFS)', () => {
    const dir = join(tempDir(), 'r');
    const env = testEnv(tempDir());
    git(tempDir(), ['init', '-q', dir], env);
    const blob = git(dir, ['hash-object', '-w', '--stdin'], env).trim();
    for (const [p] of BAD.filter(([p, m]) => m === '100644' && !p.includes('\\') && !p.includes('\0') && !p.startsWith('x') && !p.startsWith('a/a/'))) {
      const r = spawnSync('git', ['-c', 'core.protectNTFS=true', '-c', 'core.protectHFS=true', 'update-index', '--add', '--cacheinfo', `100644,${blob},${p}`], { cwd: dir, env, encoding: 'utf8' });
      expect(r.status, `git accepted ${JSON.stringify(p)}`).not.toBe(0);
    }
  });

  it('property: whatever checkPath accepts, git update-index and checkout-index accept and write inside the work tree', () => {
    const dir = join(tempDir(), 'r');
    const env = testEnv(tempDir());
    git(tempDir(), ['init', '-q', dir], env);
    const blob = git(dir, ['hash-object', '-w', '--stdin'], env).trim();
    // names built from the pieces the .git spellings are made of
    const piece = fc.oneof(fc.constantFrom('.git', '.GiT', 'git~1', 'GIT~1', 'git~2', '.g', 'it', '.', '..', ' ', ':', '~1', '\u200c', '\ufeff', '\u206a', 'a', '-'), fc.stringMatching(/^[.gitGIT~1 :a-]{1,3}$/));
    const name = fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join(''));
    const path = fc.array(name, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
    const accepted = new Set<string>();
    fc.assert(
      fc.property(path, (p) => {
        if (checkPath(p, '100644') === null) accepted.add(p);
        return true;
      }),
      { numRuns: 3000, seed: 11 },
    );
    // one file per accepted path, none a directory of another
    const paths = [...accepted].filter((p) => ![...accepted].some((q) => q !== p && q.startsWith(p + '/'))).slice(0, 400);
    expect(paths.length).toBeGreaterThan(100);
    const input = paths.map((p) => `100644 ${blob}\t${p}`).join('\0') + '\0';
    const u = spawnSync('git', ['-c', 'core.protectNTFS=true', '-c', 'core.protectHFS=true', 'update-index', '--add', '-z', '--index-info'], { cwd: dir, env, input, encoding: 'utf8' });
    expect(u.stderr).toBe('');
    expect(u.status).toBe(0);
    const co = spawnSync('git', ['-c', 'core.protectNTFS=true', '-c', 'core.protectHFS=true', 'checkout-index', '-a', '-f'], { cwd: dir, env, encoding: 'utf8' });
    expect(co.stderr).toBe('');
    for (const p of paths) expect(existsSync(join(dir, p)), p).toBe(true);
    // nothing went into .git beyond git's own files
    expect(readdirSync(join(dir, '.git')).filter((f) => !['HEAD', 'config', 'description', 'hooks', 'info', 'objects', 'refs', 'index', 'branches'].includes(f))).toEqual([]);
  });
});

/** A hub with an admitted founder `a` and an honest, admitted `b` that has local work. */
async function world(): Promise<{ hub: string; a: Instance; b: Instance; good: string }> {
  const hub = makeBareHub();
  const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'truth\n' } });
  const b = await Instance.clone(hub, 'b');
  expect((await b.sync()).code).toBe(0);
  const good = git(hub, ['rev-parse', 'main']).trim();
  return { hub, a, b, good };
}

/** A hook that would prove it ran. */
function hookEntries(marker: string): RawEntry[] {
  const hook = `#!/bin/sh\ntouch '${marker}'\n`;
  return [
    { path: ['.git', 'hooks', 'reference-transaction'], mode: '100755', content: hook },
    { path: ['.git', 'hooks', 'post-merge'], mode: '100755', content: hook },
  ];
}

const CASES: Array<{ name: string; entries: (marker: string) => RawEntry[]; path: RegExp; fsckCatches: boolean }> = [
  { name: '.git/hooks and ../escaped.txt', entries: (m) => [...hookEntries(m), { path: ['..', 'escaped.txt'], mode: '100644', content: 'escaped\n' }], path: /"\.\."|"\.git"/, fsckCatches: true },
  { name: '.GIT (case)', entries: (m) => [{ path: ['.GIT', 'hooks', 'post-merge'], mode: '100755', content: `#!/bin/sh\ntouch '${m}'\n` }], path: /"\.GIT"/, fsckCatches: true },
  { name: 'git~1 (NTFS short name)', entries: () => [{ path: ['git~1', 'config'], mode: '100644', content: '[core]\n' }], path: /git~1/, fsckCatches: true },
  { name: '.g\u200cit (HFS ignorable)', entries: () => [{ path: [Buffer.from('.g\u200cit', 'utf8').toString('latin1'), 'config'], mode: '100644', content: '[core]\n' }], path: /"\.g\u200cit"/, fsckCatches: true },
  { name: 'a "/" inside a name', entries: () => [{ path: ['../../escaped.txt'], mode: '100644', content: 'x\n' }], path: /escaped/, fsckCatches: true },
  { name: 'a backslash', entries: () => [{ path: ['..\\escaped.txt'], mode: '100644', content: 'x\n' }], path: /escaped/, fsckCatches: false },
  { name: 'a gitlink', entries: () => [{ path: ['vendor', 'sub'], mode: '160000', oid: '1'.repeat(40) }], path: /vendor\/sub/, fsckCatches: false },
  { name: 'a path beneath a symlink of the same tree', entries: () => [{ path: ['notes'], mode: '120000', content: '/tmp' }, { path: ['notes', 'x.md'], mode: '100644', content: 'x\n' }], path: /notes/, fsckCatches: true },
];

describe('sync, clone and init refuse hostile paths signed by an admitted key', () => {
  for (const fsck of [true, false]) {
    it(`sync refuses every case (git's fsck ${fsck ? 'on, as agentgit sets it' : 'off: agentgit\'s own check alone'}), writes and runs nothing, pushes nothing onward; fixed hub: sync goes on`, async () => {
      const { hub, a, b, good } = await world();
      // agentgit sets transfer.fsckObjects in the repo config every round: override it for b's git processes
      if (!fsck) Object.assign(b.env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'transfer.fsckObjects', GIT_CONFIG_VALUE_0: 'false' });
      const s = scratch(hub);
      for (const c of CASES) {
        if (!fsck && !c.fsckCatches) continue; // the fsck-off pass repeats the ones git alone would catch
        const marker = join(tempDir(), 'HOOK-RAN');
        const hooksBefore = fingerprint(join(b.dir, '.git', 'hooks'));
        const bad = hostileCommit(s, { entries: c.entries(marker), signingKey: keyOf(a) });
        publish(s, hub, bad);
        b.append('memory/2026-12-01.md', `- ${c.name}\n`); // local work: a merge would push onward
        const r = await b.sync();
        expect(r.code, `${c.name}: ${r.stderr}`).toBe(1);
        if (!fsck || !c.fsckCatches) {
          expect(r.stderr, c.name).toContain(bad.slice(0, 10));
          expect(r.stderr, c.name).toContain('kevin/a');
          expect(r.stderr, c.name).toMatch(c.path);
          expect(r.stderr, c.name).not.toContain('trust add'); // admitting a key is no fix for a hostile tree
        } else expect(r.stderr, c.name).toMatch(/refused the hub's history/);
        expect(existsSync(marker), `${c.name}: a hook ran`).toBe(false);
        expect(existsSync(join(dirname(b.dir), 'escaped.txt')), c.name).toBe(false);
        expect(existsSync(join(dirname(dirname(b.dir)), 'escaped.txt')), c.name).toBe(false);
        expect(fingerprint(join(b.dir, '.git', 'hooks')), c.name).toBe(hooksBefore);
        expect(git(hub, ['rev-parse', 'main']).trim(), `${c.name}: pushed onward`).toBe(bad);
        expect(git(b.dir, ['log', '--format=%H', 'HEAD'], b.env)).not.toContain(bad);
        // the hub is fixed: the next round merges nothing bad and pushes b's work
        git(s.gitDir, ['push', '-q', '-f', hub, `${good}:refs/heads/main`], s.env);
        const ok = await b.sync();
        expect(ok.code, `${c.name} after the fix: ${ok.stderr}`).toBe(0);
        expect(git(hub, ['log', '--format=%s', '-1', 'main'])).toMatch(/agentgit:/);
        git(s.gitDir, ['fetch', '-q', hub, '+main:main'], s.env);
      }
      expect(git(b.dir, ['status', '--porcelain'], b.env).trim()).toBe('');
    }, 600_000);
  }

  it('an honest instance never pushes what the others would refuse: a backslash name or a path deeper than maxTreeDepth is held and named, the rest syncs', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'truth\n' } });
    a.write('notes/a\\b.md', 'windows would split me\n');
    a.write(Array.from({ length: 65 }, () => 'd').join('/') + '/deep.md', 'deep\n');
    a.write('notes/fine.md', 'fine\n');
    const r = await a.sync();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/held notes\/a\\b\.md: its name holds a backslash.*the other instances would refuse it/);
    expect(r.stderr).toMatch(/held d\/d\/.*deep\.md: it is more than 64 directories deep/);
    expect(git(hub, ['show', 'main:notes/fine.md'])).toBe('fine\n');
    expect(git(hub, ['ls-tree', '-r', '--name-only', 'main'])).not.toMatch(/deep\.md|a\\b/);
  }, 120_000);

  it('clone refuses the hostile history before writing any file; init joining the hub refuses it and keeps local files', async () => {
    const { hub, a } = await world();
    const s = scratch(hub);
    const marker = join(tempDir(), 'HOOK-RAN');
    const bad = hostileCommit(s, { entries: [{ path: ['vendor', 'sub'], mode: '160000', oid: '1'.repeat(40) }, { path: ['deep', '..\\escaped.txt'], mode: '100644', content: 'x\n' }], signingKey: keyOf(a) });
    publish(s, hub, bad);
    const home = tempDir();
    const dir = join(tempDir(), 'c');
    const r = await agentgit(['clone', hub, dir, '--instance', 'c'], { env: testEnv(home) });
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stderr).toContain(bad.slice(0, 10));
    expect(r.stderr).toContain('kevin/a');
    expect(readdirSync(dir)).toEqual(['.git']); // verified before checkout: nothing written
    // git's own fsck catches .git/hooks at clone
    const bad2 = hostileCommit(s, { entries: hookEntries(marker), signingKey: keyOf(a) });
    publish(s, hub, bad2);
    const dir2 = join(tempDir(), 'c2');
    const r2 = await agentgit(['clone', hub, dir2, '--instance', 'c2'], { env: testEnv(tempDir()) });
    expect(r2.code).not.toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(dir2, '.git', 'hooks', 'reference-transaction'))).toBe(false);
    // init joining the hub with local state: refused, local files kept, hub unchanged
    git(s.gitDir, ['push', '-q', '-f', hub, `${bad}:refs/heads/main`], s.env);
    const idir = join(tempDir(), 'i');
    mkdirSync(idir);
    writeFileSync(join(idir, 'MEMORY.md'), 'mine\n');
    const ienv = testEnv(tempDir());
    const ri = await agentgit(['init', '-C', idir, '--remote', hub, '--agent', 'kevin', '--instance', 'i'], { env: ienv });
    expect(ri.code, ri.stderr + ri.stdout).not.toBe(0);
    expect(ri.stderr + ri.stdout).toContain(bad.slice(0, 10));
    expect(existsSync(join(idir, 'vendor'))).toBe(false);
    expect(git(idir, ['show', 'HEAD:MEMORY.md'], ienv)).toBe('mine\n');
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(bad);
  }, 600_000);
});

describe('verify audits the tree rules over all of history', () => {
  it('a hostile tree already in local history (pushed past the rules by hand) is named by `agentgit verify`, exit 1; a clean history verifies', async () => {
    const { a } = await world();
    const clean = await a.run(['verify', '--json']);
    expect(clean.code, clean.stderr + clean.stdout).toBe(0);
    expect(JSON.parse(clean.stdout).trees).toEqual([]);
    const s = { gitDir: join(a.dir, '.git'), env: a.env };
    const bad = hostileCommit(s, { entries: [{ path: ['notes', 'a\\b.md'], mode: '100644', content: 'x\n' }], signingKey: keyOf(a) });
    git(a.dir, ['update-ref', 'refs/heads/main', bad], a.env);
    const r = await a.run(['verify', '--json']);
    expect(r.code).toBe(1);
    const trees = JSON.parse(r.stdout).trees as { commit: string; reason: string }[];
    expect(trees.map((t) => t.commit)).toEqual([bad]);
    expect(trees[0]!.reason).toMatch(/backslash/);
    const text = await a.run(['verify']);
    expect(text.stdout).toMatch(new RegExp(`tree: ${bad.slice(0, 10)} by "kevin/a": its tree holds "notes/a\\\\\\\\b\\.md"`));
  });
});
