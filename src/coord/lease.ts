/**
 * Leases: pure decisions (docs/leases.md). No I/O here: the hub is read and
 * written by coord/store.ts, the holder's loop is coord/holder.ts.
 *
 * A lease is the ref `refs/agentgit/leases/NAME` on the hub, pointing at a
 * small signed commit (empty tree) whose message carries a LeaseRecord. It is
 * taken and renewed only by compare-and-swap pushes. Expiry is judged by the
 * observer's own monotonic clock: the ref has not changed for ttl + margin
 * since this instance first saw it. Wall-clock times in the record are
 * informative only and never decide anything.
 */

export const LEASE_HUB_PREFIX = 'refs/agentgit/leases/';
/** Where this instance keeps its last copy of the hub's lease refs (never pushed, never on a branch). */
export const LEASE_LOCAL_PREFIX = 'refs/agentgit/hub-leases/';

export interface LeaseRecord {
  v: 1;
  name: string;
  agent: string;
  instance: string;
  /** The fencing token: +1 on every take, kept by renewals and the release. */
  generation: number;
  ttlMs: number;
  state: 'held' | 'released';
  /** Wall time of writing (ms): informative only, never compared. */
  at: number;
}

/** What the hub's ref says, after verification (coord/store.ts). */
export type LeaseView =
  | { kind: 'absent' }
  | { kind: 'verified'; oid: string; record: LeaseRecord }
  /** Not believed (unsigned, unknown or removed key, not a lease commit): held by someone unknown. */
  | { kind: 'unverified'; oid: string; reason: string; record: LeaseRecord | null };

/** The ref's value as this instance has watched it: unchanged since `sinceNs` (monotonic). */
export interface Observation {
  oid: string | null;
  sinceNs: bigint;
}

export interface Timing {
  ttlMs: number;
  /** Safety margin: observers wait ttl + margin, holders stop CMD by ttl - margin. */
  marginMs: number;
  /** The holder renews this often. */
  renewMs: number;
  /** SIGTERM this long before the hard stop (SIGKILL). */
  graceMs: number;
  /** Observers waiting to take re-read the hub this often. */
  pollMs: number;
}

/** Shortest ttl accepted: below it a push on a busy machine could not fit in a renewal period. */
export const MIN_TTL_MS = 1000;
export const MAX_TTL_MS = 7 * 86_400_000;

/**
 * The timings a ttl implies. The margin (ttl/5) bounds the clock rate drift
 * the protocol tolerates: |drift| < margin/ttl = 20% between any two
 * instances' monotonic clocks (docs/leases.md, "Clock assumptions").
 */
export function timing(ttlMs: number): Timing {
  const marginMs = Math.floor(ttlMs / 5);
  return {
    ttlMs,
    marginMs,
    renewMs: Math.floor(ttlMs / 3),
    graceMs: Math.min(10_000, Math.floor(ttlMs / 10)),
    pollMs: Math.max(200, Math.min(30_000, Math.floor(ttlMs / 5))),
  };
}

/** A lease name: one safe ref component (letters, digits, `.`, `_`, `-`; no `..`, no `.lock` end). */
export function validName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name) && !name.includes('..') && !name.endsWith('.lock') && !name.endsWith('.');
}

export function leaseMessage(r: LeaseRecord): string {
  const what = r.state === 'released' ? 'released by' : 'held by';
  return `agentgit lease ${r.name}: ${what} ${r.agent}/${r.instance} (generation ${r.generation})\n\n${JSON.stringify(r)}\n`;
}

function safeInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

/** The record in a lease commit's text (header + message), or null when it holds none that is well-formed. */
export function parseLeaseRecord(commitText: string): LeaseRecord | null {
  const body = commitText.slice(commitText.indexOf('\n\n') + 2);
  const line = body.split('\n').find((l) => l.startsWith('{'));
  if (!line) return null;
  let v: Partial<LeaseRecord>;
  try {
    v = JSON.parse(line) as Partial<LeaseRecord>;
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || v.v !== 1) return null;
  if (typeof v.name !== 'string' || !validName(v.name) || typeof v.agent !== 'string' || typeof v.instance !== 'string') return null;
  if (!safeInt(v.generation, 1, Number.MAX_SAFE_INTEGER - 1) || !safeInt(v.ttlMs, MIN_TTL_MS, MAX_TTL_MS) || !safeInt(v.at, 0, Number.MAX_SAFE_INTEGER)) return null;
  if (v.state !== 'held' && v.state !== 'released') return null;
  return { v: 1, name: v.name, agent: v.agent, instance: v.instance, generation: v.generation, ttlMs: v.ttlMs, state: v.state, at: v.at };
}

