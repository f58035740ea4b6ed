/**
 * `agentgit watch`, pause/resume and the watch state in status: real git,
 * real bare hubs, real child processes and signals. No wall-clock
 * assertions: waits poll with generous bounds and only decide failure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { processStart } from '../../src/lock.js';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cleanupTemp, expectSameSnapshots, git, Instance, makeBareHub, MARKERS, ROOT, tempDir } from '../helpers/agents.js';
import { closedPortUrl, hubsAvailable, startHttpsHub, startSshHub, type HttpsHub, type SshHub } from '../helpers/hubs.js';
import { afterRound, TreeWatcher, backoffMs, dueTrigger, initialState, localHubDir, MAX_BACKOFF_MS, nextWake, pollDue, relevantChange } from '../../src/sync/watch.js';
import { activePause, parseDuration } from '../../src/sync/pause.js';

afterAll(() => cleanupTemp());

const day = 'memory/2026-12-03.md';
const entries = (t: string): string[] => t.split('\n').filter((l) => l.startsWith('- '));

interface Watcher {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  rounds: () => Array<{ trigger: string; exitCode: number; committed: number; pushed: string | null; paused?: unknown }>;
  exited: Promise<number | null>;
}
const running: ChildProcess[] = [];
afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function startWatch(inst: Instance, extra: string[] = ['--debounce', '200', '--poll', '1'], env: Record<string, string> = {}): Watcher {
  const child = spawn(process.execPath, [BIN, 'watch', '-C', inst.dir, '--json', ...extra], { env: { ...inst.env, ...env }, cwd: ROOT });
  running.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    rounds: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)),
    exited,
  };
}

/** Wait until `cond` holds; fails (with `what`) only after a generous bound. */
async function until(what: string, cond: () => boolean | Promise<boolean>, boundMs = 60_000): Promise<void> {
  const end = Date.now() + boundMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Wait until the watchers ran no round for a while. */
async function settled(ws: Watcher[]): Promise<void> {
  let last = -1;
  await until('watchers idle', async () => {
    const n = ws.reduce((k, w) => k + w.rounds().length, 0);
    if (n === last) return true;
    last = n;
    await new Promise((r) => setTimeout(r, 2500));
    return false;
  });
}

const has = (inst: Instance, p: string, line: string) => (): boolean => existsSync(inst.path(p)) && inst.read(p).includes(line);

describe('watch: decisions (pure)', () => {
  const o = { debounceMs: 500, pollSec: 1, intervalSec: 300 };
  it('runs at start, then after local changes settle, when the hub moved, and every interval', () => {
    let s = initialState(0, o);
    expect(dueTrigger(s, 0, o)).toBe('start');
    s = afterRound(s, 'start', 0, 10, 0, false, o).state;
    expect(dueTrigger(s, 20, o)).toBeNull();
    s.lastEventAt = s.dirtySince = 100;
    expect(dueTrigger(s, 599, o)).toBeNull();
    expect(dueTrigger(s, 600, o)).toBe('local');
    // a writer that never stops: a round after 10× the debounce anyway
    s.lastEventAt = 5000;
    expect(dueTrigger(s, 5099, o)).toBeNull();
    expect(dueTrigger(s, 5100, o)).toBe('local');
    s = afterRound(s, 'local', 5100, 5200, 0, false, o).state;
    expect(s.dirtySince).toBeNull();
    expect(pollDue(s, 5200 + 999)).toBe(false);
    expect(pollDue(s, 5200 + 1000)).toBe(true);
    s.hubMoved = true;
    expect(dueTrigger(s, 5300, o)).toBe('hub');
    s = afterRound(s, 'hub', 5300, 5400, 0, false, o).state;
    expect(dueTrigger(s, 5400 + 300_000, o)).toBe('interval');
    expect(nextWake(s, 5400, o, 10_000_000)).toBe(1000);
  });
  it('a change made during a round is kept for the next round', () => {
    let s = initialState(0, o);
    s.lastEventAt = s.dirtySince = 50; // written after the round started at 40
    s = afterRound(s, 'start', 40, 100, 0, false, o).state;
    expect(s.lastEventAt).toBe(50);
    expect(dueTrigger(s, 550, o)).toBe('local');
  });
  it('backs off exponentially up to 5 minutes while the hub is down, says so once, and once when it is back', () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([2000, 4000, 8000, 16000]);
    expect(backoffMs(30)).toBe(MAX_BACKOFF_MS);
    let s = initialState(0, o);
    let r = afterRound(s, 'start', 0, 10, 75, false, o);
    expect(r.hub).toBe('down');
    s = r.state;
    expect(dueTrigger({ ...s, hubMoved: true }, 10 + 1999, o)).toBeNull();
    expect(pollDue(s, 10 + 1999)).toBe(false);
    r = afterRound(s, 'interval', 3000, 3010, 75, false, o);
    expect(r.hub).toBeNull();
    expect(r.state.backoffUntil).toBe(3010 + 4000);
    expect(dueTrigger(r.state, 3010 + 3999, o)).toBeNull();
    expect(dueTrigger(r.state, 3010 + 4000, o)).toBe('hub'); // retried when the back-off ends, poll or not
    expect(pollDue(r.state, 3010 + 4000)).toBe(false);
    r = afterRound(r.state, 'interval', 8000, 8010, 0, false, o);
    expect(r.hub).toBe('up');
    expect(r.state.failures).toBe(0);
  });
  it('another sync holding the lock is not an outage: the round is retried soon', () => {
    const s = initialState(0, o);
    const r = afterRound(s, 'start', 0, 10, 75, true, o);
    expect(r.hub).toBeNull();
    expect(r.state.failures).toBe(0);
    expect(r.state.forced).toBe('start');
    expect(dueTrigger(r.state, 10 + 1000, o)).toBe('start');
  });
  it('ignores .git/ and the local layer', () => {
    const policy = { kindOf: (p: string) => (p.endsWith('.sqlite') ? 'local' : 'text') } as never;
    expect(relevantChange('.git/index', policy)).toBe(false);
    expect(relevantChange('.git', policy)).toBe(false);
    expect(relevantChange('db/x.sqlite', policy)).toBe(false);
    expect(relevantChange('memory/a.md', policy)).toBe(true);
    expect(relevantChange('.gitignore', policy)).toBe(true);
  });
  it('parses pause durations; a pause with an end lifts itself', () => {
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('2 hours')).toBeNull();
    expect(parseDuration('0s')).toBeNull();
    expect(parseDuration('')).toBeNull();
    expect(activePause({ since: 0, until: 100 }, 99)).not.toBeNull();
    expect(activePause({ since: 0, until: 100 }, 100)).toBeNull();
    expect(activePause({ since: 0, until: null }, 1e15)).not.toBeNull();
  });
});

