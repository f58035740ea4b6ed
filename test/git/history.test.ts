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
      const since = async (t: string, stop: string, nearby = 1, limit?: number): Promise<string[] | null> => {
        const r = await repo.commitsSince(t, await repo.ancestorsNear(stop, nearby), limit);
        if (!r) return null;
        // parents come before their children
        const at = new Map(r.commits.map((c, i) => [c.oid, i]));
        for (const c of r.commits) for (const p of c.parents) if (at.has(p)) expect(at.get(p)!).toBeLessThan(at.get(c.oid)!);
        for (const c of r.commits) expect(c.parents.join(' ')).toBe(g(['log', '-1', '--format=%P', c.oid]));
        expect(new Set(r.commits.map((c) => c.author))).toEqual(new Set(r.commits.length ? ['Ann Author'] : []));
        if (r.commits.length) expect(r.commits[r.commits.length - 1]!.oid).toBe(t);
        return r.commits.map((c) => c.oid).sort();
      };
      const log = (t: string, stop: string): string[] => g(['log', '--format=%H', t, `^${stop}`]).split('\n').filter(Boolean).sort();
      expect(await since(tip, base)).toEqual(log(tip, base));
      expect(await since(base, base)).toEqual([]);
      // a merge of a branch that forks below `base`: its path back misses `base`
      expect(await since(tip2, base)).toBeNull(); // ...so with base alone as a stop, git must answer
      expect(await since(tip2, base, 32)).toEqual(log(tip2, base)); // its near ancestors end that path
      expect(await since(base, tip)).toBeNull(); // stop is not an ancestor
      expect(await since(tip, base, 1, 3)).toBeNull(); // over the limit
      expect((await repo.commitsSince(tip, new Set([base])))!.reached).toEqual(new Set([base]));
      expect([...(await repo.ancestorsNear(tip, 3))]).toHaveLength(3);
      expect(await repo.ancestorsNear(root, 10)).toEqual(new Set([root]));
    } finally {
      repo.close();
    }
  });
});