/**
 * The observation after reading `oid` from the hub at `nowNs` (the end of
 * the read: the latest instant the value can have been written). An
 * unchanged value keeps the earlier start; a new one starts now.
 */
export function observe(prev: Observation | null, oid: string | null, nowNs: bigint): Observation {
  if (prev && prev.oid === oid && prev.sinceNs <= nowNs) return prev;
  return { oid, sinceNs: nowNs };
}

/** Two observations of the same value (e.g. this process's and an earlier one's): the earlier start holds. */
export function mergeObservations(a: Observation | null, b: Observation | null): Observation | null {
  if (!a) return b;
  if (!b || a.oid !== b.oid) return a;
  return a.sinceNs <= b.sinceNs ? a : b;
}

export type Decision =
  | { take: true; expected: string | null; generation: number; reason: string }
  | {
      take: false;
      /** Who holds it, for the message: AGENT/INSTANCE, or a description of the unknown holder. */
      holder: string;
      generation: number | null;
      /** How long this instance has seen the ref unchanged (ms). */
      seenMs: number;
      /** The earliest the lease can be taken if it stays unchanged (ms from now). */
      earliestMs: number;
    };

/**
 * Whether this instance may take the lease now.
 *
 * - absent: take it (creation: the push fails if the ref appeared meanwhile);
 * - released by a verified holder: take it;
 * - held (verified, by anyone, this instance included: another process of
 *   it may be running CMD) or unverified: only once observed unchanged for
 *   ttl + margin. For an unverified commit the ttl is the larger of ours and
 *   the one it claims: a forged short ttl cannot hurry a take.
 *
 * `known`: the highest generation this instance has verified for the lease
 * (0: none). The new generation is above every one seen, believed or not,
 * so the fencing token only ever increases.
 */
export function decide(view: LeaseView, obs: Observation | null, nowNs: bigint, ourTtlMs: number, known: number): Decision {
  if (view.kind === 'absent') return { take: true, expected: null, generation: known + 1, reason: 'it was free' };
  const claimed = view.record?.generation ?? 0;
  const generation = Math.max(known, claimed) + 1;
  if (view.kind === 'verified' && view.record.state === 'released') {
    return { take: true, expected: view.oid, generation, reason: `${view.record.agent}/${view.record.instance} released it` };
  }
  const ttl = view.kind === 'verified' ? view.record.ttlMs : Math.max(ourTtlMs, view.record?.ttlMs ?? 0);
  const t = timing(ttl);
  const seenMs = obs && obs.oid === view.oid ? Number((nowNs - obs.sinceNs) / 1_000_000n) : 0;
  const needMs = t.ttlMs + t.marginMs;
  const holder =
    view.kind === 'verified'
      ? `${view.record.agent}/${view.record.instance}`
      : `an unverified holder (${view.reason}${view.record ? `; it claims ${view.record.agent}/${view.record.instance}` : ''})`;
  if (seenMs >= needMs) {
    return { take: true, expected: view.oid, generation, reason: `${holder} left it unchanged for ${fmtMs(seenMs)} (ttl ${fmtMs(ttl)} + margin ${fmtMs(t.marginMs)})` };
  }
  return { take: false, holder, generation: view.kind === 'verified' ? view.record.generation : null, seenMs, earliestMs: needMs - seenMs };
}

/**
 * The holder's hard stop: CMD must be gone by the start of the last
 * confirmed write (take or renewal) + ttl - margin, on the holder's own
 * monotonic clock. Observers wait ttl + margin from the end of their first
 * read of that write, so 2 × margin separates the two in real time.
 */
export function holderDeadlineNs(confirmedStartNs: bigint, t: Timing): bigint {
  return confirmedStartNs + BigInt(t.ttlMs - t.marginMs) * 1_000_000n;
}

/** A duration for operators: 850ms, 2.5s, 4m10s, 1h2m. */
export function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}
