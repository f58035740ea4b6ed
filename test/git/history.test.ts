/**
 * Repo.commitsSince: the commits a hub brings since its last known head,
 * walked in-process. Where it answers, it must equal `git log tip ^stop`
 * (with parents first, as --reverse --topo-order promises); where the walk
 * cannot prove its answer (a path back that misses `stop`, too many
 * commits), it must say null so git answers.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Repo } from '../../src/git/repo.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

describe('commitsSince', () => {
  it('equals git log where it answers, and answers null where a path misses the stop', async () => {
    const env = testEnv(tempDir());
    const dir = join(tempDir(), 'repo');
    git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
    const g = (args: string[]): string => git(dir, ['-c', 'user.name=Ann Author', '-c', 'user.email=a@x', ...args], env).trim();
    const commit = (msg: string): string => {
      g(['commit', '-q', '--allow-empty', '-m', msg]);
      return g(['rev-parse', 'HEAD']);
    };
    const root = commit('root');
    const old = commit('old');
    const base = commit('base');
    // the hub: two commits and a merge of a side branch that forks at `base`
    commit('i1');
    g(['checkout', '-q', '-b', 'side', base]);
    const s1 = commit('s1');
    g(['checkout', '-q', 'main']);
    g(['merge', '-q', '--no-ff', '-m', 'merge side', s1]);
    const tip = commit('i2');
    // a branch that forks below `base` and is merged in: its path back misses `base`
    g(['checkout', '-q', '-b', 'older', old]);
    const o1 = commit('o1');
    g(['checkout', '-q', 'main']);
    g(['merge', '-q', '--no-ff', '-m', 'merge older', o1]);
    const tip2 = g(['rev-parse', 'HEAD']);
    mkdirSync(join(dir, '.git', 'agentgit'), { recursive: true });
    const repo = (await Repo.openAt(dir))!;
    try {
      const got = await repo.commitsSince(tip, base);
      expect(got).not.toBeNull();
      const want = g(['log', '--format=%H', tip, `^${base}`]).split('\n').filter(Boolean);
      expect(got!.map((c) => c.oid).sort()).toEqual([...want].sort());
      // parents come before their children
      const at = new Map(got!.map((c, i) => [c.oid, i]));
      for (const c of got!) for (const p of c.parents) if (at.has(p)) expect(at.get(p)!).toBeLessThan(at.get(c.oid)!);
      expect(got![got!.length - 1]!.oid).toBe(tip);
      expect(new Set(got!.map((c) => c.author))).toEqual(new Set(['Ann Author']));
      for (const c of got!) expect(c.parents.join(' ')).toBe(g(['log', '-1', '--format=%P', c.oid]));
      expect(await repo.commitsSince(base, base)).toEqual([]);
      expect(await repo.commitsSince(tip2, base)).toBeNull(); // o1's path back reaches root without base
      expect(await repo.commitsSince(base, tip)).toBeNull(); // stop is not an ancestor
      expect(await repo.commitsSince(tip, base, 3)).toBeNull(); // over the limit
      expect(await repo.commitsSince(tip, root)).not.toBeNull();
    } finally {
      repo.close();
    }
  });
});
