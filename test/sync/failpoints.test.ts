/**
 * Issue #17: every named failpoint (src/failpoint.ts) kills a real
 * `agentgit sync` at its phase, and one plain sync recovers: every entry
 * exactly once, both instances byte-identical, fsck clean, no journal, a
 * clean work tree. Each round is divergent (both instances wrote, the other
 * pushed first), so fetch, verify, merge and the work-tree update all run.
 * The long version (every hub kind, many trials) is the kill-9 scenario of
 * test/reliability.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILPOINTS, parseFailpoints } from '../../src/failpoint.js';
import { BIN, cleanupTemp, expectSameSnapshots, git, Instance, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';
const tasks = 'mission-control/tasks.json';

interface Killed {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** `agentgit sync` with AGENTGIT_FAILPOINT set. */
function syncWith(inst: Instance, spec: string): Promise<Killed> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, 'sync', '-C', inst.dir], { env: { ...inst.env, AGENTGIT_FAILPOINT: spec }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => res({ code, signal, stderr }));
  });
}

const entriesOf = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('- '));

describe('failpoints: kill -9 at every named phase, one plain sync recovers', () => {
  let hub: string;
  let a: Instance;
  let b: Instance;
  const expected: string[] = [];
  let round = 0;

  beforeAll(async () => {
    hub = makeBareHub();
    a = await Instance.init(hub, 'a', { files: { [day]: '# log\n', [tasks]: '{"tasks": []}\n' } });
    b = await Instance.clone(hub, 'b');
  }, 60_000);

  /** Both write; b pushes first (new files too, so a's work-tree update has work to do). */
  async function divergentRound(): Promise<void> {
    const t = round++;
    const eb = `- 09:${String(t).padStart(2, '0')} b ${t}`;
    const ea = `- 09:${String(t).padStart(2, '0')} a ${t}`;
    b.append(day, eb + '\n');
    for (let k = 0; k < 4; k++) b.write(`notes/r${t}-${k}.md`, `# note ${t}.${k}\n`);
    const s = await b.sync();
    expect(s.code, s.stderr).toBe(0);
    a.append(day, ea + '\n');
    a.updateJson<{ tasks: { id: number }[] }>(tasks, (v) => ({ tasks: [...v.tasks, { id: t }] }));
    expected.push(ea, eb);
  }

  /** The promises after a recovery: checked on a, then convergence with b. */
  async function recovered(what: string): Promise<void> {
    const r = await a.sync();
    expect(r.code, `${what}: the next plain sync: ${r.stderr}`).toBe(0);
    expect(a.git(['fsck', '--no-progress', '--no-dangling']), `${what}: fsck`).toBe('');
    expect(existsSync(a.path('.git/agentgit/checkout.json')), `${what}: checkout journal left`).toBe(false);
    expect(a.git(['status', '--porcelain']), `${what}: work tree`).toBe('');
    const s = await b.sync();
    expect(s.code, `${what}: b's sync: ${s.stderr}`).toBe(0);
    expect(expectSameSnapshots([a, b]).diff, `${what}: a and b differ`).toEqual([]);
    for (const inst of [a, b]) {
      const got = entriesOf(inst.read(day));
      for (const e of expected) expect(got.filter((l) => l === e), `${what}: ${inst.name} has "${e}"`).toHaveLength(1);
      expect(got, `${what}: ${inst.name} has only the written entries`).toHaveLength(expected.length);
      expect(inst.readJson<{ tasks: unknown[] }>(tasks).tasks, `${what}: tasks on ${inst.name}`).toHaveLength(round);
    }
  }

  for (const point of FAILPOINTS) {
    it(`${point}: the kill lands, and the next sync recovers`, async () => {
      await divergentRound();
      const headBefore = a.git(['rev-parse', 'HEAD']).trim();
      const hubBefore = git(hub, ['rev-parse', 'main']).trim();
      const k = await syncWith(a, point);
      // landed: the process named the point and died of its own SIGKILL there
      expect(k.stderr, `failpoint ${point} did not fire`).toContain(`agentgit: failpoint ${point}: kill`);
      expect(k.signal).toBe('SIGKILL');
      // and it died where the point says: which refs had moved, whether the work-tree update was under way
      const head = a.git(['rev-parse', 'HEAD']).trim();
      const hubHead = git(hub, ['rev-parse', 'main']).trim();
      const journal = existsSync(a.path('.git/agentgit/checkout.json'));
      if (point === 'commit') expect(head, 'commit: the branch moved before the point').toBe(headBefore);
      else if (['fetch', 'verify', 'merge'].includes(point)) expect(head).not.toBe(headBefore); // the local commit was made
      if (['commit', 'fetch', 'verify', 'merge', 'checkout'].includes(point)) expect(hubHead, `${point}: pushed before the point`).toBe(hubBefore);
      if (['fetch', 'verify', 'merge'].includes(point)) expect(a.git(['rev-parse', 'refs/remotes/origin/main']).trim(), `${point}: not fetched`).toBe(hubBefore);
      expect(journal, `${point}: the work-tree journal`).toBe(point === 'checkout');
      if (point === 'push' || point === 'record') expect(hubHead, `${point}: the push had not landed`).toBe(head);
      await recovered(`kill at ${point}`);
    }, 60_000);
  }

  it('a git killed inside update-ref during the work-tree update: its stale HEAD.lock and branch lock are removed, the update finished', async () => {
    await divergentRound();
    const k = await syncWith(a, 'checkout');
    expect(k.signal).toBe('SIGKILL');
    // what a kill -9 of the whole tree leaves when it hits `git update-ref` (found by the reliability suite)
    const branch = a.git(['symbolic-ref', 'HEAD']).trim();
    const head = a.git(['rev-parse', 'HEAD']).trim();
    writeFileSync(a.path('.git/HEAD.lock'), `${head}\n`);
    writeFileSync(a.path(`.git/${branch}.lock`), `${head}\n`);
    await recovered('stale HEAD.lock and branch lock after a kill in checkout');
    expect(existsSync(a.path('.git/HEAD.lock'))).toBe(false);
    expect(existsSync(a.path(`.git/${branch}.lock`))).toBe(false);
  }, 60_000);

  it('exit=N exits with that code at the point; sleep=MS goes on; the next sync recovers', async () => {
    await divergentRound();
    const e = await syncWith(a, 'merge:exit=3');
    expect(e.stderr).toContain('agentgit: failpoint merge: exit');
    expect(e.code).toBe(3);
    await recovered('exit at merge');
    await divergentRound();
    const s = await syncWith(a, 'fetch:sleep=1,checkout:sleep=1');
    expect(s.stderr).toContain('agentgit: failpoint fetch: sleep');
    expect(s.stderr).toContain('agentgit: failpoint checkout: sleep');
    expect(s.code, s.stderr).toBe(0);
    await recovered('sleep at fetch and checkout');
  }, 60_000);

  it('a malformed AGENTGIT_FAILPOINT: exit 2 naming the variable, before the round touches anything', async () => {
    a.append(day, '- 10:00 a typo\n');
    expected.push('- 10:00 a typo');
    const head = a.git(['rev-parse', 'HEAD']).trim();
    const r = await syncWith(a, 'comit');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe('agentgit: AGENTGIT_FAILPOINT: unknown point "comit" (known: commit, fetch, verify, merge, checkout, push, record, compact, key-swap); fix or unset AGENTGIT_FAILPOINT (a testing aid, docs/reliability.md)');
    expect(a.git(['rev-parse', 'HEAD']).trim()).toBe(head);
    await recovered('after a malformed AGENTGIT_FAILPOINT');
  }, 60_000);

  it('parseFailpoints: actions, and a malformed value throws', () => {
    expect(() => parseFailpoints('comit')).toThrow(/AGENTGIT_FAILPOINT: unknown point "comit"/);
    expect(() => parseFailpoints('merge:explode')).toThrow(/bad action "explode"/);
    expect([...parseFailpoints('commit, push:exit=75,record:sleep=10')]).toEqual([
      ['commit', { kind: 'kill' }],
      ['push', { kind: 'exit', code: 75 }],
      ['record', { kind: 'sleep', ms: 10 }],
    ]);
  });
});