describe('watch: the poll of a hub on disk', () => {
  it('reads the refs of a bare repo named by a path or file:// URL; anything else is asked with ls-remote', () => {
    const hub = makeBareHub();
    const root = tempDir();
    const none = new Map<string, string>();
    expect(localHubDir(hub, root, none)).toBe(hub);
    expect(localHubDir(`file://${hub}`, root, none)).toBe(hub);
    const rel = join('..', hub.split('/').pop()!);
    expect(localHubDir(rel, join(hub, '..', 'x'), none)).toBe(join(hub, '..', hub.split('/').pop()!));
    expect(localHubDir(root, root, none)).toBeNull(); // not a bare repo
    expect(localHubDir(join(hub, 'nope'), root, none)).toBeNull();
    expect(localHubDir('git@example.com:a/b.git', root, none)).toBeNull();
    expect(localHubDir('ssh://example.com/srv/hub.git', root, none)).toBeNull();
    expect(localHubDir('https://example.com/hub.git', root, none)).toBeNull();
    expect(localHubDir(null, root, none)).toBeNull();
    // a rewrite rule could send git elsewhere: only git knows
    expect(localHubDir(hub, root, new Map([['url.https://mirror/.insteadof', hub]]))).toBeNull();
  });

  it('a push to a hub on disk is seen at once, not at the next poll', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# d\n\n' } });
    const b = await Instance.clone(hub, 'b');
    const wb = startWatch(b, ['--debounce', '100', '--poll', '3600', '--interval', '3600']);
    await until('start round', () => wb.rounds().length === 1);
    a.append(day, '- pushed by a\n');
    expect((await a.sync()).code).toBe(0);
    await until('b has it', has(b, day, '- pushed by a'));
    expect(wb.rounds()[1]?.trigger ?? 'hub').toBe('hub');
    wb.child.kill('SIGTERM');
    expect(await wb.exited).toBe(0);
  }, 90_000);
});

