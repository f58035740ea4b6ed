/**
 * `Repo.readAt(commit, path)` finds `commit:path` through the trees in
 * this process; it must answer exactly as `git cat-file` does. Fuzzed
 * against git on trees git itself would never write but a hub may hold:
 * unsorted entries (git stops early, taking them as sorted), duplicate
 * names, odd but decodable modes (040000, 40755), gitlinks, names around
 * '/', non-ASCII names; paths with trailing slashes, through files,
 * missing, relative. Trees git will not decode are left to git.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Repo } from '../../src/git/repo.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';
import { rng } from '../helpers/rng.js';

afterAll(() => cleanupTemp());

const DIR_MODES = ['40000', '040000', '40755'];
const NAMES = ['a', 'a-b', 'a.b', 'a0', 'ab', 'b', 'memory', 'x y', 'é', 'a:b', 'A', 'z'];

/** Writes objects with git (hash-object --literally: no checks, as a hostile hub's pack would hold). */
function writer(dir: string, env: NodeJS.ProcessEnv) {
  const hashObject = (type: string, body: Buffer): string => {
    const r = spawnSync('git', ['hash-object', '--literally', '-t', type, '-w', '--stdin'], { cwd: dir, env, input: body });
    if (r.status !== 0) throw new Error(r.stderr.toString());
    return r.stdout.toString().trim();
  };
  const tree = (entries: Array<{ mode: string; name: string; oid: string }>): string =>
    hashObject('tree', Buffer.concat(entries.flatMap((e) => [Buffer.from(`${e.mode} `), Buffer.from(e.name, 'utf8'), Buffer.from([0]), Buffer.from(e.oid, 'hex')])));
  const commit = (t: string): string => hashObject('commit', Buffer.from(`tree ${t}\nauthor t <t@t> 1 +0000\ncommitter t <t@t> 1 +0000\n\nx\n`));
  return { hashObject, tree, commit };
}

/** git's answers to `spec`s, one cat-file --batch; null: missing (or ambiguous). */
function gitAnswers(dir: string, env: NodeJS.ProcessEnv, specs: string[]): Array<Buffer | null> {
  const r = spawnSync('git', ['cat-file', '--batch'], { cwd: dir, env, input: specs.map((s) => s + '\n').join(''), maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`git cat-file --batch: ${r.stderr.toString()}`);
  const out = r.stdout;
  const answers: Array<Buffer | null> = [];
  let i = 0;
  for (let k = 0; k < specs.length; k++) {
    const nl = out.indexOf(10, i);
    const header = out.toString('utf8', i, nl);
    if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
      answers.push(null);
      i = nl + 1;
      continue;
    }
    const size = Number(header.split(' ')[2]);
    answers.push(Buffer.from(out.subarray(nl + 1, nl + 1 + size)));
    i = nl + 1 + size + 1;
  }
  return answers;
}

function freshRepo(): { dir: string; env: NodeJS.ProcessEnv; w: ReturnType<typeof writer> } {
  const env = testEnv(tempDir());
  const dir = join(tempDir(), 'repo');
  git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
  mkdirSync(join(dir, '.git', 'agentgit'), { recursive: true });
  return { dir, env, w: writer(dir, env) };
}

