/**
 * The ssh command git runs for an ssh hub, and one ssh connection per round.
 *
 * A round fetches, then pushes (and may fetch and push again on a race):
 * each is a new ssh connection, and on a loopback sshd the key exchange and
 * authentication alone cost about 150 ms, more than the rest of a small
 * round's git work (docs/performance.md). While a round runs, agentgit adds
 * OpenSSH connection sharing to the ssh command: the first ssh becomes the
 * master, the next ones ride on its connection, and the round closes the
 * master when it ends (`ssh -O exit`). The socket is private to this
 * process (its pid is in the name) and lives in a 0700 directory; a master
 * left by a killed round exits after CONTROL_PERSIST idle seconds, and a
 * stale socket is replaced by ssh itself.
 *
 * Left alone: an ssh command that is not OpenSSH's `ssh`, one that sets its
 * own Control* options, GIT_SSH (a program, no options), and
 * AGENTGIT_SSH_MUX=0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** agentgit's ssh command when the operator configured none: never prompts, gives up on a dead hub. */
export const DEFAULT_SSH_COMMAND = 'ssh -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=10 -o ServerAliveCountMax=2';

/** Idle seconds after which a master outlives its round only if the round was killed. */
const CONTROL_PERSIST = 60;
/** Longest socket path: sun_path is 108 bytes, and ssh binds `<path>.<16 random chars>` first. */
const MAX_SOCKET_PATH = 107 - 17;
/** `<pid>-` and %C (40 hex digits) after the directory. */
const NAME_LENGTH = 1 + 10 + 1 + 40;

/** core.sshCommand of the repo being synced (git lets GIT_SSH_COMMAND override it, so agentgit must pass it on). */
let configured: string | undefined;
/** The directory of this process's control sockets while a round shares its connection. */
let muxDir: string | null = null;
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
  return `${base} -o ControlMaster=auto -o ${shQuote(`ControlPath=${join(muxDir, `${process.pid}-%C`)}`)} -o ControlPersist=${CONTROL_PERSIST}`;
}

/** OpenSSH's own ssh, with no connection-sharing options of the operator's. */
function shareable(command: string, env: NodeJS.ProcessEnv): boolean {
  if (env.AGENTGIT_SSH_MUX === '0') return false;
  const program = command.trim().split(/\s+/)[0] ?? '';
  if (program !== 'ssh' && !program.endsWith('/ssh')) return false;
  return !/control(master|path|persist)/i.test(command);
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
 * hub at `url`. `home`: $AGENTGIT_HOME (sockets in `home/run`, or in a
 * private dir under the temp dir when that path is too long for a socket).
 * Returns the function that closes the connection (call it when the round
 * ends), or null when nothing is shared.
 */
export function shareSshConnection(url: string, home: string): (() => void) | null {
  const base = baseCommand(process.env);
  if (!isSshUrl(url) || base === undefined || !shareable(base, process.env)) return null;
  const uid = process.getuid?.() ?? 'user';
  const candidates = [resolve(home, 'run'), resolve(tmpdir(), `agentgit-${uid}`)].filter(usableSocketDir);
  let dir: string | null = null;
  for (const c of candidates) if ((dir = privateDir(c))) break;
  if (!dir) return null;
  muxDir = dir;
  const opened = dir;
  return () => {
    if (muxDir !== opened) return; // closed already (the CLI and the round both hold a closer)
    muxDir = null;
    warming?.kill(); // still connecting: it never becomes a master nobody closes
    warming = null;
    warmed = null;
    let mine: string[] = [];
    try {
      mine = readdirSync(opened).filter((f) => f.startsWith(`${process.pid}-`));
    } catch {
      /* nothing to close */
    }
    // Each master by its socket, whatever host it went to (a pushurl, an
    // insteadOf): the destination is then only a placeholder. Not waited
    // for: the master answers at once, and the round is over.
    for (const f of mine) {
      const child = spawn('/bin/sh', ['-c', `${base} "$@"`, 'ssh', '-o', `ControlPath=${join(opened, f)}`, '-O', 'exit', 'agentgit-hub'], { stdio: 'ignore', detached: true });
      child.on('error', () => undefined);
      child.unref();
    }
  };
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
  const controlPath = join(muxDir, `${process.pid}-%C`);
  const args = ['-o', 'BatchMode=yes', '-o', 'ControlMaster=yes', '-o', `ControlPath=${controlPath}`, '-o', `ControlPersist=${CONTROL_PERSIST}`, '-N', ...(to.port ? ['-p', to.port] : []), to.dest];
  // with ControlPersist, ssh puts the master in the background once it is logged in (its stderr then /dev/null), and the command exits 0;
  // `exec` (the command starts with ssh: shareable): a kill while it connects reaches ssh, not only the shell
  const child = spawn('/bin/sh', ['-c', `exec ${base} "$@"`, 'ssh', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  warming = child;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString('utf8');
  });
  const ready = new Promise<string | null>((done) => {
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
    child.on('error', () => settle(null));
    // exit 255 (ssh's own failure): wait for the whole of its stderr (no master holds it); anything else settles now
    child.on('exit', (code) => code !== 255 && settle(null));
    child.on('close', (code) => settle(code === 255 && CONNECT_ERROR.test(stderr) ? `${stderr}${stderr.endsWith('\n') ? '' : '\n'}${GIT_SSH_FAILED}` : null));
  });
  warmed = { url, ready };
  return ready;
}