describe('watch: bad input', () => {
  it('a bad flag or directory: one line naming it, exit 2 (usage) or 1 (not a repo)', async () => {
    const env = { ...process.env, HOME: tempDir(), AGENTGIT_HOME: tempDir() };
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8' });
    const r1 = run(['watch', '-C', tempDir(), '--poll', '0']);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toBe('agentgit: --poll must be a positive number (seconds)\n');
    const r2 = run(['watch', '-C', join(tempDir(), 'nope')]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/does not exist: check the -C path\n$/);
    const r3 = run(['watch', '-C', tempDir()]);
    expect(r3.status).toBe(1);
    expect(r3.stderr).toMatch(/is not in an agentgit repo .* first\n$/);
  });
});

describe('watch: file watching', () => {
  it('sees an append to a file replaced by rename (as a checkout writes), new directories, and never .git', async () => {
    const root = tempDir();
    mkdirSync(join(root, '.git'));
    mkdirSync(join(root, 'memory'));
    writeFileSync(join(root, 'memory', 'a.md'), 'x\n');
    const seen = new Set<string>();
    const w = new TreeWatcher(root, (rel) => seen.add(rel), (e) => {
      throw new Error(e);
    });
    w.start();
    try {
      writeFileSync(join(root, 'memory', '.tmp'), 'y\n');
      renameSync(join(root, 'memory', '.tmp'), join(root, 'memory', 'a.md'));
      await until('rename seen', () => seen.has('memory/a.md'));
      seen.clear();
      appendFileSync(join(root, 'memory', 'a.md'), 'z\n');
      await until('append after rename seen', () => seen.has('memory/a.md'));
      mkdirSync(join(root, 'memory', 'deep'));
      await until('new dir watched', () => w.size === 2 + 1);
      writeFileSync(join(root, 'memory', 'deep', 'b.md'), 'b\n');
      await until('file in new dir seen', () => seen.has('memory/deep/b.md'));
      writeFileSync(join(root, '.git', 'index'), 'i');
      writeFileSync(join(root, 'c.md'), 'c');
      await until('c seen', () => seen.has('c.md'));
      expect([...seen].some((p) => p.startsWith('.git'))).toBe(false);
    } finally {
      w.close();
    }
  });
});

