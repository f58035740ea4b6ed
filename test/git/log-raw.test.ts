/**
 * The one reader of `git log --raw` (Repo.logWithChanges, parseLogRaw):
 * every commit's fields and changes as `git diff-tree` gives them, whatever
 * the subject, author or path holds (CR, CRLF content, the %x01 byte the
 * format separates commits with, newlines in paths), empty commits, merges
 * (`-m --first-parent`), SHA-1 and SHA-256 ids.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRawDiff, Repo } from '../../src/git/repo.js';
import { withInstanceTrailer, INSTANCE_TRAILER } from '../../src/git/trailers.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const env = testEnv(tempDir(), { GIT_AUTHOR_NAME: 'kevin/a\r', GIT_AUTHOR_EMAIL: 'a@example.org', GIT_COMMITTER_NAME: 'kevin/a', GIT_COMMITTER_EMAIL: 'a@example.org' });

function g(dir: string, args: string[], input?: string): string {
  const r = spawnSync('git', args, { cwd: dir, env, input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function history(...initArgs: string[]): string {
  const dir = join(tempDir(), 'repo');
  git(tempDir(), ['init', '-q', '-b', 'main', ...initArgs, dir], env);
  const put = (p: string, c: string): void => {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), c);
  };
  put('memory/day.md', '- one\r\n- two\r\n');
  put('line\nbreak.md', 'x\n');
  put('a b\r.md', 'y\n');
  g(dir, ['add', '-A']);
  g(dir, ['commit', '-q', '-F', '-'], withInstanceTrailer('first \x01 with the separator\r', 'a'));
  g(dir, ['commit', '-q', '--allow-empty', '-F', '-'], 'empty\r\n\r\nbody\r\n');
  g(dir, ['checkout', '-q', '-b', 'side']);
  put('memory/day.md', '- one\r\n- two\r\n- three\r\n');
  g(dir, ['commit', '-q', '-am', 'side']);
  g(dir, ['checkout', '-q', 'main']);
  g(dir, ['rm', '-q', 'a b\r.md']);
  g(dir, ['commit', '-q', '-m', '\x01']);
  g(dir, ['merge', '-q', '--no-edit', 'side']);
  return dir;
}

describe('git log --raw, one parser', () => {
  for (const format of ['sha1', 'sha256']) {
    it(`every commit's fields and changes equal git's (${format})`, async () => {
      const dir = history(`--object-format=${format}`);
      const repo = (await Repo.openAt(dir))!;
      try {
        const oids = g(dir, ['rev-list', '--first-parent', 'HEAD']).trim().split('\n');
        const log = await repo.logWithChanges({ fields: ['%H', '%an', '%s', `%(trailers:key=${INSTANCE_TRAILER},valueonly,separator=%x2C)`], firstParent: true, include: ['HEAD'] });
        expect(log.map((c) => c.fields[0])).toEqual(oids);
        for (const c of log) {
          const [oid, author, subject, trailer] = c.fields;
          expect(oid).toHaveLength(format === 'sha1' ? 40 : 64);
          const one = (f: string): string => /^<([\s\S]*)>\n$/.exec(g(dir, ['log', '-1', `--format=<${f}>`, oid!]))![1]!;
          expect(author).toBe(one('%an'));
          expect(subject).toBe(one('%s'));
          expect(trailer).toBe(one(`%(trailers:key=${INSTANCE_TRAILER},valueonly,separator=%x2C)`));
          const parent = g(dir, ['rev-list', '--parents', '-n1', oid!]).trim().split(' ')[1];
          const want = parent ? parseRawDiff(Buffer.from(g(dir, ['diff-tree', '-r', '-z', '--no-renames', parent, oid!]), 'utf8')) : [];
          if (parent) expect(c.changes).toEqual(want);
          else expect(c.changes.map((x) => x.path).sort()).toEqual(['a b\r.md', 'line\nbreak.md', 'memory/day.md']);
          for (const x of c.changes) expect(x.newOid).toHaveLength(oid!.length);
        }
        // the first commit's trailer, the empty commit, the merge's changes against its first parent
        expect(log.at(-1)!.fields[3]).toBe('a');
        expect(log.at(-2)!.changes).toEqual([]);
        expect(log[0]!.changes.map((x) => x.path)).toEqual(['memory/day.md']);
      } finally {
        repo.close();
      }
    });
  }

  it('the instance trailer: one form, which git reads as a trailer', () => {
    expect(withInstanceTrailer('agentgit: 2 files from a\n\n- x\n- y\n\n', 'a')).toBe('agentgit: 2 files from a\n\n- x\n- y\n\nAgentgit-Instance: a\n');
    const parsed = spawnSync('git', ['interpret-trailers', '--parse'], { input: withInstanceTrailer('subject\n\nbody', 'b-1'), encoding: 'utf8' }).stdout;
    expect(parsed).toBe('Agentgit-Instance: b-1\n');
  });
});
