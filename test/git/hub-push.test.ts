/**
 * A push to a hub on disk made in-process (git/hub-push.ts) leaves the hub
 * as git's push leaves it: the same commits pushed both ways, one hub each,
 * give the same refs, a hub `git fsck --strict` finds clean, and the same
 * local tracking refs; random trees (deep paths, deletions, modes,
 * symlinks, names around '/'). Everything git's receive-pack would do more
 * with (hooks, receive.* settings, a reflog, a non-bare or another user's
 * hub, URL rewriting, housekeeping due, a push that is not a fast-forward
 * by one commit) is left to git, with nothing written.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { pushToHubInProcess, trackingRef } from '../../src/git/hub-push.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';
import { rng } from '../helpers/rng.js';

afterAll(() => cleanupTemp());

/** Read local objects as the git CLI engine's reader does: raw bodies by id. */
function reader(dir: string, env: NodeJS.ProcessEnv): (oid: string) => Promise<Buffer | null> {
  return (oid) => {
    const r = spawnSync('git', ['cat-file', '--batch'], { cwd: dir, env, input: `${oid}\n` });
    const out = r.stdout;
    const nl = out.indexOf(10);
    const head = out.subarray(0, nl).toString();
    if (head.endsWith('missing')) return Promise.resolve(null);
    const size = Number(head.split(' ')[2]);
    return Promise.resolve(Buffer.from(out.subarray(nl + 1, nl + 1 + size)));
  };
}

const NAMES = ['a', 'a-b', 'a.b', 'a0', 'b', 'memory', 'x y', 'é', 'z'];

interface Rig {
  env: NodeJS.ProcessEnv;
  dir: string;
  mine: string;
  theirs: string;
  read: (oid: string) => Promise<Buffer | null>;
  commit: (msg: string) => string;
}

/** A repo with two remotes, `mine` (pushed in-process) and `theirs` (pushed by git), both at the same first commit. */
function rig(): Rig {
  const root = tempDir();
  const env = testEnv(root);
  const dir = join(root, 'repo');
  const mine = join(root, 'mine.git');
  const theirs = join(root, 'theirs.git');
  git(root, ['init', '-q', '-b', 'main', dir], env);
  git(root, ['init', '-q', '--bare', '-b', 'main', mine], env);
  git(root, ['init', '-q', '--bare', '-b', 'main', theirs], env);
  git(dir, ['config', 'user.name', 'T'], env);
  git(dir, ['config', 'user.email', 't@example.org'], env);
  git(dir, ['remote', 'add', 'mine', mine], env);
  git(dir, ['remote', 'add', 'theirs', `file://${theirs}`], env);
  const commit = (msg: string): string => {
    git(dir, ['add', '-A'], env);
    git(dir, ['commit', '-q', '--allow-empty', '-m', msg], env);
    return git(dir, ['rev-parse', 'HEAD'], env).trim();
  };
  writeFileSync(join(dir, 'README'), 'first\n');
  commit('first');
  git(dir, ['push', '-q', 'mine', 'HEAD:refs/heads/main'], env);
  git(dir, ['push', '-q', 'theirs', 'HEAD:refs/heads/main'], env);
  return { env, dir, mine, theirs, read: reader(dir, env), commit };
}

function refsOf(hub: string, env: NodeJS.ProcessEnv): string {
  return git(hub, ['for-each-ref', '--format=%(objectname) %(refname)'], env);
}

function fsckClean(hub: string, env: NodeJS.ProcessEnv): void {
  const r = spawnSync('git', ['fsck', '--strict', '--no-dangling'], { cwd: hub, env, encoding: 'utf8' });
  expect(r.stderr + r.stdout).toBe('');
  expect(r.status).toBe(0);
}

function looseCount(hub: string): number {
  let n = 0;
  for (const d of readdirSync(join(hub, 'objects'))) if (/^[0-9a-f]{2}$/.test(d)) n += readdirSync(join(hub, 'objects', d)).length;
  return n;
}

