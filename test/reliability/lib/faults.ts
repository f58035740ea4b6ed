/**
 * Fault injection: kill -9 at chosen points of a round, the hub down, hung,
 * full or refusing, a partition, a full local disk, skewed clocks.
 */
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, renameSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { FAILPOINTS } from '../../../src/failpoint.js';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { canRun, kill9, readProc, sh, shOk, waitGone } from './proc.js';
import { trackMount, untrackMount, type Agent, type Rng, type World } from './world.js';

// ------------------------------------------------------------------ kill -9

/**
 * 'random' plus every failpoint of the product (src/failpoint.ts,
 * docs/reliability.md), in the order a round passes them.
 */
export const KILL_POINTS = ['random', ...FAILPOINTS] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

export interface KillOutcome {
  point: KillPoint;
  mode: 'tree' | 'main';
  /** the process died of SIGKILL */
  killed: boolean;
  /**
   * for a chosen point: the failpoint fired (its stderr line) and the process
   * died of SIGKILL there; for 'random': the kill came before the round ended
   */
  landed: boolean;
  /** the last git command agentgit had finished when it was killed */
  after: string;
  /** the work-tree journal existed after the kill (a kill inside the work-tree update) */
  inCheckout: boolean;
}

/**
 * Start `agentgit sync` in a's directory and kill -9 it at `point`:
 *   random - a uniform random moment within `estimateMs`, from outside
 *   a failpoint (commit, fetch, verify, merge, checkout, push, record) -
 *     mode 'main': AGENTGIT_FAILPOINT=POINT:kill, agentgit SIGKILLs itself at
 *       the point (its git children, if any, run on, as with `kill -9 PID`);
 *     mode 'tree': AGENTGIT_FAILPOINT=POINT:sleep, agentgit stalls at the point
 *       and names it on stderr; then the whole process tree is frozen and
 *       killed (a cgroup/OOM kill).
 * The trial landed when the failpoint's stderr line came and the process died of SIGKILL.
 */
export async function syncKilled(a: Agent, point: KillPoint, mode: 'tree' | 'main', rng: Rng, estimateMs: number): Promise<KillOutcome> {
  const chosen = point !== 'random';
  const extraEnv: Record<string, string> = { AGENTGIT_TRACE: '1' };
  if (chosen) extraEnv.AGENTGIT_FAILPOINT = mode === 'main' ? `${point}:kill` : `${point}:sleep=600000`;
  const sp = a.spawnSync([], { extraEnv });
  const out: KillOutcome = { point, mode, killed: false, landed: false, after: 'start', inCheckout: false };
  let fired = false;
  let reached = false;
  let orphans: ReturnType<typeof kill9> = [];
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (fired) return;
    fired = true;
    if (!readProc(sp.pid)) return;
    orphans = kill9(sp.pid, mode);
  };
  const mark = `agentgit: failpoint ${point}: ${mode === 'main' ? 'kill' : 'sleep'}`;
  sp.onLine((l) => {
    if (chosen && l === mark) {
      reached = true;
      if (mode === 'tree') fire();
      return;
    }
    const m = /^\[trace [^\]]*\] git (.*)$/.exec(l);
    if (m) out.after = m[1]!.split(' ').slice(0, 2).join(' ');
  });
  if (!chosen) timer = setTimeout(fire, rng.next() * estimateMs);
  const r = await sp.done;
  if (timer) clearTimeout(timer);
  out.killed = r.signal === 'SIGKILL';
  out.landed = out.killed && (chosen ? reached || r.stderr.includes(mark) : fired);
  out.inCheckout = existsSync(a.path('.git/agentgit/checkout.json'));
  a.world.noteSync(r);
  if (orphans.length) await waitGone(orphans, 60_000);
  return out;
}

// ------------------------------------------------------------------ disks

