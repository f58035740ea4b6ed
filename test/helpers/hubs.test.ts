import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closedPortUrl,
  gitEnv,
  hubsAvailable,
  leakedHubProcesses,
  processStat,
  run,
  runOk,
  startFileHub,
  startHttpsHub,
  startHungHub,
  startSshHub,
  type Hub,
  type HttpsHub,
  type SshHub,
} from './hubs.js';

const avail = hubsAvailable();
if (!avail.ssh || !avail.https) {
  console.warn(`[hubs.test] skipping real-hub tests: ${avail.reason ?? 'unknown reason'}`);
}

let work: string;
/** every process any hub of this file ever had */
const seenPids = new Map<number, { comm: string; start: string }>();
const allHubs: Hub[] = [];

function remember(hub: Hub): void {
  for (const p of hub.processes()) seenPids.set(p.pid, { comm: p.comm, start: p.start });
}

async function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t = performance.now();
  const v = await f();
  console.log(`[hubs.test] ${label}: ${(performance.now() - t).toFixed(0)} ms`);
  return v;
}

async function git(args: string[], env: NodeJS.ProcessEnv, cwd?: string) {
  return runOk('git', args, { env, cwd: cwd ?? work, timeoutMs: 30_000 });
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/** clone, commit, push, second clone, commit+push from the first, pull in the second */
async function roundTrip(hub: Hub, name: string): Promise<void> {
  const env = gitEnv(hub.clientEnv);
  const a = path.join(work, `${name}-a`);
  const b = path.join(work, `${name}-b`);
  // the local default would be "master": an empty clone gets "main" only from the hub's HEAD
  await git(['-c', 'init.defaultBranch=master', 'clone', '-q', hub.url, a], env);
  expect((await git(['symbolic-ref', 'HEAD'], env, a)).stdout.trim()).toBe('refs/heads/main');
  await writeFile(path.join(a, 'state.md'), 'one\n');
  // a few MB of incompressible data: pushes over http go chunked above http.postBuffer (1 MiB)
  await writeFile(path.join(a, 'blob.bin'), randomBytes(1536 * 1024));
  await git(['add', '-A'], env, a);
  await git(['commit', '-q', '-m', 'one'], env, a);
  await git(['push', '-q', 'origin', 'main'], env, a);
  const head1 = (await git(['rev-parse', 'HEAD'], env, a)).stdout.trim();
  expect((await git(['--git-dir', hub.repoPath, 'rev-parse', 'main'], env)).stdout.trim()).toBe(head1);

  await git(['clone', '-q', hub.url, b], env);
  expect(await readFile(path.join(b, 'state.md'), 'utf8')).toBe('one\n');

  await writeFile(path.join(a, 'state.md'), 'one\ntwo\n');
  await git(['commit', '-q', '-am', 'two'], env, a);
  await git(['push', '-q', 'origin', 'main'], env, a);
  await git(['pull', '-q', '--ff-only'], env, b);
  expect(await readFile(path.join(b, 'state.md'), 'utf8')).toBe('one\ntwo\n');

  const ls = await git(['ls-remote', hub.url], env);
  expect(ls.stdout).toContain('refs/heads/main');
  expect(ls.stdout).toMatch(/^[0-9a-f]{40}\tHEAD$/m);
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'agentgit-hubs-test-'));
});

afterAll(async () => {
  await Promise.all(allHubs.map((h) => h.stop()));
  await rm(work, { recursive: true, force: true });
  // leak check: nothing of any hub of this file may survive (zombies waiting for init are dead)
  const survivors = [...seenPids].map(([pid, p]) => ({ pid, comm: p.comm, stat: processStat(pid, p.start) }));
  expect(survivors.filter((p) => p.stat !== '' && !p.stat.startsWith('Z'))).toEqual([]);
  expect(leakedHubProcesses()).toEqual([]);
  const ps = await runOk('ps', ['-e', '-o', 'pid=,stat=,args=']);
  const ours = ps.stdout
    .split('\n')
    .filter((l) => /sshd|nginx|fcgiwrap|git-http-backend|git-shell/.test(l))
    .filter((l) => {
      const pid = Number(l.trim().split(/\s+/)[0]);
      const seen = seenPids.get(pid);
      return allHubs.some((h) => l.includes(h.dir)) || (seen !== undefined && processStat(pid, seen.start) !== '');
    })
    .filter((l) => !/^\s*\d+\s+Z/.test(l));
  expect(ours).toEqual([]);
});

