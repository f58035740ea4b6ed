/**
 * The ssh command git runs for an ssh hub, and the connection rounds share.
 *
 * A round fetches, then pushes (and may fetch and push again on a race):
 * each is a new ssh connection, and on a loopback sshd the key exchange and
 * authentication alone cost about 150 ms, more than the rest of a small
 * round's git work (docs/performance.md). agentgit adds OpenSSH connection
 * sharing to the ssh command: the first ssh becomes the master, the next
 * ones ride on its connection.
 *
 * The master outlives the round (ControlPersist, AGENTGIT_SSH_PERSIST
 * idle seconds, 360 unless set): the next cron round, a minute later, rides
 * it instead of logging in again. Its socket is named by a hash of the ssh
 * command, the hub URL, the repo's URL rules, $AGENTGIT_HOME, the ssh
 * agent, the host and the network namespace (and %C: the host, port and
 * user ssh resolved), so only a round that would open the very same
 * connection shares it: a repo with its own deploy key (core.sshCommand),
 * or another host alias, gets its own; a repo whose pushes may go to
 * another alias (a pushurl, pushInsteadOf) shares none (sync/round.ts). A master older than MAX_MASTER_AGE_MS is told to stop at
 * the end of the round that finds it (`ssh -O stop`: sessions still on it
 * finish), so a changed ssh config or key takes effect within that time.
 * AGENTGIT_SSH_PERSIST=0: the master is this process's own (its pid in the
 * socket's name) and is closed when the round ends (`ssh -O exit`).
 *
 * Sockets live in a 0700 directory; a stale socket is replaced by ssh
 * itself. Left alone: an ssh command that is not OpenSSH's `ssh`, one that
 * sets its own Control* options, GIT_SSH (a program, no options), and
 * AGENTGIT_SSH_MUX=0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** agentgit's ssh command when the operator configured none: never prompts, gives up on a dead hub. */
export const DEFAULT_SSH_COMMAND = 'ssh -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=10 -o ServerAliveCountMax=2';

/** Idle seconds a master stays up after its last session, unless AGENTGIT_SSH_PERSIST says otherwise: covers cron every 1 to 5 minutes, with a minute to spare (the idle time starts when a round's push ends). */
const DEFAULT_PERSIST = 360;
/** With AGENTGIT_SSH_PERSIST=0: idle seconds after which a killed round's master exits (a round that ends closes its own). */
const KILLED_ROUND_PERSIST = 60;
/** A shared master older than this is told to stop by the round that finds it: the next round logs in afresh, with the ssh config and keys of then. */
export const MAX_MASTER_AGE_MS = 15 * 60_000;
/** Longest socket path: sun_path is 108 bytes, and ssh binds `<path>.<16 random chars>` first. */
const MAX_SOCKET_PATH = 107 - 17;
/** `s<16 hex>-` (or `<pid>-`) and %C (40 hex digits) after the directory. */
const NAME_LENGTH = 1 + 17 + 1 + 40;

/** core.sshCommand of the repo being synced (git lets GIT_SSH_COMMAND override it, so agentgit must pass it on). */
let configured: string | undefined;
/** The directory of the control sockets while a round shares its connection. */
let muxDir: string | null = null;
/** What names a shared master besides the ssh command (socketPrefix): the hub URL, $AGENTGIT_HOME, the ssh agent, the host, the network namespace, the URL rules. */
let muxScope = '';
let persist = DEFAULT_PERSIST;
/** The ssh opening the shared connection ahead of the round's first fetch (warmSshConnection), until it is up or gave up. */
let warming: ChildProcess | null = null;
/** The connection opened ahead while sharing lasts: its URL, and when it is up (or gave up). */
let warmed: { url: string; ready: Promise<string | null> } | null = null;

/**
 * ssh's words for a hub it cannot reach at all (no TCP connection, no name):
 * git's fetch would meet the same and fail the same way. Never a refusal
 * after connecting (keys, host keys): git reports those itself.
 */
const CONNECT_ERROR = /^ssh: (connect to host .*: (Connection refused|Connection timed out|No route to host)|Could not resolve hostname .*)\r?$/m;
/** What git prints after its ssh failed before the protocol started (connect.c), so the round reports the hub exactly as the fetch would. */
const GIT_SSH_FAILED = 'fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n';