/** Free bytes on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** Fill the filesystem of `dir` with a file `name` until `leave` bytes are free. */
export function fillDisk(dir: string, leave: number, name = '.filler'): string {
  const file = join(dir, name);
  const fd = openSync(file, 'a');
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  try {
    for (;;) {
      const free = freeBytes(dir) - leave;
      if (free <= 0) break;
      try {
        writeSync(fd, chunk, 0, Math.min(chunk.length, free));
      } catch {
        break; // ENOSPC: full
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

export function canMountTmpfs(): { ok: boolean; reason?: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `tmpfs mounts need Linux (this is ${process.platform})` };
  const d = mkdtempSync(join(tmpdir(), 'agentgit-tmpfs-probe-'));
  try {
    const r = sh('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', d]);
    if (r.code !== 0) return { ok: false, reason: `mount -t tmpfs is not permitted here: ${r.stderr.trim()}` };
    sh('umount', [d]);
    return { ok: true };
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/**
 * Put the hub's repos dir on a tmpfs of `mb` MB (contents copied in), for the
 * hub-disk-full fault. Unmounted when the world stops.
 */
export function hubOnTmpfs(world: World, mb: number): string {
  const repos = dirname(world.hub.repoPath);
  const keep = mkdtempSync(join(tmpdir(), 'agentgit-hub-copy-'));
  cpSync(repos, keep, { recursive: true, preserveTimestamps: true });
  shOk('mount', ['-t', 'tmpfs', '-o', `size=${mb}m,mode=0755`, 'tmpfs', repos]);
  trackMount(repos);
  cpSync(keep, repos, { recursive: true, preserveTimestamps: true });
  rmSync(keep, { recursive: true, force: true });
  world.onStop(() => {
    sh('umount', ['-l', repos]);
    untrackMount(repos);
  });
  return repos;
}

// ------------------------------------------------------------------ hub faults

/** A file hub that hangs like a stalled network filesystem: HEAD becomes a FIFO nobody writes. */
export function hangFileHub(world: World): () => void {
  // HEAD (git reads it first) and the branch's loose ref (the isomorphic-git
  // engine reads refs/heads/main, never HEAD): every engine meets the stall
  const loose = existsSync(join(world.hub.repoPath, 'refs/heads/main'));
  const files = ['HEAD', loose ? 'refs/heads/main' : 'packed-refs'].map((f) => join(world.hub.repoPath, f)).filter((f) => existsSync(f));
  for (const f of files) {
    renameSync(f, f + '.real');
    shOk('mkfifo', [f]);
  }
  return () => {
    for (const f of files) {
      unlinkSync(f);
      renameSync(f + '.real', f);
    }
  };
}

/** Take the hub down: a network hub's server is killed (port closed); a path hub is moved away. */
export async function hubDown(world: World): Promise<() => Promise<void>> {
  if (world.kind === 'file') {
    const p = world.hub.repoPath;
    renameSync(p, p + '.away');
    return async () => renameSync(p + '.away', p);
  }
  await world.hub.down!();
  return async () => world.hub.up!();
}

export function installRejectHook(world: World, message: string): () => void {
  const hook = join(world.hub.repoPath, 'hooks', 'pre-receive');
  shOk('sh', ['-c', `mkdir -p "$(dirname "$1")" && printf '#!/bin/sh\\necho "%s" >&2\\nexit 1\\n' "$2" > "$1" && chmod +x "$1"`, 'sh', hook, message]);
  return () => rmSync(hook, { force: true });
}

// ------------------------------------------------------------------ partition

export function partitionSupport(kind: World['kind']): { ok: boolean; reason?: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'partitions use Linux namespaces' };
  if (kind === 'file') return canRun('unshare', ['-m', 'true']) ? { ok: true } : { ok: false, reason: '`unshare -m` (a private mount namespace) is not permitted here' };
  return canRun('unshare', ['-n', 'true']) ? { ok: true } : { ok: false, reason: '`unshare -n` (a private network namespace) is not permitted here' };
}

/**
 * A wrapper that runs a command cut off from the hub: for ssh/https hubs in a network
 * namespace of its own (no route to 127.0.0.1's servers); for a path hub in a mount
 * namespace where an empty tmpfs covers the hub's directory (a lost NFS mount).
 */
export function cutOff(world: World): string[] {
  if (world.kind === 'file') return ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"', world.hub.dir];
  return ['unshare', '-n'];
}

// ------------------------------------------------------------------ clocks

export function faketimeLib(): string | null {
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/faketime/libfaketime.so.1',
    '/usr/local/lib/faketime/libfaketime.so.1',
  ];
  return candidates.find((c) => existsSync(c)) ?? null;
}

/**
 * Env that shifts every clock the instance's processes read (node's Date.now, git's
 * commit dates) by `offset` (libfaketime syntax: '+5h', '-3h'). git-remote-https is left
 * on the true clock: the test hub's self-signed certificate starts now, and a client
 * hours behind would reject it as not yet valid (a real hub's certificate is older).
 */
export function skewEnv(offset: string): Record<string, string> {
  const lib = faketimeLib();
  if (!lib) throw new Error('libfaketime is not installed (apt-get install faketime)');
  return { LD_PRELOAD: lib, FAKETIME: offset, FAKETIME_DONT_RESET: '1', FAKETIME_SKIP_CMDS: 'git-remote-https,git-remote-http' };
}
