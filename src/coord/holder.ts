/**
 * Taking a lease, and holding it while a command runs (docs/leases.md).
 *
 * The command runs under a small keeper process (KEEPER below, its own
 * process group): the keeper owns the hard stop. agentgit tells it each new
 * deadline after a confirmed renewal; at deadline - grace the keeper sends
 * SIGTERM to the command's process group, at the deadline SIGKILL. If
 * agentgit dies (kill -9) its end of the control socket closes and the
 * keeper stops the command at once; if agentgit is frozen, the deadline
 * still passes. Processes the command leaves in its group are killed when
 * it ends: nothing runs on past the lease.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Socket } from 'node:net';
import type { Context } from '../sync/context.js';
import { decide, fmtMs, holderDeadlineNs, mergeObservations, observe, timing, type Decision, type LeaseRecord, type Observation } from './lease.js';
import { fetchLease, leaseVerifier, monoNs, netTimeoutMs, pushLease, readMemory, writeLeaseCommit, writeMemory, type Memory } from './store.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const msSince = (ns: bigint): number => Number((monoNs() - ns) / 1_000_000n);

export interface Held {
  oid: string;
  generation: number;
  /** Monotonic start of the push that last confirmed the lease. */
  confirmedNs: bigint;
  reason: string;
}

export type AcquireResult = { ok: true; held: Held } | { ok: false; decision: Extract<Decision, { take: false }> };

function record(ctx: Context, name: string, generation: number, ttlMs: number, state: LeaseRecord['state']): LeaseRecord {
  return { v: 1, name, agent: ctx.settings.agent, instance: ctx.settings.instance, generation, ttlMs, state, at: Date.now() };
}

/**
 * Take lease NAME, watching the hub for up to `waitMs`. A hub that cannot
 * be reached is retried until the wait is over, then its error is thrown.
 */
export async function acquire(ctx: Context, name: string, ttlMs: number, waitMs: number): Promise<AcquireResult> {
  const end = monoNs() + BigInt(waitMs) * 1_000_000n;
  const verify = await leaseVerifier(ctx);
  const net = netTimeoutMs(ttlMs);
  let obs: Observation | null = null;
  /** A take whose push outcome is unknown (timed out): ours if the hub shows it. */
  let pending: { oid: string; startNs: bigint; generation: number } | null = null;
  for (;;) {
    let oid: string | null;
    try {
      oid = await fetchLease(ctx, name, net);
    } catch (e) {
      if (monoNs() >= end) throw e;
      await sleep(Math.min(timing(ttlMs).pollMs, Number((end - monoNs()) / 1_000_000n)));
      continue;
    }
    const now = monoNs(); // the end of the read: the latest the value can have been written
    const mem: Memory = await readMemory(ctx, name);
    if (pending && oid === pending.oid) {
      await writeMemory(ctx, name, { ...mem, known: Math.max(mem.known, pending.generation), obs: { oid, sinceNs: now } });
      return { ok: true, held: { oid, generation: pending.generation, confirmedNs: pending.startNs, reason: 'took it' } };
    }
    pending = null;
    obs = observe(mergeObservations(obs, mem.obs), oid, now);
    const view = await verify(name, oid);
    const known = view.kind === 'verified' ? Math.max(mem.known, view.record.generation) : mem.known;
    await writeMemory(ctx, name, { ...mem, known, obs });
    const d = decide(view, obs, now, ttlMs, known);
    if (d.take) {
      const commit = await writeLeaseCommit(ctx, record(ctx, name, d.generation, ttlMs, 'held'));
      const start = monoNs();
      try {
        const r = await pushLease(ctx, name, commit, d.expected, net);
        if (r === 'ok') {
          await writeMemory(ctx, name, { ...(await readMemory(ctx, name)), known: d.generation });
          return { ok: true, held: { oid: commit, generation: d.generation, confirmedNs: start, reason: d.reason } };
        }
      } catch (e) {
        pending = { oid: commit, startNs: start, generation: d.generation };
        if (monoNs() >= end) throw e;
      }
      continue; // someone else moved it first (or the outcome is unknown): read again
    }
    const left = Number((end - monoNs()) / 1_000_000n);
    if (left <= 0) return { ok: false, decision: d };
    const poll = timing(view.kind === 'verified' ? view.record.ttlMs : ttlMs).pollMs;
    await sleep(Math.min(poll, left, d.earliestMs));
  }
}

/** The line for exit 75: who holds it and the earliest it could be taken. */
export function heldMessage(name: string, d: Extract<Decision, { take: false }>): string {
  const gen = d.generation === null ? '' : ` (generation ${d.generation})`;
  return `lease ${name} is held by ${d.holder}${gen}: seen unchanged for ${fmtMs(d.seenMs)} by this instance; it can be taken in ${fmtMs(d.earliestMs)} at the earliest, if it is not renewed meanwhile. Retry later, or wait with --wait SEC`;
}

