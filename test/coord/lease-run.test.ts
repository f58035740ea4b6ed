/**
 * `agentgit lease`: three real instances on real hubs, real processes,
 * kill -9, a frozen holder, a holder cut off from the hub, ±3 h of wall-clock
 * skew (libfaketime), a forged lease commit. Each command the lease runs
 * appends `start`/`end` lines to one shared file (O_APPEND: the file's
 * order is the real order), and the tests assert that runs never overlap
 * and tokens only grow: ordering, never durations.
 * AGENTGIT_LEASE_TRIALS scales the loops (default: tens of runs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { agentgit, BIN, cleanupTemp, git, Instance, makeBareHub, ROOT, tempDir, type Run } from '../helpers/agents.js';
import { hubsAvailable, startSshHub, type SshHub } from '../helpers/hubs.js';

afterAll(() => cleanupTemp());
const running: ChildProcess[] = [];
afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const TRIALS = Number(process.env.AGENTGIT_LEASE_TRIALS ?? (process.env.AGENTGIT_RELIABILITY === 'long' ? '40' : '6'));
const FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** A command that logs `start INST TOKEN`, works `secs`, logs `end INST TOKEN` (also when stopped by SIGTERM). */
function worker(log: string, inst: string, secs: number): string[] {
  const line = (what: string): string => `echo "${what} ${inst} $AGENTGIT_LEASE_TOKEN $AGENTGIT_LEASE_NAME" >> '${log}'`;
  return ['sh', '-c', `trap '${line('end').replace(/'/g, `'\\''`)}; exit 143' TERM; ${line('start')}; sleep ${secs} & wait $!; ${line('end')}`];
}

interface Span {
  inst: string;
  token: number;
}

/** The runs in the log, checked: strictly one at a time, each ends before the next starts, tokens increase. */
function checkLog(log: string): Span[] {
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  const spans: Span[] = [];
  let open: Span | null = null;
  for (const l of lines) {
    const [what, inst, token] = l.split(' ');
    const s = { inst: inst!, token: Number(token) };
    if (what === 'start') {
      expect(open, `overlap: ${inst} started while ${open?.inst} (token ${open?.token}) ran\n${lines.join('\n')}`).toBeNull();
      if (spans.length) expect(s.token, `token did not grow\n${lines.join('\n')}`).toBeGreaterThan(spans[spans.length - 1]!.token);
      open = s;
      spans.push(s);
    } else {
      expect(open, `end without start\n${lines.join('\n')}`).toEqual(s);
      open = null;
    }
  }
  return spans;
}

function lease(inst: Instance, args: string[], extraEnv: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, 'lease', ...args.slice(0, 1), ...args.slice(1)], { env: { ...inst.env, ...extraEnv }, cwd: ROOT });
  running.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Run>((r) => child.on('close', (code, sig) => r({ code: code ?? (sig === 'SIGKILL' ? 137 : -1), stdout, stderr })));
  return { child, done };
}

async function until(what: string, cond: () => boolean, boundMs = 60_000): Promise<void> {
  const end = Date.now() + boundMs; // a bound for failing, not an assertion
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const started = (log: string, inst: string): (() => boolean) => () => existsSync(log) && readFileSync(log, 'utf8').includes(`start ${inst} `);

/**
 * `a` runs a long leased worker; once it has started, `disrupt` hits it; then
 * `b` waits for the lease and runs a short one. The log must show a's run
 * ended (its command was stopped) before b's began.
 */
async function handover(a: Instance, b: Instance, name: string, disrupt: (holder: ChildProcess) => void, restore: (holder: ChildProcess) => void = () => undefined): Promise<Run> {
  const log = join(tempDir(), `${name}.log`);
  const holder = lease(a, ['run', name, '-C', a.dir, '--ttl', '2s', '--', ...worker(log, 'a', 60)]);
  await until('a runs', started(log, 'a'));
  disrupt(holder.child);
  try {
    const r = await lease(b, ['run', name, '-C', b.dir, '--ttl', '2s', '--wait', '60', '--', ...worker(log, 'b', 0.1)]).done;
    expect(r.code, r.stderr).toBe(0);
  } finally {
    restore(holder.child);
  }
  expect(checkLog(log).map((s) => s.inst)).toEqual(['a', 'b']);
  return holder.done;
}

/** Three admitted instances (each with the others' keys in its history). */
async function fleet(hub: string, extraEnv: Record<string, string> = {}, hubForA?: string): Promise<Instance[]> {
  const a = await Instance.init(hubForA ?? hub, 'a', { extraEnv });
  const b = await Instance.clone(hub, 'b', { extraEnv, admitBy: a });
  const c = await Instance.clone(hub, 'c', { extraEnv, admitBy: a });
  for (const i of [b, c, a]) expect((await i.sync()).code).toBe(0);
  return [a, b, c];
}

/** Each instance runs `n` leased workers in a row, all three at once; returns the exit codes. */
async function loops(insts: Instance[], log: string, n: number, envFor: (i: Instance) => Record<string, string> = () => ({})): Promise<number[]> {
  const codes: number[] = [];
  await Promise.all(
    insts.map(async (i) => {
      for (let k = 0; k < n; k++) {
        const r = await lease(i, ['run', 'job', '-C', i.dir, '--ttl', '2s', '--wait', '60', '--', ...worker(log, i.name, 0.2)], envFor(i)).done;
        expect([0, 75], r.stderr).toContain(r.code);
        codes.push(r.code);
      }
    }),
  );
  return codes;
}

describe('lease: file hub', () => {
  let hub: string;
  let insts: Instance[];
  beforeAll(async () => {
    hub = makeBareHub();
    insts = await fleet(hub);
  }, 120_000);

  it(`three instances × ${TRIALS} leased runs: never two at once, tokens grow, sync undisturbed`, async () => {
    const log = join(tempDir(), 'runs.log');
    const codes = await loops(insts, log, TRIALS);
    const spans = checkLog(log);
    expect(spans.length).toBe(codes.filter((c) => c === 0).length);
    expect(spans.length).toBeGreaterThanOrEqual(TRIALS); // most runs get the lease
    expect(new Set(spans.map((s) => s.inst)).size).toBeGreaterThan(1);
    // the lease lives on the hub beside the branch, never on it
    expect(git(hub, ['for-each-ref', '--format=%(refname)', 'refs/agentgit/leases/'])).toBe('refs/agentgit/leases/job\n');
    const [a, b] = insts as [Instance, Instance];
    a.write('memory/note.md', '# note\n');
    for (const i of [a, b]) expect((await i.sync()).code).toBe(0);
    for (const i of insts) {
      expect(i.git(['log', '--format=%s'])).not.toMatch(/lease/);
      expect(i.git(['for-each-ref', '--format=%(refname)', 'refs/remotes/', 'refs/heads/'])).not.toMatch(/lease/);
    }
    expect(git(hub, ['log', '--format=%s', 'main'])).not.toMatch(/lease/);
    expect(b.read('memory/note.md')).toBe('# note\n');
  }, 600_000);

  it('status lists the lease with holder, generation and what this instance has seen; --json too', async () => {
    const [a] = insts as [Instance];
    const r = await a.run(['lease', 'status', '-C', a.dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { leases: Array<{ name: string; state: string; holder: string; generation: number }> }).leases;
    expect(rows).toEqual([expect.objectContaining({ name: 'job', state: 'released', generation: expect.any(Number) })]);
    const t = await a.run(['lease', 'status', '-C', a.dir]);
    expect(t.stdout).toMatch(/^job\treleased by kevin\/[abc], generation \d+, ttl 2\.0s/);
  });

  it('a held lease: exit 75 naming the holder and the earliest take; acquire/renew/release for scripts', async () => {
    const [a, b] = insts as [Instance, Instance];
    const acq = await a.run(['lease', 'acquire', 'cron', '-C', a.dir, '--ttl', '30s', '--json']);
    expect(acq.code, acq.stderr).toBe(0);
    const token = (JSON.parse(acq.stdout) as { token: number }).token;
    const other = await b.run(['lease', 'run', 'cron', '-C', b.dir, '--', 'true']);
    expect(other.code).toBe(75);
    expect(other.stderr).toMatch(/^agentgit: lease cron is held by kevin\/a \(generation \d+\): seen unchanged for .* it can be taken in .* at the earliest/);
    expect((await a.run(['lease', 'renew', 'cron', '-C', a.dir])).stdout).toMatch(/^renewed lease cron \(token \d+\)/);
    expect((await b.run(['lease', 'renew', 'cron', '-C', b.dir])).code).toBe(1); // b holds nothing
    const rel = await a.run(['lease', 'release', 'cron', '-C', a.dir]);
    expect(rel.stdout).toBe(`released lease cron (token ${token})\n`);
    const next = await b.run(['lease', 'run', 'cron', '-C', b.dir, '--', 'sh', '-c', 'echo $AGENTGIT_LEASE_TOKEN']);
    expect(next.code, next.stderr).toBe(0);
    expect(Number(next.stdout.trim())).toBe(token + 1);
    // usage
    for (const bad of [['run', 'cron', '-C', b.dir], ['run', 'a/b', '-C', b.dir, '--', 'true'], ['run', 'x', '-C', b.dir, '--ttl', '5ms', '--', 'true']]) {
      const u = await b.run(['lease', ...bad]);
      expect(u.code, u.stderr).toBe(2);
      expect(u.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    }
  }, 120_000);

  it("the command's exit status is lease run's; a missing command is 127", async () => {
    const [c] = insts.slice(2) as [Instance];
    expect((await c.run(['lease', 'run', 'st', '-C', c.dir, '--', 'sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await c.run(['lease', 'run', 'st', '-C', c.dir, '--', 'no-such-command-here'])).code).toBe(127);
  }, 60_000);

  it('kill -9 of the holder: its command is stopped, another instance takes over after the ttl', async () => {
    const [a, b] = insts as [Instance, Instance];
    expect((await handover(a, b, 'k9', (h) => h.kill('SIGKILL'))).code).toBe(137);
  }, 120_000);

  it('a frozen holder (SIGSTOP) cannot renew: its command is stopped before another instance takes the lease', async () => {
    const [a, b] = insts as [Instance, Instance];
    const ra = await handover(a, b, 'frozen', (h) => h.kill('SIGSTOP'), (h) => h.kill('SIGCONT'));
    expect(ra.code).toBe(75);
    expect(ra.stderr).toMatch(/could not renew lease frozen in time|lost lease frozen/);
  }, 120_000);

  it('a forged (unsigned) lease commit is not believed: held by an unknown writer until unchanged for the ttl, then outbid', async () => {
    const [a, b] = insts as [Instance, Instance];
    const rec = { v: 1, name: 'forged', agent: 'kevin', instance: 'b', generation: 500, ttlMs: 1000, state: 'released', at: 0 };
    const env = { ...a.env, GIT_AUTHOR_NAME: 'kevin/b', GIT_AUTHOR_EMAIL: 'x@y', GIT_COMMITTER_NAME: 'kevin/b', GIT_COMMITTER_EMAIL: 'x@y' };
    const tree = git(hub, ['hash-object', '-t', 'tree', '-w', '--stdin'], env).trim();
    const msgFile = join(tempDir(), 'msg');
    writeFileSync(msgFile, `agentgit lease forged: released by kevin/b (generation 500)\n\n${JSON.stringify(rec)}\n`);
    const oid = git(hub, ['commit-tree', tree, '-F', msgFile], env).trim();
    git(hub, ['update-ref', 'refs/agentgit/leases/forged', oid]);
    const st = await a.run(['lease', 'status', 'forged', '-C', a.dir, '--json']);
    expect(JSON.parse(st.stdout).leases[0]).toMatchObject({ name: 'forged', state: 'unverified', reason: expect.stringMatching(/not believed: it is not signed/) });
    // a long ttl here: a's own observation began at `status`, and a loaded machine may take seconds between the two commands
    const now = await a.run(['lease', 'run', 'forged', '-C', a.dir, '--ttl', '60s', '--', 'true']);
    expect(now.code).toBe(75); // a "released" it cannot verify is no release
    expect(now.stderr).toMatch(/held by an unverified holder \(it is not signed; it claims kevin\/b\)/);
    const later = await b.run(['lease', 'run', 'forged', '-C', b.dir, '--ttl', '2s', '--wait', '60', '--', 'sh', '-c', 'echo $AGENTGIT_LEASE_TOKEN']);
    expect(later.code, later.stderr).toBe(0);
    expect(Number(later.stdout.trim())).toBe(501);
  }, 120_000);
});

describe('lease: a holder cut off from the hub', () => {
  it('stops its command before another instance takes the lease', async () => {
    const hub = makeBareHub();
    const link = join(tempDir(), 'hub-link.git');
    symlinkSync(hub, link);
    const [a, b] = await fleet(hub, {}, link) as [Instance, Instance, Instance];
    const ra = await handover(a, b, 'cut', () => rmSync(link)); // a's hub stops answering; b still reaches it
    expect(ra.code).toBe(75);
    expect(ra.stderr).toMatch(/could not renew lease cut in time \(last error: .*\): stopped the command before another instance could take the lease/);
  }, 180_000);
});

describe.skipIf(!existsSync(FAKETIME))('lease: wall clocks 3 h apart (libfaketime)', () => {
  it('mutual exclusion holds with one instance 3 h behind and one 3 h ahead', async () => {
    const hub = makeBareHub();
    const insts = await fleet(hub);
    const skew: Record<string, string> = { b: '-3h', c: '+3h' };
    const log = join(tempDir(), 'skew.log');
    await loops(insts, log, Math.max(2, Math.ceil(TRIALS / 2)), (i): Record<string, string> => (skew[i.name] ? { LD_PRELOAD: FAKETIME, FAKETIME: skew[i.name]!, FAKETIME_NO_CACHE: '1' } : {}));
    const spans = checkLog(log);
    expect(new Set(spans.map((s) => s.inst)).size).toBeGreaterThan(1);
    // the skew was real: the lease records b and c wrote carry wall times about 6 h apart
    for (const i of insts.slice(1)) {
      const r = await agentgit(['lease', 'acquire', `skew-${i.name}`, '-C', i.dir, '--ttl', '1m'], { env: { ...i.env, LD_PRELOAD: FAKETIME, FAKETIME: skew[i.name]! } });
      expect(r.code, r.stderr).toBe(0);
    }
    const st = await insts[0]!.run(['lease', 'status', '-C', insts[0]!.dir, '--json']);
    const at = new Map((JSON.parse(st.stdout) as { leases: Array<{ name: string; writtenAt: string }> }).leases.map((l) => [l.name, Date.parse(l.writtenAt)]));
    expect(at.get('skew-c')! - at.get('skew-b')!).toBeGreaterThan(5 * 3_600_000);
  }, 600_000);
});

const avail = hubsAvailable();
describe.skipIf(!avail.ssh)('lease: ssh hub', () => {
  it('three instances through sshd: never two at once; kill -9 of the holder hands over', async () => {
    const hub: SshHub = await startSshHub();
    try {
      const insts = await fleet(hub.url, hub.clientEnv);
      const log = join(tempDir(), 'ssh.log');
      await loops(insts, log, Math.max(2, Math.ceil(TRIALS / 2)));
      expect(checkLog(log).length).toBeGreaterThan(0);
      const [a, b] = insts as [Instance, Instance];
      expect((await handover(a, b, 'ssh-k9', (h) => h.kill('SIGKILL'))).code).toBe(137);
    } finally {
      await hub.stop();
    }
  }, 600_000);
});