describe('watch: two watchers on a file hub', () => {
  it('entries written on either watcher, also during rounds, reach the other, each exactly once; status shows the watcher', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# 2026-12-03\n\n' } });
    const b = await Instance.clone(hub, 'b');
    const wa = startWatch(a);
    const wb = startWatch(b);
    await until('both watchers ran their start round', () => wa.rounds().length > 0 && wb.rounds().length > 0);
    const written: string[] = [];
    for (let i = 0; i < 12; i++) {
      const [inst, name] = i % 2 === 0 ? [a, 'a'] : [b, 'b'];
      const e = `- ${String(i).padStart(2, '0')} from ${name}`;
      inst.append(day, e + '\n');
      written.push(e);
      await new Promise((r) => setTimeout(r, 150 + (i % 3) * 150)); // some land while a round runs
    }
    for (const e of written) {
      await until(`${e} on a`, has(a, day, e));
      await until(`${e} on b`, has(b, day, e));
    }
    await until('both identical', () => a.read(day) === b.read(day) && expectSameSnapshots([a, b]).same);
    for (const inst of [a, b]) {
      const got = entries(inst.read(day));
      expect(got.sort()).toEqual([...written].sort());
      expect(inst.read(day)).not.toMatch(MARKERS);
    }
    const triggers = new Set([...wa.rounds(), ...wb.rounds()].map((r) => r.trigger));
    expect(triggers.has('local')).toBe(true);
    // once both are idle, a write on a reaches b through b's poll (a 'hub' round)
    await settled([wa, wb]);
    const before = wb.rounds().length;
    a.append(day, '- polled by b\n');
    await until('b has it', has(b, day, '- polled by b')).catch((e: Error) => {
      throw new Error(`${e.message}\nA:${wa.stderr()}\n${wa.stdout().slice(-1500)}\nB:${wb.stderr()}\n${wb.stdout().slice(-1500)}`);
    });
    // the round's JSON line comes after the file lands: wait for it
    await until("b's round reported", () => wb.rounds().length > before);
    expect(wb.rounds().slice(before)[0]!.trigger).toBe('hub');
    // the files that round wrote are no reason for another round
    await settled([wa, wb]);
    expect(wb.rounds().slice(before).map((r) => r.trigger)).toEqual(['hub']);
    const st = await a.run(['status', '--json']);
    const rep = JSON.parse(st.stdout) as { watch: { running: boolean; rounds: number; pid: number } };
    expect(rep.watch.running).toBe(true);
    expect(rep.watch.pid).toBe(wa.child.pid);
    expect(rep.watch.rounds).toBeGreaterThan(0);
    const text = await a.run(['status']);
    expect(text.stdout).toMatch(/^watch: running \(pid \d+\), \d+ rounds?/m);
    const prom = join(tempDir(), 'a.prom');
    await a.run(['status', '--prometheus', prom, '--json']);
    expect(spawnSync('cat', [prom], { encoding: 'utf8' }).stdout).toMatch(/^agentgit_watch_running\{[^}]*\} 1$/m);

    // SIGTERM (perhaps during a round): exit 0, nothing mid-merge, lock released
    a.append(day, '- last from a\n');
    await new Promise((r) => setTimeout(r, 250));
    wa.child.kill('SIGTERM');
    wb.child.kill('SIGTERM');
    expect(await wa.exited).toBe(0);
    expect(await wb.exited).toBe(0);
    for (const inst of [a, b]) {
      expect(existsSync(join(inst.dir, '.git', 'MERGE_HEAD'))).toBe(false);
      expect(existsSync(join(inst.dir, '.git', 'agentgit', 'sync.lock'))).toBe(false);
    }
    const after = JSON.parse((await a.run(['status', '--json'])).stdout) as { watch: { running: boolean } };
    expect(after.watch.running).toBe(false);
    expect((await a.run(['status'])).stdout).toMatch(/^watch: not running/m);
  }, 150_000);

  it('kill -9 of a watcher mid-round, then a restart, converges with every entry once', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# d\n\n' } });
    const b = await Instance.clone(hub, 'b');
    const wb = startWatch(b);
    let wa = startWatch(a, ['--debounce', '50', '--poll', '1']);
    await until('a started', () => wa.rounds().length > 0);
    const written: string[] = [];
    for (let i = 0; i < 6; i++) {
      const e = `- k${i} from a`;
      a.append(day, e + '\n');
      written.push(e);
      if (i === 2) {
        // a round is likely running now (debounce 50 ms): kill it there
        await new Promise((r) => setTimeout(r, 120));
        wa.child.kill('SIGKILL');
        await wa.exited;
        wa = startWatch(a, ['--debounce', '50', '--poll', '1']);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const e of written) await until(`${e} on b`, has(b, day, e));
    await until('identical', () => a.read(day) === b.read(day));
    expect(entries(b.read(day)).sort()).toEqual([...written].sort());
    wa.child.kill('SIGTERM');
    wb.child.kill('SIGTERM');
    expect(await wa.exited).toBe(0);
    expect(await wb.exited).toBe(0);
  }, 120_000);
});