/**
 * Renew a held lease once: 'ok' (with the new commit and the start of its
 * push), 'lost' (the hub shows another value), or an error (hub
 * unreachable; the caller retries while its deadline allows). `uncertain`:
 * commits of ours whose push outcome is unknown; if the hub shows one of
 * them, it is ours.
 */
export async function renewOnce(
  ctx: Context,
  name: string,
  cur: Held,
  ttlMs: number,
  state: LeaseRecord['state'],
  uncertain: Array<{ oid: string; startNs: bigint }>,
): Promise<{ result: 'ok'; held: Held } | { result: 'lost'; now: string | null }> {
  const net = netTimeoutMs(ttlMs);
  let expected = cur.oid;
  if (uncertain.length) {
    const seen = await fetchLease(ctx, name, net);
    if (uncertain.some((u) => u.oid === seen)) expected = seen!;
    else if (seen !== cur.oid) return { result: 'lost', now: seen };
    uncertain.length = 0;
  }
  const commit = await writeLeaseCommit(ctx, record(ctx, name, cur.generation, ttlMs, state));
  const start = monoNs();
  uncertain.push({ oid: commit, startNs: start });
  const r = await pushLease(ctx, name, commit, expected, net);
  if (r === 'ok') {
    uncertain.length = 0;
    return { result: 'ok', held: { ...cur, oid: commit, confirmedNs: start } };
  }
  // rejected: the hub's value is not `expected`; one of ours if an earlier push landed late
  const seen = await fetchLease(ctx, name, net);
  if (seen === commit) return { result: 'ok', held: { ...cur, oid: commit, confirmedNs: start } };
  return { result: 'lost', now: seen };
}

export interface Renewer {
  /** The lease as last confirmed. */
  held(): Held;
  /** Why the lease is no longer ours (the hub shows another value, or this holder's deadline passed unrenewed); null while held. */
  lost(): string | null;
  /** The last renewal's error ('' after a success). */
  lastError(): string;
  /** Stop renewing (a renewal in flight finishes first). */
  stop(): Promise<void>;
}

/**
 * Renew a held lease in the background while work runs: every ttl/3 after
 * the last confirmation, every ttl/12 after a failure. `renewed` gets each
 * confirmation; `lost` is called once when the hub shows another value.
 */
export function renewInBackground(ctx: Context, name: string, ttlMs: number, held: Held, on: { renewed?: (h: Held) => void; lost?: (why: string) => void } = {}, uncertain: Array<{ oid: string; startNs: bigint }> = []): Renewer {
  const t = timing(ttlMs);
  let cur = held;
  let lost: string | null = null;
  let lastError = '';
  let stopped = false;
  let wake: () => void = () => undefined;
  const stopping = new Promise<void>((r) => (wake = r));
  const loop = (async (): Promise<void> => {
    while (!stopped && lost === null) {
      const since = msSince(cur.confirmedNs);
      await Promise.race([sleep(lastError ? Math.max(100, t.renewMs / 4) : t.renewMs - since), stopping]);
      if (stopped || lost !== null) return;
      try {
        const r = await renewOnce(ctx, name, cur, ttlMs, 'held', uncertain);
        if (r.result === 'ok') {
          cur = r.held;
          lastError = '';
          on.renewed?.(cur);
        } else {
          lost = `lost lease ${name}: the hub shows ${r.now ? `another value (${r.now.slice(0, 10)})` : 'no lease'} where this instance's renewal expected its own`;
          on.lost?.(lost);
        }
      } catch (e) {
        lastError = (e as Error).message.split('\n')[0] ?? String(e);
      }
    }
  })();
  return {
    held: () => cur,
    lost: () => lost ?? (monoNs() >= holderDeadlineNs(cur.confirmedNs, t) ? `could not renew lease ${name} in time (last error: ${lastError || 'none; renewals were too slow'})` : null),
    lastError: () => lastError,
    stop: async () => {
      stopped = true;
      wake();
      await loop.catch(() => undefined);
    },
  };
}

/**
 * The keeper: runs CMD in its own process group (the keeper leads it),
 * enforces the deadline agentgit sends ("D <ns>"), stops on "K" or when
 * agentgit goes away, and reports "X <code> <signal>" when CMD ends.
 */
