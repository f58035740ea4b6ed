/**
 * Issue #15 part 2: compaction (docs/compaction.md). Real git, a real bare
 * hub, three instances, the real CLI.
 * - history: instances with unpushed work, offline during the compaction,
 *   and killed mid-way (AGENTGIT_FAILPOINT) cross into the new epoch and
 *   converge with every entry exactly once; the hub's history is the epoch
 *   commit plus what came after; the archive still audits the old history;
 * - a forged epoch (tree differs, unsigned, an unadmitted key) is refused and
 *   nothing is written; an instance offline through two epochs crosses both.
 */
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, BIN, cleanupTemp, expectSameSnapshots, git, Instance, makeBareHub, tempDir, type Run } from '../helpers/agents.js';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';
const tasks = 'mission-control/tasks.json';

function runWith(inst: Instance, args: string[], failpoint: string, onStderr?: (soFar: string) => void): Promise<Run & { killed: boolean }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: inst.dir, env: { ...inst.env, AGENTGIT_FAILPOINT: failpoint } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    child.on('close', (code, signal) => res({ code: code ?? -1, stdout, stderr, killed: signal === 'SIGKILL' }));
  });
}

const count = (text: string, entry: string): number => text.split('\n').filter((l) => l === entry).length;
const hubCount = (hub: string): number => Number(git(hub, ['rev-list', '--count', 'main']).trim());

async function ok(r: Promise<Run>): Promise<Run> {
  const x = await r;
  expect(x.code, `${x.stderr}${x.stdout}`).toBe(0);
  return x;
}