/** Change the work tree at random: files added, rewritten, deleted, made executable or links, in nested directories. */
function mutate(dir: string, r: ReturnType<typeof rng>): void {
  const edits = 1 + r.int(6);
  for (let i = 0; i < edits; i++) {
    const depth = r.int(3);
    const parts = Array.from({ length: depth + 1 }, () => r.pick(NAMES));
    const file = join(dir, ...parts);
    const kind = r.int(10);
    try {
      if (kind < 2) rmSync(file, { recursive: true, force: true });
      else {
        rmSync(file, { recursive: true, force: true });
        mkdirSync(dirname(file), { recursive: true });
        if (kind === 2) symlinkSync(`../${r.pick(NAMES)}`, file);
        else {
          writeFileSync(file, `${r.int(1000)} ${'x'.repeat(r.int(200))}\n`);
          if (kind === 3) chmodSync(file, 0o755);
        }
      }
    } catch {
      /* a path whose parent is a file: skip this edit */
    }
  }
}

describe('a push to a hub on disk made in-process', () => {
  it('leaves the hub and the tracking refs as git push does, over random commits', async () => {
    const x = rig();
    const r = rng(20261204);
    let inProcess = 0;
    for (let round = 0; round < 24; round++) {
      mutate(x.dir, r);
      const head = x.commit(`round ${round}`);
      const done = await pushToHubInProcess(join(x.dir, '.git'), 'mine', [`${head}:refs/heads/main`], x.read, x.env);
      expect(done, `round ${round}: a fast-forward by one commit to a plain bare hub is done in-process`).not.toBeNull();
      inProcess++;
      expect(done!.refs).toEqual([{ flag: ' ', from: head, to: 'refs/heads/main', summary: expect.stringMatching(/^[0-9a-f]{7}\.\.[0-9a-f]{7}$/) }]);
      expect(done!.tracking).toEqual(new Map([['refs/remotes/mine/main', head]]));
      git(x.dir, ['push', '-q', 'theirs', `${head}:refs/heads/main`], x.env);
      expect(refsOf(x.mine, x.env)).toBe(refsOf(x.theirs, x.env));
      // git's push moves the tracking ref of the remote it pushed to: the same name under theirs
      expect(git(x.dir, ['rev-parse', 'refs/remotes/theirs/main'], x.env).trim()).toBe(head);
      fsckClean(x.mine, x.env);
    }
    expect(inProcess).toBe(24);
    // every object git sent is in the in-process hub, and it holds no more than a few extra (a blob git found elsewhere in history)
    const objs = (hub: string): string[] => git(hub, ['rev-list', '--objects', '--all'], x.env).split('\n').map((l) => l.slice(0, 40)).filter(Boolean).sort();
    expect(objs(x.mine)).toEqual(objs(x.theirs));
  });

  it('pushes a heartbeat (a forced root commit on its own ref) beside the branch', async () => {
    const x = rig();
    writeFileSync(join(x.dir, 'log.md'), 'entry\n');
    const head = x.commit('work');
    const emptyTree = git(x.dir, ['hash-object', '-t', 'tree', '-w', '--stdin'], { ...x.env }).trim();
    const beat = (n: number): string => git(x.dir, ['commit-tree', emptyTree, '-m', `heartbeat ${n}`], x.env).trim();
    const hb1 = beat(1);
    const done = await pushToHubInProcess(join(x.dir, '.git'), 'mine', [`${head}:refs/heads/main`, `+${hb1}:refs/agentgit/instances/i1`], x.read, x.env);
    expect(done?.refs.map((p) => p.flag)).toEqual([' ', '*']);
    // a later heartbeat replaces it (forced), the branch is already there
    const hb2 = beat(2);
    const again = await pushToHubInProcess(join(x.dir, '.git'), 'mine', [`${head}:refs/heads/main`, `+${hb2}:refs/agentgit/instances/i1`], x.read, x.env);
    expect(again?.refs.map((p) => p.flag)).toEqual(['=', '+']);
    git(x.dir, ['push', '-q', 'theirs', `${head}:refs/heads/main`, `+${hb1}:refs/agentgit/instances/i1`], x.env);
    git(x.dir, ['push', '-q', 'theirs', `${head}:refs/heads/main`, `+${hb2}:refs/agentgit/instances/i1`], x.env);
    expect(refsOf(x.mine, x.env)).toBe(refsOf(x.theirs, x.env));
    fsckClean(x.mine, x.env);
  });

  it('leaves to git, writing nothing, every push git would do more with', async () => {
    const cases: Array<[string, (x: Rig) => string[] | void]> = [
      ['a pre-receive hook', (x) => writeFileSync(join(x.mine, 'hooks', 'pre-receive'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })],
      ['a hook that is not executable', (x) => writeFileSync(join(x.mine, 'hooks', 'post-receive'), '#!/bin/sh\n')],
      ['receive.denyNonFastForwards', (x) => void git(x.mine, ['config', 'receive.denyNonFastForwards', 'true'], x.env)],
      ['receive.fsckObjects', (x) => void git(x.mine, ['config', 'receive.fsckObjects', 'true'], x.env)],
      ['transfer.unpackLimit', (x) => void git(x.mine, ['config', 'transfer.unpackLimit', '1'], x.env)],
      ['core.hooksPath', (x) => void git(x.mine, ['config', 'core.hooksPath', '/tmp'], x.env)],
      ['core.logAllRefUpdates on the hub', (x) => void git(x.mine, ['config', 'core.logAllRefUpdates', 'true'], x.env)],
      ['core.sharedRepository', (x) => void git(x.mine, ['config', 'core.sharedRepository', 'group'], x.env)],
      ['an include in the hub config', (x) => void git(x.mine, ['config', 'include.path', '/dev/null'], x.env)],
      ['a reflog on the hub', (x) => mkdirSync(join(x.mine, 'logs', 'refs', 'heads'), { recursive: true })],
      ['a shallow hub', (x) => writeFileSync(join(x.mine, 'shallow'), `${git(x.dir, ['rev-parse', 'HEAD~1'], x.env)}`)],
      ['a hub whose HEAD hangs (a FIFO, as a stalled filesystem)', (x) => void spawnSync('sh', ['-c', 'mv HEAD HEAD.real && mkfifo HEAD'], { cwd: x.mine })],
      ['a hub whose branch ref hangs (a FIFO)', (x) => void spawnSync('sh', ['-c', 'mv refs/heads/main main.real && mkfifo refs/heads/main'], { cwd: x.mine })],
      ['a non-bare hub', (x) => void git(x.mine, ['config', 'core.bare', 'false'], x.env)],
      ['a pushurl', (x) => void git(x.dir, ['config', 'remote.mine.pushurl', x.theirs], x.env)],
      ['a receivepack', (x) => void git(x.dir, ['config', 'remote.mine.receivepack', 'git receive-pack'], x.env)],
      ['URL rewriting', (x) => void git(x.dir, ['config', `url.${x.theirs}.pushInsteadOf`, x.mine], x.env)],
      ['a negative fetch refspec', (x) => void git(x.dir, ['config', '--add', 'remote.mine.fetch', '^refs/heads/other'], x.env)],
      ['push.followTags', (x) => void git(x.dir, ['config', 'push.followTags', 'true'], x.env)],
      ['AGENTGIT_HUB_PUSH=git', (x) => void (x.env.AGENTGIT_HUB_PUSH = 'git')],
      ['GIT_NAMESPACE', (x) => void (x.env.GIT_NAMESPACE = 'ns')],
      ['two URLs (git pushes to each)', (x) => void git(x.dir, ['config', '--add', 'remote.mine.url', x.theirs], x.env)],
      ['a worktree of the hub (git refuses to move a branch checked out there)', (x) => void git(x.mine, ['worktree', 'add', '-q', join(dirname(x.mine), 'wt'), 'main'], x.env)],
      ['core.fsync on the hub', (x) => void git(x.mine, ['config', 'core.fsync', 'reference'], x.env)],
      [
        'a reflog of HEAD only on the hub',
        (x) => {
          mkdirSync(join(x.mine, 'logs'), { recursive: true });
          writeFileSync(join(x.mine, 'logs', 'HEAD'), '');
        },
      ],
      ['submodule.recurse', (x) => void git(x.dir, ['config', 'submodule.recurse', 'true'], x.env)],
      [
        'a symbolic ref on the hub (git moves its target)',
        (x) => {
          writeFileSync(join(x.mine, 'refs', 'heads', 'alias'), 'ref: refs/heads/main\n');
          return [`${git(x.dir, ['rev-parse', 'HEAD'], x.env).trim()}:refs/heads/alias`];
        },
      ],
      [
        'a new ref under a loose one on the hub',
        (x) => {
          git(x.mine, ['update-ref', 'refs/agentgit/instances/x', git(x.mine, ['rev-parse', 'main'], x.env).trim()], x.env);
          const empty = git(x.dir, ['hash-object', '-t', 'tree', '-w', '--stdin'], x.env).trim();
          return [`+${git(x.dir, ['commit-tree', empty, '-m', 'hb'], x.env).trim()}:refs/agentgit/instances/x/y`];
        },
      ],
      [
        'a new ref under a packed one on the hub',
        (x) => {
          git(x.mine, ['update-ref', 'refs/agentgit/instances/x', git(x.mine, ['rev-parse', 'main'], x.env).trim()], x.env);
          git(x.mine, ['pack-refs', '--all'], x.env);
          const empty = git(x.dir, ['hash-object', '-t', 'tree', '-w', '--stdin'], x.env).trim();
          return [`+${git(x.dir, ['commit-tree', empty, '-m', 'hb'], x.env).trim()}:refs/agentgit/instances/x/y`];
        },
      ],
      [
        'housekeeping due on the hub',
        (x) => {
          mkdirSync(join(x.mine, 'objects', '17'), { recursive: true });
          for (let i = 0; i < 28; i++) writeFileSync(join(x.mine, 'objects', '17', i.toString(16).padStart(38, '0')), '');
        },
      ],
      [
        'a merge commit',
        (x) => {
          git(x.dir, ['checkout', '-q', '-b', 'side', 'HEAD~1'], x.env);
          writeFileSync(join(x.dir, 'side'), 's\n');
          x.commit('side');
          git(x.dir, ['checkout', '-q', 'main'], x.env);
          git(x.dir, ['merge', '-q', '--no-edit', 'side'], x.env);
          return [`${git(x.dir, ['rev-parse', 'HEAD'], x.env).trim()}:refs/heads/main`];
        },
      ],
      ['two commits ahead', (x) => [`${x.commit('again')}:refs/heads/main`]],
      ['a branch the hub does not have', (x) => [`${git(x.dir, ['rev-parse', 'HEAD'], x.env).trim()}:refs/heads/other`]],
      ['a forced push of a commit with a parent', (x) => [`+${git(x.dir, ['rev-parse', 'HEAD'], x.env).trim()}:refs/heads/main`]],
      ['a refspec by name', () => ['HEAD:refs/heads/main']],
      ['a remote given as a path', () => ['-']],
    ];
    for (const [what, setUp] of cases) {
      const x = rig();
      writeFileSync(join(x.dir, 'README'), `${what}\n`);
      const head = x.commit(what);
      const specs = setUp(x) ?? [`${head}:refs/heads/main`];
      const remote = specs[0] === '-' ? x.mine : 'mine';
      const hangs = /hangs/.test(what);
      const before = hangs ? '' : refsOf(x.mine, x.env);
      const loose = looseCount(x.mine);
      const done = await pushToHubInProcess(join(x.dir, '.git'), remote, specs[0] === '-' ? [`${head}:refs/heads/main`] : specs, x.read, x.env);
      expect(done, what).toBeNull();
      if (!hangs) expect(refsOf(x.mine, x.env), what).toBe(before);
      expect(looseCount(x.mine), what).toBe(loose);
    }
  });

  it('leaves a held ref lock to git, fresh or old, and never removes it', async () => {
    const x = rig();
    writeFileSync(join(x.dir, 'README'), 'one\n');
    const head = x.commit('one');
    const lock = join(x.mine, 'refs', 'heads', 'main.lock');
    writeFileSync(lock, '');
    const first = git(x.dir, ['rev-parse', 'HEAD~1'], x.env).trim();
    for (const ageMin of [0, 11]) {
      const t = (Date.now() - ageMin * 60_000) / 1000;
      utimesSync(lock, t, t);
      // git's push waits core.filesRefLockTimeout for it, then refuses: that is git's to say
      expect(await pushToHubInProcess(join(x.dir, '.git'), 'mine', [`${head}:refs/heads/main`], x.read, x.env), `${ageMin} min`).toBeNull();
      expect(existsSync(lock)).toBe(true);
      expect(git(x.mine, ['rev-parse', 'refs/heads/main'], x.env).trim()).toBe(first);
    }
  });

  it('races git push to the same branch: exactly one of them wins, and only the winner says so', async () => {
    const x = rig();
    const other = join(dirname(x.dir), 'other');
    git(dirname(x.dir), ['clone', '-q', x.mine, other], x.env);
    git(other, ['config', 'user.name', 'O'], x.env);
    git(other, ['config', 'user.email', 'o@example.org'], x.env);
    const tally = { ours: 0, git: 0, neither: 0 };
    for (let i = 0; i < 16; i++) {
      // both start from the hub's head
      git(x.dir, ['fetch', '-q', 'mine'], x.env);
      git(x.dir, ['reset', '-q', '--hard', 'mine/main'], x.env);
      git(other, ['fetch', '-q', 'origin'], x.env);
      git(other, ['reset', '-q', '--hard', 'origin/main'], x.env);
      writeFileSync(join(x.dir, `mine-${i}`), `${i}\n`);
      const ours = x.commit(`ours ${i}`);
      writeFileSync(join(other, `theirs-${i}`), `${i}\n`);
      git(other, ['add', '-A'], x.env);
      git(other, ['commit', '-q', '-m', `theirs ${i}`], x.env);
      const theirs = git(other, ['rev-parse', 'HEAD'], x.env).trim();
      const gitPush = new Promise<number>((res) => spawn('git', ['push', '-q', 'origin', 'HEAD:refs/heads/main'], { cwd: other, env: x.env, stdio: 'ignore' }).on('close', (c) => res(c ?? -1)));
      await new Promise((r) => setTimeout(r, i * 8)); // vary who comes first: git's push takes tens of ms to reach the hub
      const done = await pushToHubInProcess(join(x.dir, '.git'), 'mine', [`${ours}:refs/heads/main`], x.read, x.env);
      const gitWon = (await gitPush) === 0;
      const weWon = done !== null && done.refs[0]?.flag === ' ';
      const hubHead = git(x.mine, ['rev-parse', 'refs/heads/main'], x.env).trim();
      expect([weWon, gitWon], `round ${i}`).not.toEqual([true, true]);
      expect(hubHead, `round ${i}`).toBe(weWon ? ours : gitWon ? theirs : hubHead);
      tally[weWon ? 'ours' : gitWon ? 'git' : 'neither']++;
      fsckClean(x.mine, x.env);
    }
    // both orders happened (else this raced nothing)
    expect(tally.ours, JSON.stringify(tally)).toBeGreaterThan(0);
    expect(tally.git, JSON.stringify(tally)).toBeGreaterThan(0);
  });

  it('hands over a damaged local object to git instead of copying it', async () => {
    const x = rig();
    writeFileSync(join(x.dir, 'data'), 'payload\n');
    const head = x.commit('data');
    const blob = git(x.dir, ['rev-parse', `${head}:data`], x.env).trim();
    // a loose object whose content is another's (a bit flip on disk), and one read through git that lies alike
    const file = join(x.dir, '.git', 'objects', blob.slice(0, 2), blob.slice(2));
    const good = readFileSync(file);
    chmodSync(file, 0o644);
    writeFileSync(file, deflateSync(Buffer.from('blob 15\0something else\n')));
    const before = looseCount(x.mine);
    expect(await pushToHubInProcess(join(x.dir, '.git'), 'mine', [`${head}:refs/heads/main`], x.read, x.env)).toBeNull();
    writeFileSync(file, good);
    git(x.dir, ['repack', '-q', '-a', '-d'], x.env); // now packed: read through git
    const lying = async (oid: string): Promise<Buffer | null> => (oid === blob ? Buffer.from('something else\n') : x.read(oid));
    expect(await pushToHubInProcess(join(x.dir, '.git'), 'mine', [`${head}:refs/heads/main`], lying, x.env)).toBeNull();
    expect(looseCount(x.mine)).toBe(before);
    // read honestly, the packed objects are written into the hub (no loose file to link)
    const done = await pushToHubInProcess(join(x.dir, '.git'), 'mine', [`${head}:refs/heads/main`], x.read, x.env);
    expect(done?.refs[0]?.flag).toBe(' ');
    fsckClean(x.mine, x.env);
  });

  it('maps a pushed ref to its tracking ref as git does (first matching fetch refspec)', () => {
    expect(trackingRef(['+refs/heads/*:refs/remotes/origin/*'], 'refs/heads/main')).toBe('refs/remotes/origin/main');
    expect(trackingRef(['+refs/heads/*:refs/remotes/origin/*'], 'refs/agentgit/instances/a')).toBeNull();
    expect(trackingRef(['refs/heads/main:refs/remotes/o/m', '+refs/heads/*:refs/remotes/origin/*'], 'refs/heads/main')).toBe('refs/remotes/o/m');
    expect(trackingRef(['+refs/heads/ma*:refs/x/*'], 'refs/heads/main')).toBe('refs/x/in');
    expect(trackingRef([], 'refs/heads/main')).toBeNull();
  });
});
