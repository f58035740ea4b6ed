/** The compare-and-swap push and the lease fetch (src/git/remote-refs.ts) against a real bare hub. */
import { afterAll, describe, expect, it } from 'vitest';
import { fetchRefsInto, pushCompareAndSwap } from '../../src/git/remote-refs.js';
import { Repo } from '../../src/git/repo.js';
import { cleanupTemp, git, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

async function world(): Promise<{ hub: string; repo: Repo; commits: string[] }> {
  const hub = makeBareHub();
  const dir = tempDir();
  const env = { ...testEnv(dir), GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
  git(dir, ['init', '-q', '-b', 'main'], env);
  const tree = git(dir, ['hash-object', '-t', 'tree', '-w', '--stdin'], env).trim();
  // parentless commits, as lease commits are: every update is a non-fast-forward
  const commits = ['1', '2', '3'].map((m) => git(dir, ['commit-tree', tree, '-m', m], env).trim());
  const repo = await Repo.openAt(dir);
  return { hub, repo: repo!, commits };
}

describe('pushCompareAndSwap', () => {
  it('creates only when absent, replaces only the expected value, and says rejected otherwise', async () => {
    const { hub, repo, commits } = await world();
    const [c1, c2, c3] = commits as [string, string, string];
    const ref = 'refs/agentgit/leases/job';
    const o = { timeoutMs: 30_000 };
    expect(await pushCompareAndSwap(repo, hub, c1, ref, null, o)).toBe('ok');
    expect(await pushCompareAndSwap(repo, hub, c2, ref, null, o)).toBe('rejected'); // exists now
    expect(await pushCompareAndSwap(repo, hub, c2, ref, c3, o)).toBe('rejected'); // stale expectation
    expect(git(hub, ['rev-parse', ref]).trim()).toBe(c1);
    expect(await pushCompareAndSwap(repo, hub, c2, ref, c1, o)).toBe('ok'); // non-fast-forward, as expected
    expect(git(hub, ['rev-parse', ref]).trim()).toBe(c2);
    // two takers expecting the same value: exactly one wins
    const both = await Promise.all([pushCompareAndSwap(repo, hub, c3, ref, c2, o), pushCompareAndSwap(repo, hub, c1, ref, c2, o)]);
    expect(both.filter((r) => r === 'ok')).toHaveLength(1);
    expect(git(hub, ['rev-parse', ref]).trim()).toBe(both[0] === 'ok' ? c3 : c1);
    repo.close();
  });

  it('a hub that is not there is an error, not a rejection', async () => {
    const { repo, commits } = await world();
    await expect(pushCompareAndSwap(repo, `${tempDir()}/gone.git`, commits[0]!, 'refs/agentgit/leases/x', null, { timeoutMs: 30_000 })).rejects.toThrow(/git push failed/);
    repo.close();
  });
});

describe('fetchRefsInto', () => {
  it('copies one ref into a private namespace, and says when the hub has none', async () => {
    const { hub, repo, commits } = await world();
    const o = { timeoutMs: 30_000 };
    expect(await fetchRefsInto(repo, hub, 'refs/agentgit/leases/job', 'refs/agentgit/hub-leases/job', o)).toBe(false);
    await pushCompareAndSwap(repo, hub, commits[0]!, 'refs/agentgit/leases/job', null, o);
    expect(await fetchRefsInto(repo, hub, 'refs/agentgit/leases/job', 'refs/agentgit/hub-leases/job', o)).toBe(true);
    expect(await repo.revParse('refs/agentgit/hub-leases/job')).toBe(commits[0]);
    git(hub, ['update-ref', '-d', 'refs/agentgit/leases/job']);
    expect(await fetchRefsInto(repo, hub, 'refs/agentgit/leases/job', 'refs/agentgit/hub-leases/job', o)).toBe(false);
    expect(await repo.revParse('refs/agentgit/hub-leases/job')).toBeNull();
    repo.close();
  });
});