describe('compact: help and usage', () => {
  it('shows -C, the examples and the exit codes; a bad --older-than is a usage error', async () => {
    const h = await agentgit(['compact', '--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^\s+-C\s+run as if agentgit was started in DIR/m);
    expect(h.stdout).toMatch(/Examples:\n.*agentgit compact history/);
    expect(h.stdout).toMatch(/Exit codes: 0 ok.*75 temporary/s);
    const u = await agentgit(['compact', 'logs', '--older-than', '3 months']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--older-than "3 months": give a number of days, like 90d/);
  }, 60_000);
});

describe('compact history: a new epoch every instance crosses into', () => {
  let hub: string;
  let a: Instance;
  let b: Instance;
  let c: Instance;
  const entries: string[] = [];
  const add = (i: Instance, n: number): void => {
    const e = `- 10:${String(n).padStart(2, '0')} ${i.name} entry ${n}`;
    entries.push(e);
    i.append(day, e + '\n');
  };

  beforeAll(async () => {
    hub = makeBareHub();
    a = await Instance.init(hub, 'a', { files: { [day]: '# log\n', [tasks]: '{"a": 1, "shared": "a"}\n' } });
    b = await Instance.clone(hub, 'b');
    c = await Instance.clone(hub, 'c');
    for (const i of [a, b, c]) await ok(i.sync());
    let n = 0;
    for (let round = 0; round < 3; round++) {
      for (const i of [a, b, c]) {
        add(i, n++);
        await ok(i.sync());
      }
    }
    await ok(a.sync());
    await ok(b.sync());
  }, 180_000);

  it('archives the old history, carries unpushed and offline work over, and converges', async () => {
    const before = hubCount(hub);
    expect(before).toBeGreaterThan(10);
    expect((await ok(a.run(['log', '--archive']))).stdout).toMatch(/^no archived history here/);
    const oldHead = git(hub, ['rev-parse', 'main']).trim();
    // b has committed work it has not pushed; c is offline with a write not even committed
    add(b, 50);
    await ok(b.sync(['--no-push']));
    add(c, 51);
    b.write('notes/b.md', '# from b\n');
    b.write(tasks, '{"b": 1, "shared": "b"}\n');
    c.write(tasks, '{"c": 1, "shared": "c"}\n');

    const bundle = join(tempDir(), 'history.bundle');
    const r = await ok(a.run(['compact', 'history', '--export', bundle]));
    expect(r.stdout).toMatch(/new epoch [0-9a-f]{10}: \d+ commits archived/);
    const epoch = git(hub, ['rev-list', '--max-parents=0', 'main']).trim();
    expect(epoch.split('\n')).toHaveLength(1);
    expect(git(hub, ['cat-file', '-p', epoch])).toContain(`Agentgit-Epoch-Of: ${oldHead}`);
    expect(git(hub, ['rev-parse', `refs/agentgit/archive/${epoch}`]).trim()).toBe(oldHead);
    expect(git(hub, ['rev-parse', `${epoch}^{tree}`]).trim()).toBe(git(hub, ['rev-parse', `${oldHead}^{tree}`]).trim());
    expect(hubCount(hub)).toBe(1); // a had nothing unpushed: the epoch alone
    git(a.dir, ['bundle', 'verify', bundle], a.env);

    const rb = await ok(b.sync());
    expect(rb.stdout + rb.stderr).not.toMatch(/refused/);
    expect(hubCount(hub)).toBe(2); // the epoch and b's carried work
    await ok(c.sync());
    await ok(a.sync());
    await ok(b.sync());
    expect(hubCount(hub)).toBe(3); // + c's carried work: nothing of the old history came back
    const same = expectSameSnapshots([a, b, c]);
    expect(same.diff).toEqual([]);
    const text = a.read(day);
    for (const e of entries) expect(count(text, e), e).toBe(1);
    expect(a.read('notes/b.md')).toBe('# from b\n');
    // JSON written on both sides of the epoch merges key by key
    const merged = a.readJson<Record<string, unknown>>(tasks);
    expect(merged).toMatchObject({ b: 1, c: 1 });
    expect(merged).not.toHaveProperty('a'); // both removed it
    // the old history still audits
    expect(Number(git(c.dir, ['rev-list', '--count', `refs/agentgit/archive/${epoch}`], c.env).trim())).toBe(before);
    const log = await ok(c.run(['log', '--archive', '--max', '500']));
    expect(log.stdout).toContain(oldHead.slice(0, 10));
    const st = JSON.parse((await ok(c.run(['status', '--json']))).stdout) as { history: { length: number; epoch: { commit: string; archived: string } } };
    expect(st.history.length).toBe(3);
    expect(st.history.epoch.commit).toBe(epoch);
    expect(st.history.epoch.archived).toBe(oldHead);
    expect((await c.run(['status'])).stdout).toMatch(new RegExp(`^history: 3 commits, since the epoch ${epoch.slice(0, 10)} of \\d{4}-`, 'm'));
    await ok(a.run(['verify']));
  }, 180_000);

  it('a compaction killed after its push, and a crossing killed mid-checkout, recover', async () => {
    add(b, 60);
    await ok(b.sync(['--no-push']));
    const k = await runWith(a, ['compact', 'history'], 'compact');
    expect(k.killed, k.stderr).toBe(true);
    // a has not crossed its own epoch yet: a second compaction waits for a sync
    const early = await a.run(['compact', 'history']);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/has not crossed into the hub's current epoch yet; run `agentgit sync` first/);
    const k2 = await runWith(b, ['sync'], 'checkout');
    expect(k2.killed, k2.stderr).toBe(true);
    for (const i of [b, a, c, b, a]) await ok(i.sync());
    expect(expectSameSnapshots([a, b, c]).diff).toEqual([]);
    const text = c.read(day);
    for (const e of entries) expect(count(text, e), e).toBe(1);
    expect(git(b.dir, ['status', '--porcelain'], b.env)).toBe('');
  }, 180_000);

  it('refuses a forged epoch (tree differs, unsigned, or signed by an unadmitted key) and writes nothing', async () => {
    await ok(a.sync());
    await ok(c.sync());
    const head = git(hub, ['rev-parse', 'main']).trim();
    const forge = (tree: string, sign: boolean): string => {
      const msg = `agentgit: new epoch\n\nAgentgit-Instance: a\nAgentgit-Epoch-Of: ${head}\n`;
      return git(a.dir, ['commit-tree', ...(sign ? ['-S'] : ['--no-gpg-sign']), tree, '-m', msg], a.env).trim();
    };
    add(a, 70);
    a.write('notes/forged.md', 'not what the archive holds\n');
    git(a.dir, ['add', '-A'], a.env);
    const otherTree = git(a.dir, ['write-tree'], a.env).trim();
    git(a.dir, ['reset', '-q'], a.env);
    entries.pop();
    const sameTree = git(a.dir, ['rev-parse', `${head}^{tree}`], a.env).trim();
    // a key nobody admitted, signing a commit authored as an admitted instance
    const stranger = join(tempDir(), 'stranger');
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', stranger]);
    const strangerEpoch = git(a.dir, ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${stranger}`, 'commit-tree', '-S', sameTree, '-m', `agentgit: new epoch\n\nAgentgit-Epoch-Of: ${head}\n`], a.env).trim();
    for (const [label, forged, reason] of [
      ['tree differs', forge(otherTree, true), /forged: its tree differs/],
      ['unsigned', forge(sameTree, false), /forged: it is not signed/],
      ['unadmitted key', strangerEpoch, /forged: it is not signed by a key admitted as of the archived head/],
    ] as const) {
      git(a.dir, ['push', '-q', '--force', hub, `${forged}:refs/heads/main`, `${head}:refs/agentgit/archive/${forged}`], a.env);
      const before = c.snapshot();
      const cHead = git(c.dir, ['rev-parse', 'HEAD'], c.env).trim();
      const r = await c.sync();
      expect(r.code, label).toBe(1);
      expect(r.stderr + r.stdout, label).toMatch(reason);
      expect(git(c.dir, ['rev-parse', 'HEAD'], c.env).trim(), label).toBe(cHead);
      expect(c.snapshot(), label).toEqual(before);
    }
    git(a.dir, ['push', '-q', '--force', hub, `${head}:refs/heads/main`], a.env);
  }, 120_000);
});

/** A hub, a and b, both holding a's first entry. */
async function twoInstances(): Promise<{ hub: string; a: Instance; b: Instance }> {
  const hub = makeBareHub();
  const a = await Instance.init(hub, 'a', { files: { [day]: '# log\n' } });
  const b = await Instance.clone(hub, 'b');
  await ok(b.sync());
  a.append(day, '- 08:00 a one\n');
  await ok(a.sync());
  await ok(b.sync());
  return { hub, a, b };
}

describe('compact history against a moving hub, and a clone after it', () => {
  it('exits 75 and changes nothing when another instance pushes during the compaction; a new clone starts from the epoch', async () => {
    const { hub, a, b } = await twoInstances();
    // a stalls right after its fetch (a failpoint); b pushes meanwhile: the compare-and-swap must refuse a's epoch
    let stalled!: () => void;
    const atFailpoint = new Promise<void>((r) => (stalled = r));
    const slow = runWith(a, ['compact', 'history'], 'fetch:sleep=10000', (err) => /failpoint fetch: sleep/.test(err) && stalled());
    await atFailpoint;
    b.append(day, '- 08:30 b during\n');
    await ok(b.sync());
    const hubHead = git(hub, ['rev-parse', 'main']).trim();
    const r = await slow;
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toMatch(/moved while compacting/);
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(hubHead);
    expect(git(hub, ['for-each-ref', 'refs/agentgit/archive/'])).toBe('');
    expect(a.git(['for-each-ref', 'refs/agentgit/archive/'])).toBe('');
    // again, undisturbed; then a clone joins the new epoch
    await ok(a.run(['compact', 'history']));
    await ok(b.sync());
    const d = await Instance.clone(hub, 'd');
    await ok(d.sync());
    await ok(a.sync());
    await ok(b.sync());
    await ok(d.sync());
    expect(expectSameSnapshots([a, b, d]).diff).toEqual([]);
    expect(count(d.read(day), '- 08:30 b during')).toBe(1);
    expect(Number(d.git(['rev-list', '--count', 'HEAD']).trim())).toBeLessThan(5);
  }, 120_000);
});

describe('an instance offline through two compactions', () => {
  it('follows the chain of epochs back to its own history and carries its work over', async () => {
    const { hub, a, b } = await twoInstances();
    b.append(day, '- 08:30 b offline\n');
    await ok(b.sync(['--no-push'])); // b goes offline with this
    await ok(a.run(['compact', 'history']));
    a.append(day, '- 09:00 a two\n');
    await ok(a.sync());
    await ok(a.run(['compact', 'history']));
    a.append(day, '- 10:00 a three\n');
    await ok(a.sync());
    const r = await ok(b.sync());
    expect(r.stdout + r.stderr).not.toMatch(/refused/);
    await ok(a.sync());
    expect(expectSameSnapshots([a, b]).diff).toEqual([]);
    const text = a.read(day);
    for (const e of ['- 08:00 a one', '- 08:30 b offline', '- 09:00 a two', '- 10:00 a three']) expect(count(text, e), e).toBe(1);
    expect(git(hub, ['rev-list', '--max-parents=0', 'main']).trim().split('\n')).toHaveLength(1);
    expect(hubCount(hub)).toBe(3); // the second epoch, a's third entry, b's carried work
  }, 120_000);
});

describe('a compaction whose push gets no answer', () => {
  /** A hub hook that stalls the push past the compaction's --timeout: pre-receive before the hub moves, post-receive after. */
  const stall = (hub: string, hook: 'pre-receive' | 'post-receive'): void => {
    writeFileSync(join(hub, 'hooks', hook), '#!/bin/sh\nsleep 40\n', { mode: 0o755 });
  };
  const unstall = (hub: string): void => {
    for (const h of ['pre-receive', 'post-receive']) rmSync(join(hub, 'hooks', h), { force: true });
  };
  const archives = (i: Instance): string[] => i.git(['for-each-ref', '--format=%(refname) %(objectname)', 'refs/agentgit/archive/']).split('\n').filter(Boolean);

  it('the hub took it: the local archive ref is kept, the instance crosses, the next run settles it', async () => {
    const { hub, a, b } = await twoInstances();
    const oldHead = git(hub, ['rev-parse', 'main']).trim();
    stall(hub, 'post-receive'); // the hub updates its refs, then the answer never comes within --timeout
    const r = await a.run(['compact', 'history', '--timeout', '8']);
    unstall(hub);
    expect(r.code, r.stderr).toBe(75);
    expect(r.stderr).toMatch(/no answer from the hub.*the local refs\/agentgit\/archive\/[0-9a-f]{40} is kept/);
    const epoch = git(hub, ['rev-list', '--max-parents=0', 'main']).trim();
    expect(git(hub, ['rev-parse', `refs/agentgit/archive/${epoch}`]).trim()).toBe(oldHead);
    // the only local pointer to the archived history is still there
    expect(archives(a)).toEqual([`refs/agentgit/archive/${epoch} ${oldHead}`]);
    expect(existsSync(join(a.dir, '.git/agentgit/compact-pending.json'))).toBe(true);
    a.append(day, '- 09:00 a after\n');
    await ok(a.sync());
    await ok(b.sync());
    await ok(a.sync());
    expect(expectSameSnapshots([a, b]).diff).toEqual([]);
    expect(count(b.read(day), '- 09:00 a after')).toBe(1);
    // the next compaction finds the epoch in its history: settled, the archive kept
    await ok(a.run(['compact', 'history']));
    expect(archives(a)).toContain(`refs/agentgit/archive/${epoch} ${oldHead}`);
    expect(existsSync(join(a.dir, '.git/agentgit/compact-pending.json'))).toBe(false);
  }, 120_000);

  it('a push that certainly moved nothing (the push URL names no repository): exit 1 with git\'s reason, no archive ref or pending epoch left', async () => {
    const { hub, a } = await twoInstances();
    const oldHead = git(hub, ['rev-parse', 'main']).trim();
    a.git(['config', 'remote.origin.pushurl', join(tempDir(), 'no-such-hub.git')]); // the fetch still reaches the hub
    const r = await a.run(['compact', 'history']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/no answer from the hub/);
    expect(r.stderr).toMatch(/no-such-hub\.git/);
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(oldHead);
    expect(archives(a)).toEqual([]);
    expect(existsSync(join(a.dir, '.git/agentgit/compact-pending.json'))).toBe(false);
    a.git(['config', '--unset', 'remote.origin.pushurl']);
    await ok(a.run(['compact', 'history']));
    expect(archives(a)).toHaveLength(1);
  }, 120_000);

  it('the hub never took it: the local archive ref is kept until the hub moved on, then removed', async () => {
    const { hub, a, b } = await twoInstances();
    const oldHead = git(hub, ['rev-parse', 'main']).trim();
    stall(hub, 'pre-receive'); // the push stalls before the hub moves
    const r = await a.run(['compact', 'history', '--timeout', '8']);
    expect(r.code, r.stderr).toBe(75);
    expect(git(hub, ['rev-parse', 'main']).trim()).toBe(oldHead);
    const [pending] = archives(a);
    expect(pending).toMatch(new RegExp(`^refs/agentgit/archive/[0-9a-f]{40} ${oldHead}$`));
    const stale = pending!.split(' ')[0]!;
    unstall(hub);
    // another instance moves the hub: the old epoch's compare-and-swap can never succeed now
    b.append(day, '- 09:30 b meanwhile\n');
    await ok(b.sync());
    await ok(a.sync());
    const again = await ok(a.run(['compact', 'history']));
    expect(again.stdout).toMatch(/never reached the hub: its local refs\/agentgit\/archive\/[0-9a-f]{40} is removed/);
    const epoch = git(hub, ['rev-list', '--max-parents=0', 'main']).trim();
    expect(archives(a).map((l) => l.split(' ')[0])).toEqual([`refs/agentgit/archive/${epoch}`]);
    expect(archives(a)).not.toContain(stale);
    expect(existsSync(join(a.dir, '.git/agentgit/compact-pending.json'))).toBe(false);
    await ok(b.sync());
    expect(count(b.read(day), '- 09:30 b meanwhile')).toBe(1);
  }, 120_000);
});
