/**
 * The commit header parser against git itself: odd commit objects written
 * with `git hash-object --literally`, read by parseCommitHeader and by
 * `git log`. Whenever the parser answers, git must read the same parents,
 * tree, author and committer; where git could differ the parser answers
 * null, and the in-process walks then refuse to decide (git does).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommitHeader } from '../../src/git/objects.js';
import { Repo } from '../../src/git/repo.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

function hashObject(repo: string, env: NodeJS.ProcessEnv, body: Buffer): string {
  const r = spawnSync('git', ['hash-object', '-t', 'commit', '--literally', '-w', '--stdin'], { cwd: repo, env, input: body });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return r.stdout.toString().trim();
}

/** What git reads: parents, tree, author and committer names; null when git refuses the object. */
function gitReads(repo: string, env: NodeJS.ProcessEnv, oid: string): { parents: string[]; tree: string; author: string; committer: string } | null {
  const r = spawnSync('git', ['log', '-1', '--format=%P%x00%T%x00%an%x00%cn', oid], { cwd: repo, env });
  if (r.status !== 0) return null;
  const [p, t, a, c] = r.stdout.toString('utf8').replace(/\n$/, '').split('\0');
  return { parents: p ? p.split(' ') : [], tree: t!, author: a!, committer: c! };
}