/** Use the repo's core.sshCommand (undefined: none) as the ssh command when the environment sets none. */
export function useConfiguredSshCommand(command: string | undefined): void {
  configured = command && command.trim() !== '' ? command : undefined;
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The operator's ssh command, the repo's, or agentgit's; undefined to leave git to GIT_SSH (a program). */
function baseCommand(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.GIT_SSH_COMMAND && env.GIT_SSH) return undefined;
  return env.GIT_SSH_COMMAND || configured || DEFAULT_SSH_COMMAND;
}

/** The ssh command git gets: baseCommand, with connection sharing while a round shares. */
export function sshCommand(env: NodeJS.ProcessEnv): string | undefined {
  const base = baseCommand(env);
  if (base === undefined || muxDir === null || !shareable(base, env)) return base;
  return `${base} -o ControlMaster=auto -o ${shQuote(`ControlPath=${controlPath(muxDir, base)}`)} -o ControlPersist=${persist || KILLED_ROUND_PERSIST} ${KEEPALIVE}`;
}

/**
 * A shared master finds out that its connection died (a network change, a
 * hub that froze) within about 30 s instead of riding it until TCP gives
 * up, whatever ssh command it was started with. After the operator's own
 * options: ssh takes the first value it is given, so an `-o` of theirs
 * still wins (one in an ssh config file does not: the command line beats
 * any file).
 */
const KEEPALIVE = '-o ServerAliveInterval=10 -o ServerAliveCountMax=2';

/** The start of the socket names of the masters this ssh command opens to the shared hub: its own, or this process's with AGENTGIT_SSH_PERSIST=0. */
function socketPrefix(base: string): string {
  if (persist === 0) return `${process.pid}-`;
  return `s${createHash('sha256').update(`${base}\n${muxScope}`).digest('hex').slice(0, 16)}-`;
}

function controlPath(dir: string, base: string): string {
  return join(dir, `${socketPrefix(base)}%C`);
}

/** AGENTGIT_SSH_PERSIST: whole seconds a master stays up idle (0: closed with the round); anything else, the default. */
export function persistSeconds(env: NodeJS.ProcessEnv): number {
  const v = env.AGENTGIT_SSH_PERSIST?.trim();
  return v !== undefined && /^\d{1,6}$/.test(v) ? Number(v) : DEFAULT_PERSIST;
}

/**
 * OpenSSH's own ssh, with no connection-sharing options of the operator's,
 * and not verbose: a verbose master keeps the stderr of the git that
 * started it open for as long as it lives.
 */
function shareable(command: string, env: NodeJS.ProcessEnv): boolean {
  if (env.AGENTGIT_SSH_MUX === '0') return false;
  const program = command.trim().split(/\s+/)[0] ?? '';
  if (program !== 'ssh' && !program.endsWith('/ssh')) return false;
  if (verbose(command)) return false;
  return !/control(master|path|persist)/i.test(command);
}

/** ssh's options that take a value (`ssh -p 22`, `-p22`): the rest of a cluster after one of them is that value. */
const WITH_VALUE = new Set('BbcDEeFIiJLlmOoPpQRSWw');

/** Whether an ssh command line asks for debug output (`-v` in a cluster of flags, `-o LogLevel=DEBUG…`). */
function verbose(command: string): boolean {
  const words = command.trim().split(/\s+/).slice(1);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!/^-[A-Za-z]/.test(w)) continue;
    for (let j = 1; j < w.length; j++) {
      const c = w[j]!;
      if (c === 'v') return true;
      if (!WITH_VALUE.has(c)) continue;
      const value = j + 1 < w.length ? w.slice(j + 1) : (words[++i] ?? '');
      if (c === 'o' && /^["']?loglevel[= ]*["']?debug/i.test(value)) return true;
      break;
    }
  }
  return false;
}

/** A private (0700, ours, not a symlink) directory for the sockets, or null. */
function privateDir(dir: string): string | null {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) return null;
    return dir;
  } catch {
    return null;
  }
}

/** Whether git reaches this hub URL over ssh (`ssh://…`, `git+ssh://…`, or scp-like `[user@]host:path`). */
export function isSshUrl(url: string): boolean {
  if (/^(?:ssh|git\+ssh|ssh\+git):\/\//i.test(url)) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return false; // another URL scheme
  // scp-like: a colon before any slash (`./a:b` and `/srv/a:b` are paths)
  return /^(?:[^@/:]+@)?(?:\[[^\]/]+\]|[^:/]+):/.test(url);
}