describe('watch: three watchers on a file hub', () => {
  it('entries written on all three during rounds arrive exactly once; a watcher killed -9 in its merge, and one stopped by SIGTERM in its merge, recover', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# d\n\n' } });
    const b = await Instance.clone(hub, 'b');
    const c = await Instance.clone(hub, 'c');
    const wa = startWatch(a);
    const firstB = startWatch(b, undefined, { AGENTGIT_FAILPOINT: 'merge:kill' });
    const firstC = startWatch(c, undefined, { AGENTGIT_FAILPOINT: 'merge:sleep=3000' });
    let wb = firstB;
    let wc = firstC;
    await until('three start rounds', () => [wa, wb, wc].every((w) => w.rounds().length > 0));
    const written: string[] = [];
    const write = (inst: Instance): void => {
      const e = `- ${String(written.length).padStart(3, '0')} from ${inst.name}`;
      inst.append(day, e + '\n');
      written.push(e);
    };
    // all three write at once, again and again (so rounds merge), until b died
    // in a merge (failpoint kill) and c was sent SIGTERM while stalled in one
    let bKilled = false;
    let cStopped = false;
    await until(
      'b killed and c stopped, each in a merge',
      async () => {
        for (const inst of [a, b, c]) write(inst);
        await new Promise((r) => setTimeout(r, 400));
        if (!bKilled && /failpoint merge: kill/.test(firstB.stderr())) {
          expect(await firstB.exited).toBeNull(); // SIGKILL: no exit code
          bKilled = true;
          wb = startWatch(b);
        }
        if (!cStopped && /failpoint merge: sleep/.test(firstC.stderr())) {
          firstC.child.kill('SIGTERM');
          expect(await firstC.exited).toBe(0); // the round finished first
          expect(existsSync(join(c.dir, '.git', 'agentgit', 'sync.lock'))).toBe(false);
          expect(existsSync(join(c.dir, '.git', 'MERGE_HEAD'))).toBe(false);
          expect(c.git(['ls-files', '-u']).trim()).toBe('');
          expect(c.read(day)).not.toMatch(MARKERS);
          cStopped = true;
          wc = startWatch(c);
        }
        return bKilled && cStopped;
      },
      120_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\nB:${firstB.stderr()}\nC:${firstC.stderr()}`);
    });
    for (const inst of [a, b, c]) write(inst);
    for (const inst of [a, b, c]) for (const e of written) await until(`${e} on ${inst.name}`, has(inst, day, e), 90_000);
    await until('identical', () => a.read(day) === b.read(day) && b.read(day) === c.read(day) && expectSameSnapshots([a, b, c]).same, 90_000);
    for (const inst of [a, b, c]) {
      expect(entries(inst.read(day)).sort()).toEqual([...written].sort());
      expect(inst.read(day)).not.toMatch(MARKERS);
    }
    for (const w of [wa, wb, wc]) w.child.kill('SIGTERM');
    for (const w of [wa, wb, wc]) expect(await w.exited).toBe(0);
  }, 240_000);

  it('polls a hub on disk without a process, and a local round skips the fetch while the hub has not moved', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# d\n\n' } });
    const b = await Instance.clone(hub, 'b');
    expect((await a.sync()).code).toBe(0); // b's admission
    const wa = startWatch(a, ['--debounce', '100', '--poll', '1'], { AGENTGIT_TRACE: '1' });
    await until('start round', () => wa.rounds().length === 1);
    await until('three polls', () => (wa.stderr().match(/^\[trace poll file \d+us\]$/gm) ?? []).length >= 3);
    expect(wa.stderr()).not.toMatch(/git ls-remote/);
    const count = (re: RegExp): number => (wa.stderr().match(re) ?? []).length;
    const fetches = count(/\] git fetch /g);
    const pushes = count(/\] (?:git|in-process) push /g);
    const revParses = count(/\] git rev-parse /g);
    a.append(day, '- while the hub is quiet\n');
    await until('local round', () => wa.rounds().some((r) => r.trigger === 'local' && r.pushed !== null));
    expect(count(/\] git fetch /g)).toBe(fetches);
    expect(count(/\] git rev-parse /g)).toBe(revParses); // the round's own new commit: no process to ask what it is
    expect(count(/\] (?:git|in-process) push /g)).toBeGreaterThan(pushes);
    expect(git(hub, ['show', 'main:' + day])).toContain('- while the hub is quiet');
    wa.child.kill('SIGTERM');
    expect(await wa.exited).toBe(0);
    // the hub moves (b pushes) while a's local round is under way (stalled
    // after its commit): the round sees the hub moved, fetches and merges
    const wa2 = startWatch(a, ['--debounce', '100', '--poll', '3600'], { AGENTGIT_TRACE: '1', AGENTGIT_FAILPOINT: 'commit:sleep=10000' }); // b's sync must land inside the stall, also on a loaded machine
    await until('start round', () => wa2.rounds().length === 1);
    const fetches2 = (wa2.stderr().match(/\] git fetch /g) ?? []).length;
    a.append(day, '- from a\n');
    await until('a stalled in its local round', () => /failpoint commit: sleep/.test(wa2.stderr()));
    b.append(day, '- from b\n');
    expect((await b.sync()).code).toBe(0);
    // the round's JSON line comes after its push: wait for it too
    await until('merged and pushed', () => has(a, day, '- from b')() && git(hub, ['show', 'main:' + day]).includes('- from a') && wa2.rounds().length >= 2);
    const local = wa2.rounds()[1]!;
    expect(local.trigger).toBe('local');
    expect((local as unknown as { mergedFromHub: number }).mergedFromHub).toBeGreaterThan(0);
    expect((wa2.stderr().match(/\] git fetch /g) ?? []).length).toBeGreaterThan(fetches2);
    expect((await b.sync()).code).toBe(0);
    expect(entries(b.read(day)).sort()).toEqual(['- from a', '- from b', '- while the hub is quiet']);
    wa2.child.kill('SIGTERM');
    expect(await wa2.exited).toBe(0);
  }, 90_000);
});

describe('watch: hub down, pause, SIGHUP', () => {
  it('backs off while the hub is down, says so once, and once when it is back', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# d\n\n' } });
    const b = await Instance.clone(hub, 'b');
    a.git(['remote', 'set-url', 'origin', closedPortUrl('ssh')]);
    const wa = startWatch(a, ['--debounce', '100', '--poll', '1']);
    a.append(day, '- written while the hub is down\n');
    await until('three failed rounds', () => wa.rounds().filter((r) => r.exitCode === 75).length >= 3);
    expect(wa.stderr().match(/hub unreachable/g)).toHaveLength(1);
    a.git(['remote', 'set-url', 'origin', hub]);
    await until('hub back', () => /hub back after \d+ failed rounds?/.test(wa.stderr()), 90_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${wa.stderr()}\n${wa.stdout().slice(-3000)}`);
    });
    expect(wa.stderr().match(/hub back/g)).toHaveLength(1);
    expect(wa.stderr().match(/hub unreachable/g)).toHaveLength(1);
    expect((await b.sync()).code).toBe(0);
    expect(b.read(day)).toContain('- written while the hub is down');
    wa.child.kill('SIGTERM');
    expect(await wa.exited).toBe(0);
  }, 150_000);

  it('a lock held by another sync (cron) is no outage: the watcher waits for it, then syncs', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# d\n\n' } });
    const lock = join(a.dir, '.git', 'agentgit', 'sync.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, start: processStart(process.pid), host: hostname(), since: Date.now() }) + '\n');
    const wa = startWatch(a, ['--debounce', '100', '--poll', '1']);
    a.append(day, '- while cron held the lock\n');
    await until('two skipped rounds', () => wa.rounds().filter((r) => r.exitCode === 75).length >= 2);
    expect(wa.stderr()).not.toMatch(/hub unreachable/);
    rmSync(lock);
    await until('synced', () => wa.rounds().some((r) => r.exitCode === 0 && r.pushed !== null));
    expect(git(hub, ['show', 'main:' + day])).toContain('- while cron held the lock');
    wa.child.kill('SIGTERM');
    expect(await wa.exited).toBe(0);
  }, 60_000);

  it('pause: sync and watch do nothing (exit 0), status says until when; resume sends what was written', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# d\n\n' } });
    const b = await Instance.clone(hub, 'b');
    const p = await a.run(['pause', '--for', '2h']);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/^paused until \d{4}-\d\d-\d\dT/);
    a.append(day, '- written while paused\n');
    const s = await a.sync();
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^paused until \d{4}-/);
    expect((await a.sync(['--quiet'])).stdout).toBe('');
    const st = JSON.parse((await a.run(['status', '--json'])).stdout) as { paused: { until: string } | null; uncommitted: string[] };
    expect(st.paused?.until).toMatch(/^\d{4}-/);
    expect(st.uncommitted).toContain(day); // kept, not committed
    expect((await a.run(['status'])).stdout).toMatch(/^paused: until \d{4}-/m);
    expect((await a.run(['pause', '--for', 'soon'])).code).toBe(2);

    // indefinitely, with a watcher running: it does nothing until resume, then a round at once
    expect((await a.run(['pause'])).code).toBe(0);
    const wa = startWatch(a, ['--debounce', '100', '--poll', '1']);
    await until('watcher says paused', () => /paused until `agentgit resume`/.test(wa.stderr()));
    a.append(day, '- also while paused\n');
    expect(wa.rounds()).toHaveLength(0);
    const r = await a.run(['resume']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^resumed/);
    await until('a resume round', () => wa.rounds().some((x) => x.trigger === 'resume'));
    expect(wa.rounds()[0]!.trigger).toBe('resume');
    expect((await b.sync()).code).toBe(0);
    expect(entries(b.read(day))).toEqual(['- written while paused', '- also while paused']);
    expect(JSON.parse((await a.run(['status', '--json'])).stdout).paused).toBeNull();
    expect((await a.run(['resume'])).stdout).toMatch(/^not paused/);
    wa.child.kill('SIGTERM');
    expect(await wa.exited).toBe(0);
  }, 120_000);

  it('SIGHUP re-reads the policy and runs a round under it; a bad policy keeps the watcher up', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# d\n\n' } });
    const wa = startWatch(a, ['--debounce', '100', '--poll', '30', '--interval', '3000']);
    await until('start round', () => wa.rounds().length === 1);
    wa.child.kill('SIGHUP');
    await until('re-read', () => /SIGHUP: re-read the policy/.test(wa.stderr()));
    await until('a round after SIGHUP', () => wa.rounds().length >= 2);
    const cfg = a.path('.agentgit/config.json');
    writeFileSync(cfg, '{ not json');
    wa.child.kill('SIGHUP');
    await until('complaint', () => /SIGHUP: could not re-read the policy, keeping the old one/.test(wa.stderr()));
    expect(wa.child.exitCode).toBeNull();
    wa.child.kill('SIGTERM');
    expect(await wa.exited).toBe(0);
  }, 60_000);
});

