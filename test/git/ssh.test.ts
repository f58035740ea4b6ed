/**
 * One ssh connection per sync round (git/ssh.ts, issue #7): the round's
 * fetch and push share it; the master outlives the round so that the next
 * round rides it (unless AGENTGIT_SSH_PERSIST=0: then it is closed when the
 * round ends), only for the same ssh command and hub URL, and only until it
 * is MAX_MASTER_AGE_MS old; the operator's own ssh setup (GIT_SSH, Control
 * options, core.sshCommand, AGENTGIT_SSH_MUX=0) is respected. Against a
 * real sshd on 127.0.0.1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SSH_COMMAND, isSshUrl, MAX_MASTER_AGE_MS, persistSeconds, shareSshConnection, sshCommand, sshDestination, sshSocketDir, warmSshConnection } from '../../src/git/ssh.js';
import { processStart } from '../../src/lock.js';
import { openHubConnectionAhead, pushGoesElsewhere, urlRules } from '../../src/sync/ssh-ahead.js';
import { agentgit, cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';
import { hubsAvailable, startHungHub, startSshHub, type SshHub } from '../helpers/hubs.js';

afterAll(() => cleanupTemp());

describe('ssh destination and command', () => {
  it('tells the ssh URL forms git accepts from paths and other URLs', () => {
    for (const ssh of ['git@github.com:org/agent.git', 'hub:agent.git', 'ssh://git@127.0.0.1:2222/srv/agent.git', 'ssh://hub.example/agent.git', 'git+ssh://u@[::1]:22/a.git', '[::1]:a.git', '[hub:2222]:a.git']) {
      expect(isSshUrl(ssh), ssh).toBe(true);
    }
    for (const other of ['/srv/hub.git', './hub.git', 'file:///srv/hub.git', 'https://h/a.git', 'http://h:80/a.git', 'dir/with:colon']) {
      expect(isSshUrl(other), other).toBe(false);
    }
  });

  it("names the destination git gives ssh, and nothing it would have to guess", () => {
    expect(sshDestination('git@github.com:org/agent.git')).toEqual({ dest: 'git@github.com', port: null });
    expect(sshDestination('hub:agent.git')).toEqual({ dest: 'hub', port: null });
    expect(sshDestination('ssh://git@127.0.0.1:2222/srv/agent.git')).toEqual({ dest: 'git@127.0.0.1', port: '2222' });
    expect(sshDestination('ssh://hub.example/agent.git')).toEqual({ dest: 'hub.example', port: null });
    expect(sshDestination('git+ssh://u@hub/a.git')).toEqual({ dest: 'u@hub', port: null });
    // brackets (IPv6, [host:port]:path), an empty host or port, an option where the host goes, not ssh at all
    for (const odd of ['git+ssh://u@[::1]:22/a.git', '[::1]:a.git', '[hub:2222]:a.git', 'ssh://:22/a.git', 'ssh://hub:/a.git', 'ssh://-oProxyCommand=x/a.git', '-oProxyCommand=x:a.git', 'ssh://a b/c.git', '/srv/hub.git', 'https://h/a.git']) {
      expect(sshDestination(odd), odd).toBeNull();
    }
  });

  it('adds connection sharing only while a round shares, and only to a plain OpenSSH command', () => {
    const home = tempDir();
    const env = (e: Record<string, string>): NodeJS.ProcessEnv => ({ ...e });
    expect(sshCommand(env({}))).toBe(DEFAULT_SSH_COMMAND);
    const close = shareSshConnection('git@hub:agent.git', home);
    expect(close).not.toBeNull();
    try {
      const shared = sshCommand(env({}))!;
      expect(shared.startsWith(DEFAULT_SSH_COMMAND)).toBe(true);
      expect(shared).toContain('ControlMaster=auto');
      expect(shared).toContain('ControlPersist=360');
      expect(shared).toMatch(/ControlPersist=360 -o ServerAliveInterval=10 -o ServerAliveCountMax=2$/); // a dead connection is found out, after the operator's own options
      // a shared master: named by the ssh command and the hub URL, not by this process
      const path = /ControlPath=([^']*)'/.exec(shared)?.[1];
      expect(path).toMatch(new RegExp(`^${join(home, 'run')}/s[0-9a-f]{16}-%C$`));
      expect(sshCommand(env({ GIT_SSH_COMMAND: 'ssh -F /x/cfg -l git' }))).toMatch(/^ssh -F \/x\/cfg -l git -o ControlMaster=auto /);
      expect(sshCommand(env({ GIT_SSH_COMMAND: 'ssh -F /x/cfg -l git' }))).not.toContain(path); // another command (a deploy key): another master
      expect(sshCommand(env({ GIT_SSH_COMMAND: '/usr/bin/ssh -i key' }))).toContain('ControlMaster=auto');
      // the operator's own sharing, another program, GIT_SSH, or switched off: left alone
      expect(sshCommand(env({ GIT_SSH_COMMAND: 'ssh -o ControlPath=/mine/%C' }))).toBe('ssh -o ControlPath=/mine/%C');
      expect(sshCommand(env({ GIT_SSH_COMMAND: 'plink -batch' }))).toBe('plink -batch');
      expect(sshCommand(env({ GIT_SSH: '/usr/local/bin/myssh' }))).toBeUndefined();
      expect(sshCommand(env({ AGENTGIT_SSH_MUX: '0' }))).toBe(DEFAULT_SSH_COMMAND);
      // verbose: a master would keep git's stderr open for its whole life
      for (const verbose of ['ssh -v', 'ssh -vvv -i key', 'ssh -qv', 'ssh -o LogLevel=DEBUG3']) expect(sshCommand(env({ GIT_SSH_COMMAND: verbose })), verbose).toBe(verbose);
      for (const quiet of ['ssh -i /keys/dev-v1', 'ssh -oServerAliveInterval=5', 'ssh -lvictor', 'ssh -J dev@bastion', 'ssh -o LogLevel=ERROR', 'ssh -p 2222 -o User=v'])
        expect(sshCommand(env({ GIT_SSH_COMMAND: quiet })), quiet).toContain('ControlMaster=auto');
      expect((readdirSync(home).includes('run') ? spawnSync('stat', ['-c', '%a', join(home, 'run')], { encoding: 'utf8' }).stdout.trim() : '')).toBe('700');
      // another hub URL, another AGENTGIT_HOME (another machine's settings), another ssh agent: another master
      const prefixOf = (c: string | undefined): string => /\/(s[0-9a-f]{16})-%C'/.exec(c ?? '')?.[1] ?? '';
      const mine = prefixOf(shared);
      expect(mine).not.toBe('');
      const other = shareSshConnection('git@hub:other.git', home);
      expect(prefixOf(sshCommand(env({})))).not.toBe(mine);
      other?.();
      const elsewhere = tempDir();
      shareSshConnection('git@hub:agent.git', elsewhere)?.();
      const again = shareSshConnection('git@hub:agent.git', elsewhere);
      expect(prefixOf(sshCommand(env({})))).not.toBe(mine);
      again?.();
      const savedAgent = process.env.SSH_AUTH_SOCK;
      process.env.SSH_AUTH_SOCK = '/tmp/ssh-someone/agent.1';
      const agent = shareSshConnection('git@hub:agent.git', home);
      expect(prefixOf(sshCommand(env({})))).not.toBe(mine);
      agent?.();
      if (savedAgent === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = savedAgent;
      const same = shareSshConnection('git@hub:agent.git', home);
      expect(prefixOf(sshCommand(env({})))).toBe(mine);
      same?.();
    } finally {
      close?.();
    }
    // AGENTGIT_SSH_PERSIST=0: this process's own master, closed with the round
    const saved = process.env.AGENTGIT_SSH_PERSIST;
    process.env.AGENTGIT_SSH_PERSIST = '0';
    const own = shareSshConnection('git@hub:agent.git', home);
    try {
      expect(sshCommand(env({}))).toContain(`ControlPath=${join(home, 'run', `${process.pid}-%C`)}`);
      expect(sshCommand(env({}))).toContain('ControlPersist=60');
    } finally {
      own?.();
      if (saved === undefined) delete process.env.AGENTGIT_SSH_PERSIST;
      else process.env.AGENTGIT_SSH_PERSIST = saved;
    }
    expect([persistSeconds({}), persistSeconds({ AGENTGIT_SSH_PERSIST: '0' }), persistSeconds({ AGENTGIT_SSH_PERSIST: ' 90 ' }), persistSeconds({ AGENTGIT_SSH_PERSIST: 'soon' }), persistSeconds({ AGENTGIT_SSH_PERSIST: '-5' })]).toEqual([360, 0, 90, 360, 360]);
    expect(sshCommand(env({}))).toBe(DEFAULT_SSH_COMMAND);
    // a home ssh could not take in ControlPath (a space, a %, too long in bytes): the private temp dir instead
    for (const odd of [join(home, 'with space'), join(home, '50%'), join(home, 'é'.repeat(30))]) {
      const c = shareSshConnection('git@hub:agent.git', odd);
      try {
        expect(sshCommand(env({})), odd).toContain(`ControlPath=${join(tmpdir(), `agentgit-${process.getuid!()}`)}/`);
      } finally {
        c?.();
      }
    }
    expect(shareSshConnection('/srv/hub.git', home)).toBeNull();
    expect(shareSshConnection('https://h/a.git', home)).toBeNull();
  });
});

const avail = hubsAvailable();

describe.skipIf(!avail.ssh)('one connection per round, against sshd', () => {
  let hub: SshHub;
  beforeAll(async () => {
    hub = await startSshHub();
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
  });

  function instance(): { dir: string; env: NodeJS.ProcessEnv } {
    const home = tempDir();
    const dir = join(home, 'agent');
    mkdirSync(join(dir, 'memory'), { recursive: true });
    writeFileSync(join(dir, 'SOUL.md'), '# soul\n');
    // these tests are about one round's connection: its master closed with it (the shared master: its own test);
    // a home short enough for the sockets to be in its own run/ (a long one: /tmp/agentgit-UID, shared by every test)
    return { dir, env: testEnv(home, { ...hub.clientEnv, AGENTGIT_SSH_PERSIST: '0', AGENTGIT_HOME: tempDir('ag-') }) };
  }

  /** An instance on its own repo of the hub, initialized and synced once. */
  async function syncedOnOwnRepo(repo: string, name: string): Promise<{ dir: string; env: NodeJS.ProcessEnv; own: { url: string; repoPath: string } }> {
    const { dir, env } = instance();
    const own = await hub.createRepo(repo);
    const init = await agentgit(['init', '-C', dir, '--remote', own.url, '--agent', 'bot', '--instance', name], { env });
    expect(init.code, init.stderr).toBe(0);
    expect((await agentgit(['sync', '-C', dir, '--quiet'], { env })).code).toBe(0);
    return { dir, env, own };
  }

  async function mastersOf(env: NodeJS.ProcessEnv): Promise<string[]> {
    const run = join(String(env.AGENTGIT_HOME), 'run');
    expect(sshSocketDir(String(env.AGENTGIT_HOME))).toBe(run); // the sockets are where this looks
    // the master is told to exit as the round ends; give it a moment
    for (let i = 0; i < 40; i++) {
      const left = spawnSync('pgrep', ['-f', `ControlPath=${run}`], { encoding: 'utf8' }).stdout.trim();
      const sockets = existsSync(run) ? readdirSync(run) : [];
      if (left === '' && sockets.length === 0) return [];
      await new Promise((r) => setTimeout(r, 50));
    }
    return [spawnSync('pgrep', ['-af', `ControlPath=${run}`], { encoding: 'utf8' }).stdout.trim(), ...readdirSync(run)];
  }

  it('a round that fetches and pushes opens one connection and leaves no master behind', async () => {
    const { dir, env } = instance();
    const init = await agentgit(['init', '-C', dir, '--remote', hub.url, '--agent', 'bot', '--instance', 'a'], { env });
    expect(init.code, init.stderr).toBe(0);
    expect((await agentgit(['sync', '-C', dir, '--quiet'], { env })).code).toBe(0);
    for (const mux of ['1', '0']) {
      writeFileSync(join(dir, 'memory', '2026-11-26.md'), `- 10:00 round with sharing ${mux}\n`, { flag: 'a' });
      const before = hub.connectionCount();
      const r = await agentgit(['sync', '-C', dir, '--quiet'], { env: { ...env, AGENTGIT_SSH_MUX: mux } });
      expect(r.code, r.stderr).toBe(0);
      expect(hub.connectionCount() - before, `AGENTGIT_SSH_MUX=${mux}`).toBe(mux === '1' ? 1 : 2);
      expect(await mastersOf(env)).toEqual([]);
    }
    expect(git(hub.repoPath, ['log', '-1', '--format=%s', 'main'])).toMatch(/agentgit: 1 file from a/);
  });

  /** Run `fn` with the hub's ssh command as this process's own (warmSshConnection reads process.env, as a round does). */
  async function withSshEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
    const saved = { GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND, GIT_SSH: process.env.GIT_SSH, AGENTGIT_SSH_PERSIST: process.env.AGENTGIT_SSH_PERSIST };
    process.env.GIT_SSH_COMMAND = env.GIT_SSH_COMMAND;
    process.env.AGENTGIT_SSH_PERSIST = env.AGENTGIT_SSH_PERSIST ?? '0';
    delete process.env.GIT_SSH;
    try {
      return await fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }

  it('the connection opened ahead of the fetch is the one git rides on, and it is closed with the round', async () => {
    const home = tempDir();
    await withSshEnv(hub.clientEnv, async () => {
      const close = shareSshConnection(hub.url, home);
      expect(close).not.toBeNull();
      try {
        const before = hub.connectionCount();
        await warmSshConnection(hub.url, 30_000);
        expect(hub.connectionCount() - before).toBe(1);
        expect(readdirSync(join(home, 'run')).filter((f) => f.startsWith(`${process.pid}-`))).toHaveLength(1); // the master's socket
        // what a round's fetch does: git's ssh with the shared command finds the master and opens no connection of its own
        const ls = spawnSync('git', ['ls-remote', hub.url], { encoding: 'utf8', env: { ...process.env, GIT_SSH_COMMAND: sshCommand(process.env) } });
        expect(ls.status, ls.stderr).toBe(0);
        expect(ls.stdout).toMatch(/refs\/heads\//);
        expect(hub.connectionCount() - before).toBe(1);
      } finally {
        close?.();
      }
      expect(await mastersOf({ AGENTGIT_HOME: home })).toEqual([]);
    });
  });

  it('opened by the CLI before the round loads: the round rides on it (one connection); a paused repo or a non-repo opens none', async () => {
    const { dir, env, own } = await syncedOnOwnRepo('ahead.git', 'e');
    // in-process, as main.ts calls it: the master is up once the round's own warm-up (the same promise) settles
    await withSshEnv(env, async () => {
      const saved = process.env.AGENTGIT_HOME;
      process.env.AGENTGIT_HOME = String(env.AGENTGIT_HOME);
      const before = hub.connectionCount();
      const close = openHubConnectionAhead(dir, 30_000);
      try {
        expect(close).not.toBeNull();
        await warmSshConnection(own.url, 30_000); // what the round does: no second master
        expect(hub.connectionCount() - before).toBe(1);
        const ls = spawnSync('git', ['ls-remote', own.url], { encoding: 'utf8', env: { ...process.env, GIT_SSH_COMMAND: sshCommand(process.env) } });
        expect(ls.status, ls.stderr).toBe(0);
        expect(hub.connectionCount() - before).toBe(1);
      } finally {
        close?.();
        if (saved === undefined) delete process.env.AGENTGIT_HOME;
        else process.env.AGENTGIT_HOME = saved;
      }
      expect(await mastersOf(env)).toEqual([]);
      expect(openHubConnectionAhead(tempDir(), 30_000)).toBeNull(); // not a repo
    });
    // the CLI: a round with a change, one connection; paused, none at all
    writeFileSync(join(dir, 'memory', '2026-12-03.md'), '- 14:00 opened ahead\n');
    let before = hub.connectionCount();
    const r = await agentgit(['sync', '-C', dir, '--quiet'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(hub.connectionCount() - before).toBe(1);
    expect(await mastersOf(env)).toEqual([]);
    expect((await agentgit(['pause', '-C', dir, '--for', '1h'], { env })).code).toBe(0);
    before = hub.connectionCount();
    const p = await agentgit(['sync', '-C', dir, '--quiet'], { env });
    expect(p.code, p.stderr).toBe(0);
    expect(hub.connectionCount() - before).toBe(0);
    expect(await mastersOf(env)).toEqual([]);
  });

  it('a hub that refuses or never answers: the warm-up gives up, leaves no ssh behind, and never throws', async () => {
    const hung = await startHungHub();
    const home = tempDir();
    try {
      await withSshEnv({ GIT_SSH_COMMAND: `ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -F /dev/null` }, async () => {
        for (const [url, maxMs, verdict] of [
          [hung.sshUrl, 500, null], // accepts TCP, never speaks ssh: given up after maxMs, left to the fetch
          ['ssh://git@127.0.0.1:1/agent.git', 30_000, /^ssh: connect to host 127\.0\.0\.1 port 1: Connection refused\r?\nfatal: Could not read from remote repository\./], // refused at once: what git's fetch would print
        ] as const) {
          const close = shareSshConnection(url, home);
          try {
            const r = await warmSshConnection(url, maxMs);
            if (verdict === null) expect(r).toBeNull();
            else expect(r).toMatch(verdict);
          } finally {
            close?.();
          }
          expect(await mastersOf({ AGENTGIT_HOME: home }), url).toEqual([]);
        }
      });
      expect(hung.connectionCount()).toBeGreaterThan(0); // it did try the hung hub
    } finally {
      await hung.stop();
    }
  });

  it('nothing is opened ahead for a usage error (--timeout 0) or a sync lock another live process holds', async () => {
    const { dir, env } = await syncedOnOwnRepo('ahead-refused.git', 'f');
    // every TCP connection sshd saw, logged in or not (a warm-up killed mid-login counts too)
    const reached = (): number => (hub.log().match(/^Connection from /gm) ?? []).length;
    writeFileSync(join(dir, 'memory', '2026-12-03.md'), '- 15:00 not yet\n');
    let before = reached();
    const u = await agentgit(['sync', '-C', dir, '--quiet', '--timeout', '0'], { env });
    expect(u.code, u.stderr).toBe(2);
    expect(u.stderr).toMatch(/--timeout must be a positive number/);
    // the lock held by a live process (this test's): the round exits 75 at once
    const lockFile = join(dir, '.git', 'agentgit', 'sync.lock');
    writeFileSync(lockFile, JSON.stringify({ pid: process.pid, start: processStart(process.pid), host: hostname(), since: 0 }) + '\n');
    try {
      const b = await agentgit(['sync', '-C', dir], { env });
      expect(b.code, b.stderr).toBe(75);
      expect(b.stderr).toMatch(/lock/);
    } finally {
      rmSync(lockFile, { force: true });
    }
    await new Promise((r) => setTimeout(r, 300)); // sshd logs a connection as it accepts it: give a late one time to show
    expect(reached() - before).toBe(0);
    expect(await mastersOf(env)).toEqual([]);
    // and the lock free again: the connection is opened ahead as before
    before = hub.connectionCount();
    const r = await agentgit(['sync', '-C', dir, '--quiet'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(hub.connectionCount() - before).toBe(1);
  });

  /** An ssh command whose `ssh` logs each run in `log` before running the real one (still OpenSSH's `ssh` to agentgit). */
  function countingSsh(command: string): { env: Record<string, string>; runs: () => number } {
    const dir = tempDir('agentgit-ssh-wrap-');
    const log = join(dir, 'runs');
    writeFileSync(log, '');
    writeFileSync(join(dir, 'ssh'), `#!/bin/sh\necho run >> '${log}'\nexec ssh "$@"\n`, { mode: 0o755 });
    return { env: { GIT_SSH_COMMAND: command.replace(/^ssh /, `${join(dir, 'ssh')} `) }, runs: () => readFileSync(log, 'utf8').split('\n').filter(Boolean).length };
  }

  it('a hub ssh cannot reach: one attempt (the warm-up), exit 75 with the fetch\'s own message; a key the hub refuses is left to git', async () => {
    const { dir, env, own } = await syncedOnOwnRepo('dead.git', 'g');
    writeFileSync(join(dir, 'memory', '2026-12-03.md'), '- 16:00 while the hub is away\n');
    const dead = `ssh://${hub.serverUser}@127.0.0.1:1/dead.git`;
    git(dir, ['remote', 'set-url', 'origin', dead], env);
    const ssh = countingSsh('ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null');
    const r = await agentgit(['sync', '-C', dir], { env: { ...env, ...ssh.env } });
    expect(r.code, r.stderr).toBe(75);
    expect(ssh.runs()).toBe(1); // not a second connect (and its timeout) by the fetch
    expect(r.stderr).toMatch(/^agentgit: the hub is unreachable: connect to host 127\.0\.0\.1 port 1: Connection refused$/m);
    expect(git(dir, ['status', '--porcelain'], env)).toBe(''); // the local work is committed
    // the message is the one the fetch itself gives (no warm-up: AGENTGIT_SSH_MUX=0)
    const f = await agentgit(['sync', '-C', dir], { env: { ...env, ...ssh.env, AGENTGIT_SSH_MUX: '0' } });
    expect(f.code, f.stderr).toBe(75);
    expect(f.stderr).toBe(r.stderr);
    // a key the hub refuses: the warm-up fails, and git's fetch reports it (exit 1, never 75)
    git(dir, ['remote', 'set-url', 'origin', own.url], env);
    const stranger = countingSsh((await hub.clientEnvWithUnknownKey()).GIT_SSH_COMMAND!);
    const a = await agentgit(['sync', '-C', dir], { env: { ...env, ...stranger.env } });
    expect(a.code, a.stderr).toBe(1);
    expect(a.stderr).toMatch(/the hub refused our credentials/);
    expect(stranger.runs()).toBe(2);
    expect(await mastersOf(env)).toEqual([]);
  });

  it('the master outlives the round: the next rounds log in no more; one past its age is stopped and replaced, and so is one killed', async () => {
    const { dir, env: perRound, own } = await syncedOnOwnRepo('shared.git', 'h');
    const env = { ...perRound };
    delete env.AGENTGIT_SSH_PERSIST; // the default: shared
    const run = join(String(env.AGENTGIT_HOME), 'run');
    expect(sshSocketDir(String(env.AGENTGIT_HOME))).toBe(run);
    const sockets = (): string[] => (existsSync(run) ? readdirSync(run).filter((f) => f.startsWith('s')) : []);
    const control = (socket: string, op: string) => spawnSync('/bin/sh', ['-c', `${env.GIT_SSH_COMMAND} "$@"`, 'ssh', '-o', `ControlPath=${join(run, socket)}`, '-O', op, 'agentgit-hub'], { encoding: 'utf8' });
    const day = join(dir, 'memory', '2026-12-04.md');
    const round = async (line: string, expectLogins: number): Promise<void> => {
      writeFileSync(day, `${line}\n`, { flag: 'a' });
      const before = hub.connectionCount();
      const r = await agentgit(['sync', '-C', dir, '--quiet'], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(hub.connectionCount() - before, line).toBe(expectLogins);
      expect(git(own.repoPath, ['show', 'main:memory/2026-12-04.md'])).toContain(line);
    };
    try {
      await round('- 17:00 opens the shared master', 1);
      expect(sockets()).toHaveLength(1);
      const first = sockets()[0]!;
      expect(control(first, 'check').status).toBe(0); // up after the round ended
      await round('- 17:01 rides it', 0);
      const noop = hub.connectionCount();
      expect((await agentgit(['sync', '-C', dir, '--quiet'], { env })).code).toBe(0);
      expect(hub.connectionCount() - noop).toBe(0);
      // past its age: the round still rides it, then tells it to stop; the next round logs in afresh
      const old = (Date.now() - MAX_MASTER_AGE_MS - 60_000) / 1000;
      utimesSync(join(run, first), old, old);
      await round('- 17:02 the last on the old master', 0);
      for (let i = 0; i < 100 && existsSync(join(run, first)); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(join(run, first))).toBe(false);
      await round('- 17:03 a fresh login', 1);
      expect(sockets()).toHaveLength(1);
      expect(Date.now() - lstatSync(join(run, sockets()[0]!)).mtimeMs).toBeLessThan(MAX_MASTER_AGE_MS);
      // a master killed (kill -9) leaves its socket: the next round logs in once and leaves a master that answers
      const pid = /pid=(\d+)/.exec(control(sockets()[0]!, 'check').stderr)?.[1];
      expect(pid).toBeDefined();
      process.kill(Number(pid), 'SIGKILL');
      for (let i = 0; i < 100 && control(sockets()[0]!, 'check').status === 0; i++) await new Promise((r) => setTimeout(r, 50));
      await round('- 17:04 after the master was killed', 1);
      expect(sockets()).toHaveLength(1);
      expect(control(sockets()[0]!, 'check').status).toBe(0);
    } finally {
      for (const f of sockets()) control(f, 'exit');
    }
  });

  it('a hub that froze under a kept master: the round still ends with its --timeout (exit 75), and the next one after the hub is back goes on', async () => {
    const { dir, env: perRound, own } = await syncedOnOwnRepo('frozen.git', 'i');
    const env = { ...perRound };
    delete env.AGENTGIT_SSH_PERSIST;
    expect((await agentgit(['sync', '-C', dir, '--quiet'], { env })).code).toBe(0); // the master is up now
    writeFileSync(join(dir, 'memory', '2026-12-04.md'), '- 18:00 while the hub is frozen\n');
    await hub.pause!();
    let r: Awaited<ReturnType<typeof agentgit>>;
    try {
      // riding the master, git's ssh hands its stderr to the master, which holds it while the hub never answers
      // (a kill at 15 s: the master itself finds the hub dead only after 20 to 30 s of ServerAlive; the round must not wait for that)
      r = await agentgit(['sync', '-C', dir, '--timeout', '4'], { env, timeoutMs: 15_000 });
    } finally {
      await hub.resume!();
    }
    expect(r.code, r.stderr).toBe(75);
    expect(git(dir, ['status', '--porcelain'], env)).toBe(''); // committed locally
    const after = await agentgit(['sync', '-C', dir, '--quiet'], { env, timeoutMs: 90_000 });
    expect(after.code, after.stderr).toBe(0);
    expect(git(own.repoPath, ['show', 'main:memory/2026-12-04.md'])).toContain('while the hub is frozen');
  }, 120_000);

  it('which URL rules stop sharing: a pushurl or pushInsteadOf (pushes may go to another alias), not a plain insteadOf (its rules name the master)', () => {
    const cfg = (o: Record<string, string>): Map<string, string> => new Map(Object.entries(o));
    expect(pushGoesElsewhere(cfg({}), 'origin')).toBe(false);
    expect(pushGoesElsewhere(cfg({ 'url.git@github.com:.insteadof': 'https://github.com/' }), 'origin')).toBe(false);
    expect(pushGoesElsewhere(cfg({ 'remote.origin.pushurl': 'git@other:agent.git' }), 'origin')).toBe(true);
    expect(pushGoesElsewhere(cfg({ 'remote.backup.pushurl': 'git@other:agent.git' }), 'origin')).toBe(false);
    expect(pushGoesElsewhere(cfg({ 'url.git@push-alias:.pushinsteadof': 'git@hub:' }), 'origin')).toBe(true);
    const home = tempDir();
    const prefixOf = (): string => /\/(s[0-9a-f]{16})-%C'/.exec(sshCommand({}) ?? '')?.[1] ?? '';
    const names = ['', urlRules(cfg({ 'url.git@a:.insteadof': 'hub:' })), urlRules(cfg({ 'url.git@b:.insteadof': 'hub:' }))].map((rules) => {
      const close = shareSshConnection('hub:agent.git', home, rules);
      try {
        return prefixOf();
      } finally {
        close?.();
      }
    });
    expect(new Set(names).size).toBe(3);
  });

  it('a repo with a pushurl (another host alias, maybe another key) shares no connection', async () => {
    const { dir, env: perRound, own } = await syncedOnOwnRepo('pushurl.git', 'j');
    const env = { ...perRound };
    delete env.AGENTGIT_SSH_PERSIST;
    git(dir, ['config', 'remote.origin.pushurl', own.url], env);
    const run = join(String(env.AGENTGIT_HOME), 'run');
    const before = hub.connectionCount();
    writeFileSync(join(dir, 'memory', '2026-12-04.md'), '- 19:00 pushed by its pushurl\n');
    const r = await agentgit(['sync', '-C', dir, '--quiet'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(hub.connectionCount() - before).toBe(2); // the fetch and the push, each its own
    expect(existsSync(run) ? readdirSync(run) : []).toEqual([]);
  });

  it("the repo's core.sshCommand is used when the environment sets no ssh command", async () => {
    const { dir, env } = instance();
    const other = await hub.createRepo('other.git');
    const init = await agentgit(['init', '-C', dir, '--remote', other.url, '--agent', 'bot', '--instance', 'c'], { env });
    expect(init.code, init.stderr).toBe(0);
    git(dir, ['config', 'core.sshCommand', String(env.GIT_SSH_COMMAND)], env);
    const bare = { ...env };
    delete bare.GIT_SSH_COMMAND; // the hub's host alias is only known to its ssh config file
    writeFileSync(join(dir, 'memory', '2026-11-26.md'), '- 11:00 via core.sshCommand\n');
    const r = await agentgit(['sync', '-C', dir, '--quiet'], { env: bare });
    expect(r.code, r.stderr).toBe(0);
    expect(git(other.repoPath, ['log', '-1', '--format=%s', 'main'])).toMatch(/from c/);
    expect(await mastersOf(env)).toEqual([]);
  });
});
