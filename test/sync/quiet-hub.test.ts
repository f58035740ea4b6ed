/**
 * Issue #14, cron mode: `agentgit sync` on a hub on this machine skips its
 * fetch when the hub's branch and every heartbeat on it equal what the last
 * fetch brought (sync/hub-files.ts), and fetches as before as soon as
 * anything there changed: the branch (another instance's entry arrives),
 * or only a heartbeat (the other instance's heartbeat arrives). Refs
 * packed on either side are read as git reads them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, git, Instance, makeBareHub, syncedPair } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';

/** One traced `agentgit sync`; its exit code and how many `git fetch` it ran. */
async function tracedSync(inst: Instance): Promise<{ code: number; fetches: number; stderr: string }> {
  const r = await agentgit(['sync', '-C', inst.dir], { env: { ...inst.env, AGENTGIT_TRACE: '1' } });
  return { code: r.code, fetches: (r.stderr.match(/\] git fetch /g) ?? []).length, stderr: r.stderr };
}

/** Rounds until one fetches nothing (our own heartbeat, pushed by a round, comes back with the next fetch). */
async function settle(inst: Instance): Promise<{ code: number; fetches: number; stderr: string }> {
  let r = await tracedSync(inst);
  for (let i = 0; i < 3 && r.fetches > 0; i++) r = await tracedSync(inst);
  return r;
}

describe('a cron round on a hub on disk', () => {
  const hub = makeBareHub();
  // a founds the hub, b joins it (admitted by a); each has synced once after
  const pair = syncedPair(hub, { [day]: '# log\n' });
  let a: Instance;
  let b: Instance;
  beforeAll(async () => void ({ a, b } = await pair), 120_000);

  it('skips the fetch while nothing on the hub changed, also with packed refs', async () => {
    const r = await settle(a);
    expect(r.code).toBe(0);
    expect(r.fetches, r.stderr).toBe(0);
    git(hub, ['pack-refs', '--all'], a.env);
    a.git(['pack-refs', '--all']);
    const p = await tracedSync(a);
    expect(p.code).toBe(0);
    expect(p.fetches, p.stderr).toBe(0);
  });

  it("fetches when the hub's branch moved: the other instance's entry arrives", async () => {
    await settle(a);
    b.append(day, '\n- from b, while a was idle\n');
    expect((await b.sync()).code).toBe(0);
    const r = await tracedSync(a);
    expect(r.code).toBe(0);
    expect(r.fetches).toBeGreaterThan(0);
    expect(a.read(day)).toContain('- from b, while a was idle');
  });

  it('fetches when only a heartbeat changed on the hub: it arrives', async () => {
    await settle(b);
    await settle(a);
    // b's next round publishes a heartbeat and nothing else
    const state = join(b.dir, '.git', 'agentgit', 'state.json');
    writeFileSync(state, JSON.stringify({ ...(JSON.parse(readFileSync(state, 'utf8')) as object), lastHeartbeatAt: 0 }));
    const hubBranch = git(hub, ['rev-parse', 'refs/heads/main'], a.env).trim();
    expect((await b.sync()).code).toBe(0);
    expect(git(hub, ['rev-parse', 'refs/heads/main'], a.env).trim()).toBe(hubBranch);
    const hubBeat = git(hub, ['rev-parse', 'refs/agentgit/instances/b'], a.env).trim();
    expect(a.git(['rev-parse', 'refs/agentgit/hub-instances/b']).trim()).not.toBe(hubBeat);
    const r = await tracedSync(a);
    expect(r.code).toBe(0);
    expect(r.fetches).toBeGreaterThan(0);
    expect(a.git(['rev-parse', 'refs/agentgit/hub-instances/b']).trim()).toBe(hubBeat);
  });
});