describe('file hub', () => {
  it('clone, push, pull', async () => {
    const hub = await timed('startFileHub', () => startFileHub());
    allHubs.push(hub);
    expect(hub.kind).toBe('file');
    await roundTrip(hub, 'file');
    await hub.stop();
  });
});

describe('ssh hub', () => {
  let hub: SshHub;
  beforeAll(async () => {
    if (!avail.ssh) return;
    hub = await timed('startSshHub', () => startSshHub());
    allHubs.push(hub);
  });

  it.skipIf(!avail.ssh)('starts fast, with a GitHub-style url and no secrets in it', async () => {
    expect(hub.url).toBe('git@agentgit-test-hub:agent.git');
    expect(hub.clientEnv.GIT_SSH_COMMAND).toContain(hub.sshConfigPath);
    const t = performance.now();
    const extra = await startSshHub({ hostAlias: 'other-hub' });
    allHubs.push(extra);
    const ms = performance.now() - t;
    expect(ms).toBeLessThan(2500);
    expect(extra.url).toBe('git@other-hub:agent.git');
    remember(extra);
    await extra.pause!(); // stop() works on a frozen hub too
    await extra.stop();
    expect(await portRefuses(extra.port)).toBe(true);
  });

  it.skipIf(!avail.ssh)('clone, push, pull using only clientEnv; counts connections', async () => {
    remember(hub);
    const before = hub.connectionCount();
    await roundTrip(hub, 'ssh');
    // clone, push, clone, push, pull, ls-remote: one connection each
    expect(hub.connectionCount() - before).toBe(6);
    remember(hub);
  });

  it.skipIf(!avail.ssh)('serves other repos by relative path', async () => {
    const other = await hub.createRepo('team/other.git');
    expect(other.url).toBe('git@agentgit-test-hub:team/other.git');
    const r = await run('git', ['ls-remote', other.url], { env: gitEnv(hub.clientEnv), timeoutMs: 10_000 });
    expect(r.code, r.stderr).toBe(0);
  });

  it.skipIf(!avail.ssh)('an unknown key fails fast with no prompt', async () => {
    const env = gitEnv(await hub.clientEnvWithUnknownKey());
    const r = await run('git', ['ls-remote', hub.url], { env, timeoutMs: 10_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Permission denied \(publickey\)/);
    expect(r.stderr).not.toMatch(/passphrase|password:/i);
    expect(r.ms).toBeLessThan(5000);
  });

  it.skipIf(!avail.ssh)('the host key is pinned: another server on that name is refused', async () => {
    const impostor = await startSshHub();
    allHubs.push(impostor);
    remember(impostor);
    // our known_hosts and key, but the impostor's port: its host key is not the pinned one
    const config = (await readFile(hub.sshConfigPath, 'utf8')).replace(/Port \d+/, `Port ${impostor.port}`);
    const pinned = (await readFile(hub.knownHostsPath, 'utf8')).replace(`[127.0.0.1]:${hub.port}`, `[127.0.0.1]:${impostor.port}`);
    const known = path.join(work, 'pinned_known_hosts');
    await writeFile(known, pinned);
    const cfgFile = path.join(work, 'impostor_ssh_config');
    await writeFile(cfgFile, config.replace(hub.knownHostsPath, known));
    const env = gitEnv({ GIT_SSH_COMMAND: hub.clientEnv.GIT_SSH_COMMAND!.replace(hub.sshConfigPath, cfgFile) });
    const r = await run('git', ['ls-remote', hub.url], { env, timeoutMs: 10_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    expect(impostor.connectionCount()).toBe(0);
    await impostor.stop();
  });

  it.skipIf(!avail.ssh)('pause() hangs the hub, resume() brings it back', async () => {
    await hub.pause!();
    remember(hub);
    const hung = await run('git', ['ls-remote', hub.url], { env: gitEnv(hub.clientEnv), timeoutMs: 1000 });
    expect(hung.timedOut).toBe(true);
    await hub.resume!();
    const ok = await run('git', ['ls-remote', hub.url], { env: gitEnv(hub.clientEnv), timeoutMs: 10_000 });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it.skipIf(!avail.ssh)('down() refuses connections, up() brings the same hub back', async () => {
    remember(hub);
    await timed('ssh hub down', () => hub.down!());
    const r = await run('git', ['ls-remote', hub.url], { env: gitEnv(hub.clientEnv), timeoutMs: 10_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Connection refused/);
    expect(r.ms).toBeLessThan(3000);
    await timed('ssh hub up', () => hub.up!());
    remember(hub);
    const ok = await run('git', ['ls-remote', hub.url], { env: gitEnv(hub.clientEnv), timeoutMs: 10_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('refs/heads/main');
  });

  it.skipIf(!avail.ssh)('stop() kills sshd and frees the port', async () => {
    remember(hub);
    const procs = hub.processes();
    expect(procs.map((p) => p.comm)).toContain('sshd');
    await timed('ssh hub stop', () => hub.stop());
    for (const p of procs) expect(processStat(p.pid, p.start), `${p.pid} ${p.comm}`).toMatch(/^(Z.*)?$/);
    expect(await portRefuses(hub.port)).toBe(true);
  });
});

describe('https hub', () => {
  let hub: HttpsHub;
  beforeAll(async () => {
    if (!avail.https) return;
    hub = await timed('startHttpsHub', () => startHttpsHub({ user: 'agent-7', password: 'p@ss:w/rd' }));
    allHubs.push(hub);
  });

  it.skipIf(!avail.https)('has no credentials in its url', () => {
    expect(hub.url).toBe(`https://127.0.0.1:${hub.port}/agent.git`);
    expect(hub.url).not.toContain('@');
    expect(JSON.stringify(hub.clientEnv)).not.toContain(hub.password);
    expect(hub.clientEnv.GIT_SSL_CAINFO).toBe(hub.caFile);
  });

  it.skipIf(!avail.https)('starts fast', async () => {
    const t = performance.now();
    const extra = await startHttpsHub();
    allHubs.push(extra);
    const ms = performance.now() - t;
    expect(ms).toBeLessThan(2500);
    remember(extra);
    const r = await run('git', ['ls-remote', extra.url], { env: gitEnv(extra.clientEnv), timeoutMs: 10_000 });
    expect(r.code, r.stderr).toBe(0);
    remember(extra);
    await extra.stop();
    expect(await portRefuses(extra.port)).toBe(true);
  });

  it.skipIf(!avail.https)('clone, push, pull using only clientEnv (credential helper)', async () => {
    remember(hub);
    await roundTrip(hub, 'https');
    remember(hub);
    // every request was authenticated as the hub's user; pushes reached receive-pack
    const log = hub.accessLog();
    expect(log.some((l) => / agent-7 200 "POST \/agent\.git\/git-receive-pack /.test(l))).toBe(true);
    expect(hub.connectionCount()).toBeGreaterThan(0);
    expect(hub.requestCount()).toBeGreaterThanOrEqual(hub.connectionCount());
  });

  it.skipIf(!avail.https)('a wrong password fails fast with an auth error and no prompt', async () => {
    const env = gitEnv(await hub.clientEnvWithCredentials(hub.user, 'wrong'));
    const r = await run('git', ['ls-remote', hub.url], { env, timeoutMs: 10_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Authentication failed/);
    expect(r.stderr).not.toMatch(/Username for|Password for/);
    expect(r.ms).toBeLessThan(5000);
  });

  it.skipIf(!avail.https)('no credentials at all: no prompt, fails fast', async () => {
    const env = gitEnv({ GIT_SSL_CAINFO: hub.caFile });
    const r = await run('git', ['ls-remote', hub.url], { env, timeoutMs: 10_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/terminal prompts disabled|Authentication failed/);
    expect(r.ms).toBeLessThan(5000);
  });

  it.skipIf(!avail.https)('the self-signed certificate is not trusted without GIT_SSL_CAINFO', async () => {
    const { GIT_SSL_CAINFO: _ca, ...rest } = hub.clientEnv;
    const env = gitEnv(rest, { GIT_SSL_CAINFO: '/etc/ssl/certs/ca-certificates.crt' });
    const r = await run('git', ['ls-remote', hub.url], { env, timeoutMs: 10_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/SSL certificate problem|certificate/i);
  });

  it.skipIf(!avail.https)('pause() hangs the hub, resume() brings it back', async () => {
    await hub.pause!();
    remember(hub);
    const hung = await run('git', ['ls-remote', hub.url], { env: gitEnv(hub.clientEnv), timeoutMs: 1000 });
    expect(hung.timedOut).toBe(true);
    await hub.resume!();
    const ok = await run('git', ['ls-remote', hub.url], { env: gitEnv(hub.clientEnv), timeoutMs: 10_000 });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it.skipIf(!avail.https)('down() refuses connections, up() brings the same hub back', async () => {
    remember(hub);
    await timed('https hub down', () => hub.down!());
    const r = await run('git', ['ls-remote', hub.url], { env: gitEnv(hub.clientEnv), timeoutMs: 10_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Failed to connect|Connection refused|Couldn't connect/);
    await timed('https hub up', () => hub.up!());
    remember(hub);
    const ok = await run('git', ['ls-remote', hub.url], { env: gitEnv(hub.clientEnv), timeoutMs: 10_000 });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it.skipIf(!avail.https)('stop() kills nginx and every fcgiwrap worker', async () => {
    remember(hub);
    const procs = hub.processes();
    expect(procs.map((p) => p.comm)).toEqual(expect.arrayContaining(['nginx', 'fcgiwrap']));
    expect(procs.filter((p) => p.comm === 'fcgiwrap').length).toBeGreaterThan(1); // parent + workers
    await timed('https hub stop', () => hub.stop());
    for (const p of procs) expect(processStat(p.pid, p.start), `${p.pid} ${p.comm}`).toMatch(/^(Z.*)?$/);
    expect(await portRefuses(hub.port)).toBe(true);
  });
});

describe('faults', () => {
  it('a hung hub: git ls-remote over https is killed by our deadline', async () => {
    const hung = await startHungHub();
    try {
      const r = await run('git', ['ls-remote', hung.url], { env: gitEnv(), timeoutMs: 1500 });
      expect(r.timedOut).toBe(true);
      expect(r.code).toBeNull();
      expect(r.ms).toBeLessThan(5000);
      expect(hung.connectionCount()).toBeGreaterThanOrEqual(1);
    } finally {
      await hung.stop();
    }
  });

  it.skipIf(!avail.ssh)('a hung hub: ssh gives up on its own after ConnectTimeout', async () => {
    const hung = await startHungHub();
    try {
      const env = gitEnv({ GIT_SSH_COMMAND: `${hung.sshClientEnv.GIT_SSH_COMMAND} -o ConnectTimeout=1` });
      const r = await run('git', ['ls-remote', hung.sshUrl], { env, timeoutMs: 15_000 });
      expect(r.timedOut).toBe(false);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/timed out/i);
      expect(hung.connectionCount()).toBe(1);
    } finally {
      await hung.stop();
    }
  });

  it('a closed port fails fast (https)', async () => {
    const https = closedPortUrl();
    expect(https).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/agent\.git$/);
    const r1 = await run('git', ['ls-remote', https], { env: gitEnv(), timeoutMs: 10_000 });
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(/Failed to connect|Connection refused|Couldn't connect/);
    expect(r1.ms).toBeLessThan(3000);
  });

  it.skipIf(!avail.ssh)('a closed port fails fast (ssh)', async () => {
    const ssh = closedPortUrl('ssh');
    expect(ssh).toMatch(/^ssh:\/\/git@127\.0\.0\.1:\d+\/agent\.git$/);
    const r2 = await run('git', ['ls-remote', ssh], {
      env: gitEnv({ GIT_SSH_COMMAND: 'ssh -F /dev/null -o BatchMode=yes' }),
      timeoutMs: 10_000,
    });
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(/Connection refused/);
    expect(r2.ms).toBeLessThan(3000);
  });
});