/** A small deterministic generator (results never depend on the clock). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('commit headers: one parser, exactly git', () => {
  it('whenever parseCommitHeader answers, git reads the same parents, tree, author and committer (about 120 odd objects)', () => {
    const dir = tempDir();
    const env = testEnv(dir);
    const repo = join(dir, 'r');
    git(dir, ['init', '-q', '-b', 'main', repo], env);
    const tree = git(repo, ['hash-object', '-t', 'tree', '-w', '/dev/null'], env).trim();
    const p1 = git(repo, ['-c', 'user.name=kevin/a', '-c', 'user.email=a@x', 'commit-tree', tree, '-m', 'one'], env).trim();
    const p2 = git(repo, ['-c', 'user.name=kevin/b', '-c', 'user.email=b@x', 'commit-tree', tree, '-p', p1, '-m', 'two'], env).trim();
    const sig = ['gpgsig -----BEGIN SSH SIGNATURE-----', ' U1NIU0lHAAAAAQ==', ' -----END SSH SIGNATURE-----'];
    const author = 'author kevin/a <a@x> 1764028800 +0000';
    const committer = 'committer kevin/a <a@x> 1764028800 +0000';
    type Lines = string[];
    const base = (parents: string[]): Lines => [`tree ${tree}`, ...parents.map((p) => `parent ${p}`), author, committer];
    const mutations: Array<[string, (l: Lines) => Lines]> = [
      ['none', (l) => l],
      ['uppercase parent', (l) => l.map((x) => (x.startsWith('parent ') ? x.toUpperCase().replace('PARENT', 'parent') : x))],
      ['mixed-case parent', (l) => l.map((x) => (x.startsWith('parent ') ? `parent ${x.slice(7, 20).toUpperCase()}${x.slice(20)}` : x))],
      ['parent after committer', (l) => [...l, `parent ${p2}`]],
      ['parent after author', (l) => [...l.slice(0, -1), `parent ${p2}`, l[l.length - 1]!]],
      ['parent before tree', (l) => [`parent ${p2}`, ...l]],
      ['duplicate tree', (l) => [l[0]!, ...l]],
      ['tree after parents', (l) => [...l.slice(0, -2), `tree ${tree}`, ...l.slice(-2)]],
      ['missing author', (l) => l.filter((x) => !x.startsWith('author '))],
      ['missing committer', (l) => l.filter((x) => !x.startsWith('committer '))],
      ['author and committer swapped', (l) => [...l.slice(0, -2), l[l.length - 1]!, l[l.length - 2]!]],
      ['second author after committer', (l) => [...l, 'author kevin/b <b@x> 1764028800 +0000']],
      ['second committer', (l) => [...l, 'committer kevin/b <b@x> 1764028800 +0000']],
      ['trailing space on tree', (l) => [`${l[0]} `, ...l.slice(1)]],
      ['trailing space on parent', (l) => l.map((x) => (x.startsWith('parent ') ? `${x} ` : x))],
      ['double space after parent', (l) => l.map((x) => (x.startsWith('parent ') ? x.replace('parent ', 'parent  ') : x))],
      ['short parent id', (l) => l.map((x) => (x.startsWith('parent ') ? x.slice(0, -1) : x))],
      ['long parent id', (l) => l.map((x) => (x.startsWith('parent ') ? `${x}0` : x))],
      ['uppercase tree', (l) => [l[0]!.replace(/[a-f]/g, (c) => c.toUpperCase()).replace('TREE', 'tree'), ...l.slice(1)]],
      ['gpgsig after committer', (l) => [...l, ...sig]],
      ['gpgsig between tree and parents', (l) => [l[0]!, ...sig, ...l.slice(1)]],
      ['gpgsig before committer', (l) => [...l.slice(0, -1), ...sig, l[l.length - 1]!]],
      ['gpgsig-sha256 and gpgsig', (l) => [...l, ...sig, ...sig.map((x) => x.replace('gpgsig ', 'gpgsig-sha256 '))]],
      ['two gpgsig', (l) => [...l, ...sig, ...sig]],
      ['continuation line naming a parent', (l) => [...l, sig[0]!, ` parent ${p2}`, ...sig.slice(1)]],
      ['encoding header', (l) => [...l, 'encoding ISO-8859-1']],
      ['mergetag', (l) => [...l, `mergetag object ${p1}`, ' type commit', ' tag v1']],
      ['author name with trailing blanks', (l) => l.map((x) => (x.startsWith('author ') ? 'author kevin/a \t <a@x> 1764028800 +0000' : x))],
      ['author without <', (l) => l.map((x) => (x.startsWith('author ') ? 'author kevin/a a@x 1764028800 +0000' : x))],
      ['utf-8 author', (l) => l.map((x) => (x.startsWith('author ') ? 'author kévin/ä <a@x> 1764028800 +0000' : x))],
      ['unknown header', (l) => [...l, 'x-agentgit yes']],
      ['header word without space', (l) => [...l, 'parent']],
    ];
    const endings: Array<[string, (lines: Lines) => Buffer]> = [
      ['lf', (l) => Buffer.from(`${l.join('\n')}\n\nmessage\n`)],
      ['crlf', (l) => Buffer.from(`${l.join('\r\n')}\r\n\r\nmessage\r\n`)],
      ['no message', (l) => Buffer.from(`${l.join('\n')}\n`)],
      ['nul in header', (l) => Buffer.from(`${l.join('\n')}\0\n\nmessage\n`)],
      ['leading blank line', (l) => Buffer.from(`\n${l.join('\n')}\n\nmessage\n`)],
    ];
    const cases: Array<{ name: string; body: Buffer }> = [];
    for (const parents of [[], [p1], [p1, p2]]) {
      for (const [m, f] of mutations) cases.push({ name: `${parents.length} parents, ${m}`, body: endings[0]![1](f(base(parents))) });
    }
    for (const [e, f] of endings.slice(1)) cases.push({ name: `1 parent, ${e}`, body: f(base([p1])) });
    // random combinations of two or three mutations
    const rnd = prng(11);
    for (let n = 0; n < 30; n++) {
      const parents = [[], [p1], [p1, p2]][Math.floor(rnd() * 3)]!;
      const picks = [0, 1, 2].slice(0, 2 + Math.floor(rnd() * 2)).map(() => mutations[Math.floor(rnd() * mutations.length)]!);
      const ending = endings[rnd() < 0.8 ? 0 : Math.floor(rnd() * endings.length)]!;
      cases.push({ name: `combo ${picks.map((p) => p[0]).join(' + ')} (${ending[0]})`, body: ending[1](picks.reduce((l, [, f]) => f(l), base(parents))) });
    }
    expect(cases.length).toBeGreaterThan(100);
    let answered = 0;
    let refused = 0;
    for (const c of cases) {
      const oid = hashObject(repo, env, c.body);
      const mine = parseCommitHeader(c.body);
      const theirs = gitReads(repo, env, oid);
      if (mine === null) {
        refused++;
        continue;
      }
      answered++;
      expect(theirs, `${c.name}: parsed in-process but git refuses it`).not.toBeNull();
      expect({ parents: mine.parents, tree: mine.tree, author: mine.author, committer: mine.committer }, c.name).toEqual(theirs);
    }
    // both outcomes are exercised: canonical objects parse, hostile ones are left to git
    expect(answered).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(40);
    for (const [name, ok] of [
      ['uppercase parent', false],
      ['parent after committer', false],
      ['duplicate tree', false],
      ['missing author', false],
      ['none', true],
      ['gpgsig after committer', true],
    ] as const) {
      const f = mutations.find((m) => m[0] === name)![1];
      expect(parseCommitHeader(Buffer.from(`${f(base([p1])).join('\n')}\n\nm\n`)) !== null, name).toBe(ok);
    }
  });

  it('the in-process walk never follows what git would not, nor misses what git follows: an uppercase parent hides nothing', async () => {
    const dir = tempDir();
    const env = testEnv(dir);
    const repo = join(dir, 'r');
    git(dir, ['init', '-q', '-b', 'main', repo], env);
    const tree = git(repo, ['hash-object', '-t', 'tree', '-w', '/dev/null'], env).trim();
    const id = ['-c', 'user.name=kevin/a', '-c', 'user.email=a@x'];
    const base = git(repo, [...id, 'commit-tree', tree, '-m', 'base'], env).trim();
    const hidden = git(repo, [...id, 'commit-tree', tree, '-p', base, '-m', 'unsigned, hidden'], env).trim();
    const stamp = 'kevin/a <a@x> 1764028800 +0000';
    for (const [name, body] of [
      ['uppercase', `tree ${tree}\nparent ${base}\nparent ${hidden.toUpperCase()}\nauthor ${stamp}\ncommitter ${stamp}\n\nmerge\n`],
      ['after committer', `tree ${tree}\nparent ${base}\nauthor ${stamp}\ncommitter ${stamp}\nparent ${hidden}\n\nmerge\n`],
    ] as const) {
      const tip = hashObject(repo, env, Buffer.from(body));
      const r = await Repo.openAt(repo);
      try {
        const walk = await r!.commitsSince(tip, new Set([base]));
        // git's own list: the uppercase parent is followed by git, the late one is not
        const gitList = git(repo, ['rev-list', tip, `^${base}`], env).trim().split('\n');
        expect(gitList.includes(hidden), name).toBe(name === 'uppercase');
        expect(walk, `${name}: the walk must not decide`).toBeNull();
        expect(await r!.commitInfo(tip)).toBeNull();
      } finally {
        r!.close();
      }
    }
  });
});