/**
 * Share one ssh connection among this round's fetches and pushes to the
 * hub at `url`, and with the rounds after it (the module comment).
 * `home`: $AGENTGIT_HOME (sockets in `home/run`, or in a private dir under
 * the temp dir when that path is too long for a socket). Returns the
 * function to call when the round ends, or null when nothing is shared: it
 * closes this process's own master (AGENTGIT_SSH_PERSIST=0), or else tells
 * a shared master older than MAX_MASTER_AGE_MS to stop.
 */
export function shareSshConnection(url: string, home: string, rules = ''): (() => void) | null {
  const base = baseCommand(process.env);
  if (!isSshUrl(url) || base === undefined || !shareable(base, process.env)) return null;
  const dir = sshSocketDir(home);
  if (!dir) return null;
  muxDir = dir;
  // the same connection only: the same hub URL, the same per-machine settings, the same ssh agent (a person's forwarded one is not cron's)
  // and this host and network namespace: a socket on a shared volume reaches a master whose network may not be this one's
  muxScope = `${url}\n${resolve(home)}\n${process.env.SSH_AUTH_SOCK ?? ''}\n${hostname()}\n${netNamespace()}\n${rules}`;
  persist = persistSeconds(process.env);
  const opened = dir;
  return () => {
    if (muxDir !== opened) return; // closed already (the CLI and the round both hold a closer)
    muxDir = null;
    warming?.kill(); // still connecting: it never becomes a master nobody closes
    warming = null;
    warmed = null;
    endMasters(opened, base, persist === 0 ? 'exit' : 'stop');
  };
}

/**
 * Tell the masters of this ssh command in `dir` to go: `exit` (this
 * process's own, AGENTGIT_SSH_PERSIST=0) or `stop` (shared ones older than
 * MAX_MASTER_AGE_MS: sessions on them finish first). Each by its socket,
 * whatever host it went to: the destination is only a placeholder. Not
 * waited for: the master answers at once.
 */
function endMasters(dir: string, base: string, how: 'exit' | 'stop'): void {
  const prefix = socketPrefix(base);
  let mine: string[] = [];
  try {
    mine = readdirSync(dir).filter((f) => f.startsWith(prefix));
  } catch {
    /* nothing to end */
  }
  const now = Date.now();
  for (const f of mine) {
    if (how === 'stop' && !masterTooOld(join(dir, f), now)) continue;
    const child = spawn('/bin/sh', ['-c', `${base} "$@"`, 'ssh', '-o', `ControlPath=${join(dir, f)}`, '-O', how, 'agentgit-hub'], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  }
}

/**
 * While sharing lasts (a watcher keeps its connection for days): tell the
 * shared masters older than MAX_MASTER_AGE_MS to stop, as a round's end
 * does, so that the next round logs in afresh.
 */
export function retireOldMasters(): void {
  const base = baseCommand(process.env);
  if (muxDir === null || persist === 0 || base === undefined || !shareable(base, process.env)) return;
  endMasters(muxDir, base, 'stop');
}

/**
 * The directory of the control sockets for $AGENTGIT_HOME `home` (made
 * 0700 if need be): `home/run`, or a private dir under the temp dir when
 * ssh could not take that path (too long for a socket, odd characters);
 * null when neither is private to this user.
 */
export function sshSocketDir(home: string): string | null {
  const uid = process.getuid?.() ?? 'user';
  for (const c of [resolve(home, 'run'), resolve(tmpdir(), `agentgit-${uid}`)].filter(usableSocketDir)) {
    const dir = privateDir(c);
    if (dir) return dir;
  }
  return null;
}

/** This process's network namespace ('' where there is none to read). */
function netNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/net');
  } catch {
    return '';
  }
}

/**
 * Stop sharing without touching any master: a round of a repo whose pushes
 * may go elsewhere (sync/ssh-ahead.ts pushGoesElsewhere) after a watcher's
 * rounds shared a connection.
 */
export function stopSharing(): void {
  muxDir = null;
  warming?.kill();
  warming = null;
  warmed = null;
}