const KEEPER = `
const { spawn } = require('child_process');
const net = require('net');
const o = JSON.parse(process.argv[1]);
const ctl = new net.Socket({ fd: 3, readable: true, writable: true });
let deadline = BigInt(o.deadline), stopping = false, exited = false, killed = false;
const graceNs = BigInt(o.graceMs) * 1000000n;
process.on('SIGTERM', () => {}); process.on('SIGINT', () => {}); process.on('SIGHUP', () => {});
const send = (l) => { try { ctl.write(l + '\\n'); } catch {} };
const group = (sig) => { try { process.kill(-process.pid, sig); } catch {} };
const stop = (why) => { if (stopping || exited) return; stopping = true; send('S ' + why); try { process.kill(-process.pid, 'SIGTERM'); } catch {} setTimeout(() => { if (!exited) { killed = true; group('SIGKILL'); } }, o.graceMs).unref(); };
const child = spawn(o.cmd, o.args, { stdio: 'inherit' });
child.on('error', (e) => { exited = true; send('E ' + e.message); ctl.end(() => process.exit(127)); setTimeout(() => process.exit(127), 1000).unref(); });
child.on('exit', (code, sig) => { exited = true; clearInterval(tick); send('X ' + code + ' ' + sig); ctl.end(() => group('SIGKILL')); setTimeout(() => group('SIGKILL'), 1000).unref(); });
const tick = setInterval(() => {
  const now = process.hrtime.bigint();
  if (now >= deadline) { if (!exited) { killed = true; send('S deadline'); group('SIGKILL'); } }
  else if (now >= deadline - graceNs) stop('deadline');
}, 10);
let buf = '';
ctl.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 1); if (l.startsWith('D ')) deadline = BigInt(l.slice(2)); else if (l === 'K') stop('asked'); } });
ctl.on('end', () => stop('agentgit is gone'));
ctl.on('error', () => stop('agentgit is gone'));
`;

export interface RunOutcome {
  /** CMD's exit status (128 + signal number when a signal ended it). */
  status: number;
  /** Set when the lease was lost or could not be renewed in time: why CMD was stopped. */
  lost: string | null;
  generation: number;
  released: boolean;
  notes: string[];
}

/** Hold lease NAME (taken: `held`) while CMD runs; renew every ttl/3; release when CMD ends. */
export async function holdWhileRunning(ctx: Context, name: string, ttlMs: number, held: Held, cmd: string, args: string[]): Promise<RunOutcome> {
  const t = timing(ttlMs);
  const notes: string[] = [];
  const keeper = spawn(process.execPath, ['-e', KEEPER, JSON.stringify({ cmd, args, deadline: holderDeadlineNs(held.confirmedNs, t).toString(), graceMs: t.graceMs })], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    detached: true,
    env: { ...process.env, AGENTGIT_LEASE_TOKEN: String(held.generation), AGENTGIT_LEASE_NAME: name },
  });
  const ctl = keeper.stdio[3] as Socket;
  ctl.on('error', () => undefined);
  let lost: string | null = null;
  let ended = false;
  let status = 1;
  let spawnError: string | null = null;
  const done = new Promise<void>((resolve) => {
    let buf = '';
    ctl.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (l.startsWith('X ')) {
          const [code, sig] = l.slice(2).split(' ');
          status = code !== 'null' ? Number(code) : 128 + (constants.signals[sig as keyof typeof constants.signals] ?? 0);
        } else if (l.startsWith('E ')) {
          spawnError = l.slice(2);
          status = 127;
        } else if (l === 'S deadline' && lost === null) {
          lost = `could not renew lease ${name} in time (last error: ${renewer.lastError() || 'none; renewals were too slow'}): stopped the command before another instance could take the lease`;
        }
      }
    });
    keeper.on('close', (code, sig) => {
      ended = true;
      if (status === 1 && code !== null && code !== 0) status = code;
      else if (sig && status === 1) status = 128 + (constants.signals[sig] ?? 0);
      resolve();
    });
  });
  const send = (l: string): void => {
    if (!ended) ctl.write(l + '\n');
  };
  const forward = (): void => send('K');
  const sigs: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const s of sigs) process.on(s, forward);

  const uncertain: Array<{ oid: string; startNs: bigint }> = [];
  const renewer = renewInBackground(ctx, name, ttlMs, held, {
    renewed: (h) => send(`D ${holderDeadlineNs(h.confirmedNs, t).toString()}`),
    lost: (why) => {
      if (lost === null) lost = `${why}; stopped the command`;
      send('K');
    },
  }, uncertain);
  await done;
  for (const s of sigs) process.off(s, forward);
  await renewer.stop();
  const cur = renewer.held();
  if (spawnError) notes.push(`cannot run ${cmd}: ${spawnError}`);
  // released also after a missed deadline (CMD is stopped; the hub may still show our lease):
  // the CAS makes it a no-op when someone else holds it by now
  let released = false;
  try {
    const r = await renewOnce(ctx, name, cur, ttlMs, 'released', uncertain);
    released = r.result === 'ok';
    if (!released && lost === null) notes.push(`lease ${name} was no longer ours at release`);
  } catch (e) {
    if (lost === null) notes.push(`could not release lease ${name} (${(e as Error).message.split('\n')[0]}): it expires by itself after its ttl (${fmtMs(ttlMs)})`);
  }
  return { status, lost, generation: cur.generation, released, notes };
}
