/**
 * Refs moved in-process (git/ref-move.ts) are moved as `git update-ref -m`
 * moves them: two copies of one repository, the same moves made by git in
 * one and in-process in the other, give the same ref files, packed-refs
 * and reflogs byte for byte (HEAD through its branch, new and existing
 * refs, packed refs, reasons with odd whitespace, logAllRefUpdates
 * true/false/always, a bare repository). A ref not where it was expected
 * fails as git's does; what git would do more with is left to it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RefMovedError } from '../../src/git/iso/refs.js';
import { Repo } from '../../src/git/repo.js';
import { moveRefInProcess, reflogReason } from '../../src/git/ref-move.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const IDENT = { name: 'Agent Smith', email: 'agent@example.org' };
const WHEN = 1_796_000_000_000;

/** Every file under refs/, logs/ and packed-refs: path -> content. */
function refFiles(gitDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(gitDir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(join(gitDir, 'refs'));
  walk(join(gitDir, 'logs'));
  for (const f of ['packed-refs', 'HEAD']) if (existsSync(join(gitDir, f))) out.set(f, readFileSync(join(gitDir, f), 'utf8'));
  return out;
}

interface Pair {
  env: NodeJS.ProcessEnv;
  a: string;
  b: string;
  gitDirA: string;
  gitDirB: string;
  commits: string[];
}

/** A repository with a few commits, copied: `a` is moved by git, `b` in-process. */
function pair(bare = false, config: Array<[string, string]> = []): Pair {
  const root = tempDir();
  const env = testEnv(root);
  const a = join(root, 'a');
  git(root, ['init', '-q', '-b', 'main', a], env);
  git(a, ['config', 'user.name', IDENT.name], env);
  git(a, ['config', 'user.email', IDENT.email], env);
  const commits: string[] = [];
  for (let i = 0; i < 4; i++) {
    git(a, ['commit', '-q', '--allow-empty', '-m', `c${i}`], env);
    commits.push(git(a, ['rev-parse', 'HEAD'], env).trim());
  }
  let gitDirA = join(a, '.git');
  if (bare) {
    const ba = join(root, 'bare-a');
    git(root, ['clone', '-q', '--bare', a, ba], env);
    gitDirA = ba;
    // the identity git writes (the caller passes the one git would use)
    git(ba, ['config', 'user.name', IDENT.name], env);
    git(ba, ['config', 'user.email', IDENT.email], env);
  }
  for (const [k, v] of config) git(gitDirA, ['config', k, v], env);
  const b = join(root, 'b');
  cpSync(bare ? gitDirA : a, b, { recursive: true });
  return { env, a: bare ? gitDirA : a, b, gitDirA, gitDirB: bare ? b : join(b, '.git'), commits };
}

/** Move by git in a and in-process in b; both must agree. Git's time is WHEN in the zone of this process (TZ), as git takes a bare epoch. */
function both(p: Pair, ref: string, next: string, expected: string | null | undefined, reason: string): void {
  const args = ['update-ref', '-m', reason, ref, next];
  if (expected !== undefined) args.push(expected ?? '0'.repeat(40));
  const env = { ...p.env, TZ: process.env.TZ ?? 'UTC', GIT_COMMITTER_DATE: `${WHEN / 1000}` };
  const r = spawnSync('git', args, { cwd: p.a, env, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(moveRefInProcess({ gitDir: p.gitDirB, ref, next, expected, reason, ident: IDENT, when: WHEN }, p.env)).toBe(true);
}

/** Run `f` with this process in time zone `tz` (the forks pool: one process per test file). */
function inZone(tz: string, f: () => void): void {
  const before = process.env.TZ;
  process.env.TZ = tz;
  try {
    f();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

describe('refs moved in-process', () => {
  it('leave the ref files and reflogs git leaves, over a sequence of moves, in any time zone', () => {
    for (const tz of ['UTC', 'Asia/Kolkata', 'America/St_Johns']) inZone(tz, () => sequence(tz));
  });

  function sequence(tz: string): void {
    const p = pair();
    const [c0, c1, c2, c3] = p.commits as [string, string, string, string];
    both(p, 'HEAD', c2, c3, 'commit: agentgit: 10 files from vm-1');
    both(p, 'HEAD', c3, c2, '  reset:\tmoving  to\n\nsomewhere  \n');
    both(p, 'refs/remotes/origin/main', c1, undefined, 'update by push');
    both(p, 'refs/remotes/origin/main', c3, c1, 'update by push');
    both(p, 'refs/agentgit/carried/1', c0, null, 'agentgit: head before crossing into a new epoch');
    git(p.a, ['pack-refs', '--all'], p.env);
    git(p.b, ['pack-refs', '--all'], p.env);
    both(p, 'refs/remotes/origin/main', c2, c3, 'update by push');
    both(p, 'refs/heads/side', c1, null, 'branch: Created from HEAD');
    expect(refFiles(p.gitDirB), tz).toEqual(refFiles(p.gitDirA));
    expect(readFileSync(join(p.gitDirB, 'logs', 'HEAD'), 'utf8')).toContain('\treset: moving to somewhere\n');
    expect(readFileSync(join(p.gitDirB, 'logs', 'HEAD'), 'utf8')).toContain({ UTC: ' +0000\t', 'Asia/Kolkata': ' +0530\t', 'America/St_Johns': ' -0330\t' }[tz]);
    const fsck = spawnSync('git', ['fsck', '--no-dangling'], { cwd: p.b, env: p.env, encoding: 'utf8' });
    expect(fsck.status, fsck.stderr).toBe(0);
  }

  it('create reflogs where core.logAllRefUpdates makes git create them', () => {
    for (const [setting, bare] of [['false', false], ['always', false], ['true', true], [null, true]] as const) {
      const p = pair(bare, setting === null ? [] : [['core.logAllRefUpdates', setting]]);
      const [, c1, c2, c3] = p.commits as [string, string, string, string];
      if (!bare) both(p, 'HEAD', c2, c3, 'commit: one');
      both(p, 'refs/heads/main', c1, undefined, 'moved');
      both(p, 'refs/agentgit/instances/x', c2, null, 'heartbeat');
      expect(refFiles(p.gitDirB), `logAllRefUpdates ${setting} bare ${bare}`).toEqual(refFiles(p.gitDirA));
      // a ref already at its value: git writes no line for it, so git is left to do it
      expect(moveRefInProcess({ gitDir: p.gitDirB, ref: 'refs/heads/main', next: c1, expected: c1, reason: 'same', ident: IDENT, when: WHEN }, p.env)).toBe(false);
    }
  });

  it('fail as git does when the ref is not where it was expected, moving nothing', () => {
    const p = pair();
    const [c0, c1] = p.commits as [string, string];
    const before = refFiles(p.gitDirB);
    expect(() => moveRefInProcess({ gitDir: p.gitDirB, ref: 'HEAD', next: c0, expected: c1, reason: 'x', ident: IDENT, when: WHEN }, p.env)).toThrow(RefMovedError);
    expect(() => moveRefInProcess({ gitDir: p.gitDirB, ref: 'refs/heads/main', next: c0, expected: null, reason: 'x', ident: IDENT, when: WHEN }, p.env)).toThrow(RefMovedError);
    expect(refFiles(p.gitDirB)).toEqual(before);
    expect(existsSync(join(p.gitDirB, 'refs', 'heads', 'main.lock'))).toBe(false);
    expect(existsSync(join(p.gitDirB, 'HEAD.lock'))).toBe(false);
    const r = spawnSync('git', ['update-ref', '-m', 'x', 'HEAD', c0, c1], { cwd: p.b, env: p.env, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });

  it('leave to git, changing nothing, what git would do more with', () => {
    const cases: Array<[string, (p: Pair) => void, string?]> = [
      ['a detached HEAD', (p) => void git(p.b, ['checkout', '-q', '--detach'], p.env)],
      ['a held branch lock', (p) => writeFileSync(join(p.gitDirB, 'refs', 'heads', 'main.lock'), '')],
      ['a held HEAD.lock', (p) => writeFileSync(join(p.gitDirB, 'HEAD.lock'), '')],
      ['a reference-transaction hook', (p) => writeFileSync(join(p.gitDirB, 'hooks', 'reference-transaction'), '#!/bin/sh\n', { mode: 0o755 })],
      ['core.hooksPath', (p) => void git(p.b, ['config', 'core.hooksPath', '/nowhere'], p.env)],
      ['core.sharedRepository', (p) => void git(p.b, ['config', 'core.sharedRepository', 'group'], p.env)],
      ['committer.name', (p) => void git(p.b, ['config', 'committer.name', 'Someone'], p.env)],
      ['a ref named like a directory of refs', (p) => mkdirSync(join(p.gitDirB, 'refs', 'remotes', 'origin', 'main', 'x'), { recursive: true }), 'refs/remotes/origin/main'],
      ['a ref name git would refuse', () => undefined, 'refs/heads/a..b'],
      ['core.fsync', (p) => void git(p.b, ['config', 'core.fsync', 'reference'], p.env)],
      ['a symbolic ref (git moves its target)', (p) => writeFileSync(join(p.gitDirB, 'refs', 'heads', 'alias'), 'ref: refs/heads/main\n'), 'refs/heads/alias'],
      [
        'a new ref under a packed one',
        (p) => {
          git(p.b, ['update-ref', 'refs/agentgit/x', p.commits[0]!], p.env);
          git(p.b, ['pack-refs', '--all'], p.env);
        },
        'refs/agentgit/x/y',
      ],
      ['an empty reason', () => undefined, 'refs/heads/empty-reason'],
      ['a symlink ref (git moves its target)', (p) => symlinkSync('main', join(p.gitDirB, 'refs', 'heads', 'linked')), 'refs/heads/linked'],
    ];
    for (const [what, setUp, ref] of cases) {
      const p = pair();
      const [c0, , , c3] = p.commits as [string, string, string, string];
      setUp(p);
      const before = refFiles(p.gitDirB);
      expect(moveRefInProcess({ gitDir: p.gitDirB, ref: ref ?? 'HEAD', next: c0, expected: ref ? undefined : c3, reason: what === 'an empty reason' ? ' \n ' : 'x', ident: IDENT, when: WHEN }, p.env), what).toBe(false);
      expect(refFiles(p.gitDirB), what).toEqual(before);
    }
  });

  it('never names an object that is not on disk yet: the round batch is written before the ref moves', async () => {
    const p = pair();
    const repo = (await Repo.openAt(p.b))!;
    try {
      expect(repo.useCommitIdentity(IDENT, null)).toBe(true);
      const tree = await repo.writeEmptyTree();
      const commit = await repo.commitTree(tree, [p.commits[3]!], 'batched\n', { sign: false });
      const onDisk = (): boolean => spawnSync('git', ['cat-file', '-e', commit], { cwd: p.b, env: p.env }).status === 0;
      expect(onDisk()).toBe(false); // still in the round's batch (git/objects.ts)
      await repo.updateRef('HEAD', commit, p.commits[3]!, 'commit: batched');
      // another git (or a kill -9 now) sees the ref: its commit is there
      expect(onDisk()).toBe(true);
      expect(readFileSync(join(p.gitDirB, 'refs', 'heads', 'main'), 'utf8')).toBe(`${commit}\n`);
      expect(readFileSync(join(p.gitDirB, 'logs', 'HEAD'), 'utf8')).toMatch(/\tcommit: batched\n$/);
    } finally {
      repo.close();
    }
  });

  it("fold a reason's whitespace as git's copy_reflog_msg", () => {
    expect(reflogReason('  a \t b\n\nc  ')).toBe('a b c');
    expect(reflogReason('a\vb\f')).toBe('a\vb\f'); // git's isspace leaves \v and \f alone
    expect(reflogReason('commit (initial): x')).toBe('commit (initial): x');
  });
});