/**
 * Whether the master listening on `socket` has been up longer than
 * MAX_MASTER_AGE_MS (the socket is made once, when the master logs in), or
 * claims to be from the future (a clock set back): either way, time for a
 * fresh login.
 */
function masterTooOld(socket: string, now: number): boolean {
  try {
    const made = lstatSync(socket).mtimeMs;
    return now - made > MAX_MASTER_AGE_MS || made - now > 60_000;
  } catch {
    return false; // gone already
  }
}

/**
 * A directory ssh accepts in ControlPath: absolute, short enough in bytes
 * for a socket, and without what ssh's option parser would split or expand
 * (whitespace, quotes, `%`, `$`, a backslash, a leading `~`): ssh treats a
 * bad ControlPath as fatal, so such a directory is not used at all.
 */
function usableSocketDir(dir: string): boolean {
  return isAbsolute(dir) && !/[\s%"'\\$]|^~/.test(dir) && Buffer.byteLength(dir) + NAME_LENGTH <= MAX_SOCKET_PATH;
}

/**
 * Where git's ssh goes for this hub URL, as git passes it (`[-p PORT]
 * [user@]host`), or null when agentgit would have to guess: brackets (IPv6,
 * `[host:port]:path`), an empty or odd part, a host that starts with `-`.
 */
export function sshDestination(url: string): { dest: string; port: string | null } | null {
  let dest: string;
  let port: string | null = null;
  const full = /^(?:ssh|git\+ssh|ssh\+git):\/\/([^/]*)\//i.exec(url);
  if (full) {
    const a = /^((?:[^@/:[\]\s]+@)?[^@/:[\]\s]+)(?::(\d+))?$/.exec(full[1] ?? '');
    if (!a) return null;
    dest = a[1]!;
    port = a[2] ?? null;
  } else {
    if (!isSshUrl(url)) return null;
    const a = /^((?:[^@/:[\]\s]+@)?[^@/:[\]\s]+):/.exec(url);
    if (!a) return null;
    dest = a[1]!;
  }
  return dest.startsWith('-') ? null : { dest, port };
}

/**
 * Open this round's shared connection now, beside the round's local work
 * (status, commit), so that its first fetch finds it ready instead of
 * paying the key exchange and login itself (about 100-150 ms on a loopback
 * sshd). Call after shareSshConnection. The promise settles when the master
 * is up, when ssh gave up, or after `maxMs`; it never rejects. It resolves
 * to null, and the fetch opens its own connection if it must, as it always
 * did, except when ssh could not reach the hub at all (exit 255 with a
 * connect error: refused, timed out, no route, an unresolvable name): then
 * to the stderr git's fetch would print for it (ssh's words, then git's
 * "Could not read from remote repository"), so the round reports the hub
 * unreachable at once instead of waiting out a second connect timeout.
 * Never prompts (BatchMode); nothing runs on the hub (`-N`: no session).
 * A shared master still up from an earlier round (`ssh -O check`, about
 * 10 ms, no network) is ridden as it is: null at once, no login.
 * Skipped (null at once) when the round shares nothing or the URL's
 * destination is not plain. Called again for the same URL while sharing
 * lasts (the CLI opens it before the round's modules load, then the round
 * asks): the same promise, never a second master.
 */
export function warmSshConnection(url: string, maxMs: number): Promise<string | null> {
  if (warmed?.url === url) return warmed.ready;
  const base = baseCommand(process.env);
  const to = sshDestination(url);
  if (muxDir === null || base === undefined || !shareable(base, process.env) || to === null || warming !== null) return Promise.resolve(null);
  const dir = muxDir;
  const socket = controlPath(dir, base);
  const dest = [...(to.port ? ['-p', to.port] : []), to.dest];
  const until = Date.now() + Math.max(0, maxMs);
  // a shared master may be up from an earlier round: ride it; else (or when it does not answer) open one
  const ready = (persist === 0 ? Promise.resolve(false) : masterAnswers(base, dir, socket, dest, maxMs)).then((up) => (up || muxDir !== dir ? null : openMaster(base, socket, dest, until - Date.now())));
  warmed = { url, ready };
  return ready;
}

/** One ssh run for the warm-up (`exec`: a kill reaches ssh, not only the shell), its stderr kept; `warming` while it runs. */
function sshRun(base: string, args: string[]): { child: ChildProcess; stderr: () => string } {
  const child = spawn('/bin/sh', ['-c', `exec ${base} "$@"`, 'ssh', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  warming = child;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4096); // the end: ssh's own last words come after any banner
  });
  return { child, stderr: () => stderr };
}

