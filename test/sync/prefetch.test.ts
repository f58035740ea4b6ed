/**
 * Issue #14: a round's first fetch runs beside its local commit
 * (sync/round.ts startPrefetch). What must hold: the fetch really starts
 * before the commit is written (else nothing is gained), the merge sees what
 * it fetched, and a hub that cannot be reached still leaves the local work
 * committed, with the next round bringing everything together.
 */
import { renameSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, cleanupTemp, Instance, makeBareHub, syncedPair } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';

/** The git calls of a traced round, with the ms after the process's start at which each began. */
function calls(stderr: string): { at: number; cmd: string }[] {
  return [...stderr.matchAll(/^\[trace \+(\d+)ms \d+ms\] git (\S+)/gm)].map((m) => ({ at: Number(m[1]), cmd: m[2]! }));
}

describe("a round's first fetch beside its local commit", () => {
  const hub = makeBareHub();
  const pair = syncedPair(hub, { [day]: '# log\n' });
  let a: Instance;
  let b: Instance;
  beforeAll(async () => void ({ a, b } = await pair), 120_000);

  it('starts before the local commit is written, and the merge uses what it brought', async () => {
    b.append(day, '\n- from b\n');
    expect((await b.sync()).code).toBe(0);
    a.append(day, '\n- from a\n');
    const r = await agentgit(['sync', '-C', a.dir], { env: { ...a.env, AGENTGIT_TRACE: '1' } });
    expect(r.code, r.stderr).toBe(0);
    const c = calls(r.stderr);
    const fetch = c.find((x) => x.cmd === 'fetch');
    const commitIndex = c.find((x) => x.cmd === 'update-index');
    expect(fetch && commitIndex, r.stderr).toBeTruthy();
    expect(fetch!.at, `the fetch started after the commit's index (${r.stderr})`).toBeLessThanOrEqual(commitIndex!.at);
    expect(c.filter((x) => x.cmd === 'fetch'), 'one fetch').toHaveLength(1);
    expect(a.read(day)).toContain('- from b');
    expect(a.read(day)).toContain('- from a');
    expect((await b.sync()).code).toBe(0);
    expect(b.read(day)).toBe(a.read(day));
  });

  it('a fetch that fails: the local work is committed all the same, and the next round sends it', async () => {
    const head = a.git(['rev-parse', 'HEAD']).trim();
    a.append(day, '\n- while the hub was gone\n');
    renameSync(hub, `${hub}.gone`);
    let r;
    try {
      r = await a.sync();
    } finally {
      renameSync(`${hub}.gone`, hub);
    }
    // a hub gone from its path is a lasting failure (exit 1, see sync.test.ts), told after the commit
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/not a git repository/);
    expect(a.git(['rev-parse', 'HEAD']).trim(), 'the local commit was made').not.toBe(head);
    expect(a.git(['status', '--porcelain'])).toBe('');
    expect((await a.sync()).code).toBe(0);
    expect((await b.sync()).code).toBe(0);
    expect(b.read(day)).toContain('- while the hub was gone');
  });
});