describe('watch: memory stays flat', () => {
  it('heap after GC does not grow over many in-process rounds', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { [day]: '# d\n\n' } });
    const script = `
      import { runWatch } from ${JSON.stringify(join(ROOT, 'dist', 'sync', 'watch.js'))};
      let n = 0; const heap = [];
      await runWatch({ dir: process.argv[1], debounceMs: 10, pollSec: 0.01, intervalSec: 0.001, quiet: true, json: true, maxRounds: 240,
        err: () => {},
        out: () => { n++; if (n === 40 || n === 240) { global.gc(); global.gc(); heap.push(process.memoryUsage().heapUsed); } } });
      process.stdout.write(JSON.stringify(heap) + '\\n');
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, a.dir], { env: a.env, encoding: 'utf8', timeout: 170_000 });
    expect(r.status, r.stderr).toBe(0);
    const [early, late] = JSON.parse(r.stdout.trim().split('\n').pop()!) as number[];
    expect(late).toBeLessThan(early! * 1.25 + 2 * 1024 * 1024);
  }, 180_000);
});

const avail = hubsAvailable();
describe.skipIf(!avail.ssh)('watch: ssh hub', () => {
  let hub: SshHub;
  beforeAll(async () => {
    hub = await startSshHub();
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
  });

  it('two watchers sync through sshd; idle polls share one connection; the hub down then up is said once each', async () => {
    const a = await Instance.init(hub.url, 'a', { files: { [day]: '# d\n\n' }, extraEnv: hub.clientEnv });
    const b = await Instance.clone(hub.url, 'b', { extraEnv: hub.clientEnv });
    const wa = startWatch(a, ['--debounce', '100', '--poll', '1']);
    const wb = startWatch(b, ['--debounce', '100', '--poll', '1']);
    await until('both started', () => wa.rounds().length > 0 && wb.rounds().length > 0);
    a.append(day, '- over ssh from a\n');
    await until('b has it', has(b, day, '- over ssh from a'));
    // idle: polls every second, riding one ControlMaster per watcher
    await until('b reported', () => wb.rounds().some((r) => r.trigger === 'hub'));
    await settled([wa, wb]);
    const before = hub.connectionCount();
    const polls0 = wa.rounds().length + wb.rounds().length;
    await new Promise((r) => setTimeout(r, 6000)); // let several polls happen (not an assertion on time)
    expect(wa.rounds().length + wb.rounds().length).toBe(polls0); // idle: polls only, no rounds
    expect(hub.connectionCount() - before).toBeLessThanOrEqual(2);
    // rounds ride the same connections: a round leaves the watcher's master up
    const beforeRounds = hub.connectionCount();
    a.append(day, '- rides the open connection\n');
    await until('b has it too', has(b, day, '- rides the open connection'));
    await settled([wa, wb]);
    expect(hub.connectionCount() - beforeRounds).toBeLessThanOrEqual(1);
    await hub.down!();
    b.append(day, '- while the hub was down\n');
    await until('b says unreachable', () => /hub unreachable/.test(wb.stderr()));
    await until('b failed twice', () => wb.rounds().filter((r) => r.exitCode === 75).length >= 2);
    await hub.up!();
    await until('b says back', () => /hub back after/.test(wb.stderr()), 90_000);
    await until('a has it', has(a, day, '- while the hub was down'), 90_000);
    expect(wb.stderr().match(/hub unreachable/g)).toHaveLength(1);
    expect(wb.stderr().match(/hub back/g)).toHaveLength(1);
    wa.child.kill('SIGTERM');
    wb.child.kill('SIGTERM');
    expect(await wa.exited).toBe(0);
    expect(await wb.exited).toBe(0);
  }, 180_000);
});

describe.skipIf(!avail.https)('watch: https hub', () => {
  let hub: HttpsHub;
  beforeAll(async () => {
    hub = await startHttpsHub();
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
  });

  it('two watchers sync through nginx both ways, each entry once', async () => {
    const a = await Instance.init(hub.url, 'a', { files: { [day]: '# d\n\n' }, extraEnv: hub.clientEnv });
    const b = await Instance.clone(hub.url, 'b', { extraEnv: hub.clientEnv });
    const wa = startWatch(a, ['--debounce', '100', '--poll', '1']);
    const wb = startWatch(b, ['--debounce', '100', '--poll', '1']);
    await until('both started', () => wa.rounds().length > 0 && wb.rounds().length > 0);
    a.append(day, '- https from a\n');
    b.append(day, '- https from b\n');
    for (const inst of [a, b]) for (const e of ['- https from a', '- https from b']) await until(`${e} on ${inst.name}`, has(inst, day, e));
    await until('identical', () => a.read(day) === b.read(day));
    expect(entries(a.read(day)).sort()).toEqual(['- https from a', '- https from b']);
    wa.child.kill('SIGTERM');
    wb.child.kill('SIGTERM');
    expect(await wa.exited).toBe(0);
    expect(await wb.exited).toBe(0);
  }, 120_000);
});