/**
 * Whether a master already listens on the shared socket (`ssh -O check`,
 * no network). When none answers, the sockets of this command's masters in
 * agentgit's own directory that nobody listens on (their master was
 * killed) are removed, so that the master opened next can take the place:
 * found by connecting to them, not by ssh's words (a quiet ssh says none).
 */
function masterAnswers(base: string, dir: string, socket: string, dest: string[], maxMs: number): Promise<boolean> {
  const { child } = sshRun(base, ['-o', 'BatchMode=yes', '-o', `ControlPath=${socket}`, '-O', 'check', ...dest]);
  return new Promise<boolean>((done) => {
    const timer = setTimeout(() => child.kill(), Math.max(0, maxMs));
    const settle = (up: boolean): void => {
      clearTimeout(timer);
      if (warming === child) warming = null;
      done(up);
    };
    child.on('error', () => settle(false));
    child.on('close', (code) => {
      if (code === 0) return settle(true);
      void removeStaleSockets(dir, socketPrefix(base)).then(() => settle(false));
    });
  });
}

/** Remove the sockets `dir/<prefix>*` that refuse a connection (no master behind them); never throws. */
async function removeStaleSockets(dir: string, prefix: string): Promise<void> {
  let names: string[] = [];
  try {
    // the final names only (prefix and %C), never ssh's `<name>.<random>` a master is binding right now
    names = readdirSync(dir).filter((f) => f.startsWith(prefix) && /^[0-9a-f]{40}$/.test(f.slice(prefix.length)));
  } catch {
    return;
  }
  await Promise.all(
    names.map(
      (f) =>
        new Promise<void>((done) => {
          const path = join(dir, f);
          const sock = connect(path);
          sock.on('connect', () => {
            sock.destroy();
            done();
          });
          sock.on('error', (e: NodeJS.ErrnoException) => {
            if (e.code === 'ECONNREFUSED') {
              try {
                unlinkSync(path);
              } catch {
                /* gone already */
              }
            }
            done();
          });
        }),
    ),
  );
}

/** Open the master (`-N`: no session); settles as warmSshConnection says. */
function openMaster(base: string, socket: string, dest: string[], maxMs: number): Promise<string | null> {
  const args = ['-o', 'BatchMode=yes', '-o', 'ControlMaster=yes', '-o', `ControlPath=${socket}`, '-o', `ControlPersist=${persist || KILLED_ROUND_PERSIST}`, ...KEEPALIVE.split(' '), '-N', ...dest];
  // with ControlPersist, ssh puts the master in the background once it is logged in (its stderr then /dev/null), and the command exits 0
  const { child, stderr } = sshRun(base, args);
  return new Promise<string | null>((done) => {
    const settle = (verdict: string | null): void => {
      clearTimeout(timer);
      if (warming === child) warming = null;
      // a master in the background (or a ProxyCommand, `-v` in a configured ssh command) may hold the pipe's
      // other end: let go of ours, or it keeps this process from ever exiting
      child.stderr?.destroy();
      done(verdict);
    };
    const timer = setTimeout(() => {
      child.kill();
      settle(null);
    }, Math.max(0, maxMs));
    // another round's master took the socket first: ssh would go on as a plain connection doing nothing; git's ssh rides that master
    // (an ssh made quiet, `-q` or LogLevel QUIET, does not say so: that race then costs the wait up to maxMs, no more)
    child.stderr?.on('data', () => {
      if (/^ControlSocket .* already exists, disabling multiplexing\r?$/m.test(stderr())) {
        child.kill();
        settle(null);
      }
    });
    child.on('error', () => settle(null));
    // exit 255 (ssh's own failure): wait for the whole of its stderr (no master holds it); anything else settles now
    child.on('exit', (code) => code !== 255 && settle(null));
    child.on('close', (code) => settle(code === 255 && CONNECT_ERROR.test(stderr()) ? `${stderr()}${stderr().endsWith('\n') ? '' : '\n'}${GIT_SSH_FAILED}` : null));
  });
}
