/**
 * Fleets on the isomorphic-git engine, end to end with the built CLI: two
 * instances over a file hub and over the https hub (nginx +
 * git-http-backend), both on IsoGit or one on git and one on IsoGit (a
 * mixed fleet). Both write at once; after the rounds they hold
 * byte-identical files, every entry once, no conflict markers, a hub git
 * fsck calls clean, and every commit of the branch carries a good
 * signature by an admitted key (git's own %G? on each side, so each
 * engine's commits are checked by the other's reader).
 *
 * Every git operation of an IsoGit instance goes through the engine
 * (git/backend.ts); git on PATH here serves only the git instance and the
 * checks (test/git/iso/no-git.test.ts runs with no git at all).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTemp, expectSameSnapshots, git, Instance, MARKERS } from '../../helpers/agents.js';
import { hubFor } from './hub.js';
import { hubsAvailable, startHttpsHub, type HttpsHub } from '../../helpers/hubs.js';

const day = 'memory/2026-12-03.md';
const ISO = { AGENTGIT_ENGINE: 'isomorphic-git' };
const avail = hubsAvailable();
let https: HttpsHub | null = null;

beforeAll(async () => {
  if (avail.https) https = await startHttpsHub();
}, 60_000);
afterAll(async () => {
  await https?.stop();
  cleanupTemp();
});

function entries(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('- '));
}

const cases = [
  { hub: 'file', a: 'isomorphic-git', b: 'isomorphic-git' },
  { hub: 'https', a: 'isomorphic-git', b: 'isomorphic-git' },
  { hub: 'file', a: 'git', b: 'isomorphic-git' },
  { hub: 'https', a: 'git', b: 'isomorphic-git' },
] as const;

describe.each(cases)('a fleet over a $hub hub: a on $a, b on $b', ({ hub, a: engineA, b: engineB }) => {
  it.skipIf(hub === 'https' && !avail.https)('converges byte-identically, every entry once, every commit signed and verified', async () => {
    const { url, hubPath, hubEnv } = await hubFor(hub, https, `fleet-${engineA}-${engineB}.git`);
    const envOf = (e: string) => ({ ...hubEnv, ...(e === 'isomorphic-git' ? ISO : { AGENTGIT_ENGINE: 'git' }) });
    const a = await Instance.init(url, 'a', { extraEnv: envOf(engineA), files: { [day]: '# 2026-12-03\n\n', 'MEMORY.md': '# Memory\n' } });
    const b = await Instance.clone(url, 'b', { extraEnv: envOf(engineB) });
    const written: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (const inst of [a, b]) {
        const e = `- ${round} ${inst.name} wrote this`;
        inst.append(day, `${e}\n`);
        written.push(e);
      }
      const runs = await Promise.all([a.sync(), b.sync()]);
      for (const r of runs) expect([0, 75], r.stderr).toContain(r.code);
    }
    for (let i = 0; i < 2; i++) for (const inst of [a, b]) expect((await inst.sync()).code).toBe(0);
    expect(expectSameSnapshots([a, b]).diff).toEqual([]);
    const log = a.read(day);
    for (const e of written) expect(entries(log).filter((l) => l === e)).toHaveLength(1);
    expect(entries(log)).toHaveLength(written.length);
    for (const [path, content] of a.snapshot()) expect(MARKERS.test(content), path).toBe(false);
    expect(git(hubPath, ['fsck', '--no-progress', '--no-dangling'])).toBe('');
    for (const inst of [a, b]) {
      const sigs = inst.git(['log', '--format=%G? %an', 'main']).trim().split('\n');
      expect(sigs.filter((s) => !s.startsWith('G ')), `${inst.name}: ${sigs.join(', ')}`).toEqual([]);
    }
  });
});