describe('readAt: COMMIT:PATH found in-process', () => {
  it('answers as git cat-file on random (unsorted, duplicated, odd-mode) trees and paths', async () => {
    const { dir, env, w } = freshRepo();
    const repo = (await Repo.openAt(dir))!;
    try {
      let compared = 0;
      let found = 0;
      let missing = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const r = rng(seed);
        const blobs = Array.from({ length: 4 }, (_, i) => w.hashObject('blob', Buffer.from(`blob ${seed} ${i}\n`)));
        // a random tree, depth ≤ 3; entries sorted or not, names repeated at times
        const real: string[] = []; // paths the tree holds (some found, some hidden by git's early stop)
        const makeTree = (depth: number, at = ''): string => {
          const n = 1 + r.int(6);
          const entries: Array<{ mode: string; name: string; oid: string }> = [];
          for (let i = 0; i < n; i++) {
            const name = r.pick(NAMES);
            const roll = r.int(10);
            real.push(at + name);
            if (roll < 4 && depth < 3) entries.push({ mode: r.pick([...DIR_MODES, '40000']), name, oid: makeTree(depth + 1, `${at}${name}/`) });
            else if (roll < 5) entries.push({ mode: '160000', name, oid: blobs[0]!.replace(/^./, 'f') }); // a gitlink: a commit not here
            else entries.push({ mode: r.pick(['100644', '100755', '120000', '100664']), name, oid: r.pick(blobs) });
          }
          const key = (e: { mode: string; name: string }): Buffer => Buffer.from(DIR_MODES.includes(e.mode) ? `${e.name}/` : e.name);
          if (r.int(3) > 0) entries.sort((a, b) => Buffer.compare(key(a), key(b))); // git's order, else as made
          return w.tree(entries);
        };
        const commit = w.commit(makeTree(0));
        const paths: string[] = [];
        for (let i = 0; i < 30; i++) {
          let p = r.int(2) ? r.pick(real) : Array.from({ length: 1 + r.int(3) }, () => r.pick(NAMES)).join('/');
          if (r.int(6) === 0) p += '/';
          paths.push(p);
        }
        const theirs = gitAnswers(dir, env, paths.map((p) => `${commit}:${p}`));
        const ours = await Promise.all(paths.map((p) => repo.readAt(commit, p)));
        for (let i = 0; i < paths.length; i++) {
          expect(ours[i]?.toString('hex') ?? null, `seed ${seed}: ${commit}:${paths[i]}`).toBe(theirs[i]?.toString('hex') ?? null);
          compared++;
          if (theirs[i]) found++;
          else missing++;
        }
      }
      // the cases are not all of one kind
      expect(compared).toBe(40 * 30);
      expect(found).toBeGreaterThan(100);
      expect(missing).toBeGreaterThan(100);
    } finally {
      await repo.close();
    }
  });

  it('leaves to git what it does not decode, and relative or odd paths', async () => {
    const { dir, env, w } = freshRepo();
    const blob = w.hashObject('blob', Buffer.from('hello\n'));
    const sub = w.tree([{ mode: '100644', name: 'f', oid: blob }]);
    const good = w.commit(w.tree([{ mode: '40000', name: 'd', oid: sub }, { mode: '100644', name: 'top', oid: blob }]));
    // a tree entry naming a blob as a directory: git reads it as a tree and finds nothing
    const lying = w.commit(w.tree([{ mode: '40000', name: 'd', oid: blob }]));
    const repo = (await Repo.openAt(dir))!;
    try {
      const sameAsGit = async (cases: ReadonlyArray<readonly [string, string]>): Promise<void> => {
        const theirs = gitAnswers(dir, env, cases.map(([commit, path]) => `${commit}:${path}`));
        for (const [i, [commit, path]] of cases.entries()) expect((await repo.readAt(commit, path))?.toString('hex') ?? null, `${commit}:${path}`).toBe(theirs[i]?.toString('hex') ?? null);
      };
      await sameAsGit([
        [good, 'd/f'],
        [good, 'd'],
        [good, 'd/'],
        [good, 'top'],
        [good, 'top/'],
        [good, 'top/x'],
        [good, './top'],
        [good, 'd//f'],
        [good, '/top'],
        [lying, 'd/f'],
        [lying, 'd'],
      ]);
      // objects that are not what the entry or the caller says (checked against their ids, else left to git):
      // a blob whose bytes parse as a tree, under a directory entry; a blob laid out as a commit, given as the commit;
      // a commit and a tag under directory entries (git peels them to their trees)
      const asTree = w.hashObject('blob', Buffer.concat([Buffer.from('100644 f\0'), Buffer.from(blob, 'hex')]));
      const asCommit = w.hashObject('blob', Buffer.from(`tree ${sub}\nauthor t <t@t> 1 +0000\ncommitter t <t@t> 1 +0000\n\nx\n`));
      const subCommit = w.commit(sub);
      const tag = w.hashObject('tag', Buffer.from(`object ${sub}\ntype tree\ntag t\ntagger t <t@t> 1 +0000\n\nt\n`));
      const disguised = w.commit(
        w.tree([
          { mode: '40000', name: 'blob-tree', oid: asTree },
          { mode: '40000', name: 'commit', oid: subCommit },
          { mode: '40000', name: 'tag', oid: tag },
        ]),
      );
      await sameAsGit([
        [disguised, 'blob-tree/f'],
        [disguised, 'commit/f'],
        [disguised, 'tag/f'],
        [asCommit, 'f'],
        [blob, 'f'],
      ]);
      expect(await repo.readAt(disguised, 'blob-tree/f')).toBeNull(); // git does not take a blob for a tree
      expect((await repo.readAt(disguised, 'commit/f'))?.toString()).toBe('hello\n'); // but peels a commit to its tree
      // a name other than an oid: git resolves it
      git(dir, ['update-ref', 'refs/heads/main', good], env);
      expect((await repo.readAt('main', 'd/f'))?.toString()).toBe('hello\n');
    } finally {
      await repo.close();
    }
  });

  it('on trees git will not decode (an empty name, a long or non-octal mode), answers or fails as git does', async () => {
    const { dir, env, w } = freshRepo();
    const blob = w.hashObject('blob', Buffer.from('hello\n'));
    for (const bad of [
      { mode: '100644', name: '' },
      { mode: '1006440', name: 'f' },
      { mode: '100648', name: 'f' },
      { mode: '10064x', name: 'f' },
    ]) {
      const commit = w.commit(w.tree([{ mode: '100644', name: 'a', oid: blob }, { ...bad, oid: blob }, { mode: '100644', name: 'z', oid: blob }]));
      const git = spawnSync('git', ['cat-file', '--batch'], { cwd: dir, env, input: `${commit}:z\n` });
      const repo = (await Repo.openAt(dir))!;
      try {
        const ours = repo.readAt(commit, 'z');
        if (git.status !== 0 || git.stdout.length === 0) await expect(ours, `${bad.mode} ${bad.name}`).rejects.toThrow();
        else expect((await ours)?.toString() ?? null, `${bad.mode} ${bad.name}`).toBe(gitAnswers(dir, env, [`${commit}:z`])[0]?.toString() ?? null);
      } finally {
        await repo.close();
      }
    }
  });
});
