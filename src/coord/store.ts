/**
 * Leases on the hub: read (fetch + verify), write (signed commit +
 * compare-and-swap push), and what this instance remembers about each lease
 * under `.git/agentgit/leases/` (its monotonic observation of the hub's ref,
 * the highest generation it verified, the lease it holds for scripts).
 * Decisions are in coord/lease.ts.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseCommitHeader } from '../git/objects.js';
import { fetchRefsInto, pushCompareAndSwap, type CasResult } from '../git/remote-refs.js';
import type { Context } from '../sync/context.js';
import { LEASE_HUB_PREFIX, LEASE_LOCAL_PREFIX, leaseMessage, parseLeaseRecord, type LeaseRecord, type LeaseView, type Observation } from './lease.js';

/** Monotonic now (ns): CLOCK_MONOTONIC, shared by every process of this boot. */
export function monoNs(): bigint {
  return process.hrtime.bigint();
}

/** Network steps get at most this long each (and never more than the caller's budget). */
export function netTimeoutMs(ttlMs: number): number {
  return Math.max(1000, Math.min(60_000, Math.floor(ttlMs / 3)));
}

/** Read lease NAME from the hub into the local copy; null: the hub has none. Throws GitError when the hub cannot be reached. */
export async function fetchLease(ctx: Context, name: string, timeoutMs: number): Promise<string | null> {
  const found = await fetchRefsInto(ctx.repo, ctx.settings.remote, `${LEASE_HUB_PREFIX}${name}`, `${LEASE_LOCAL_PREFIX}${name}`, { timeoutMs });
  if (!found) return null;
  return ctx.repo.revParse(`${LEASE_LOCAL_PREFIX}${name}`);
}

/** Read every lease from the hub: name -> oid of the local copy. */
export async function fetchAllLeases(ctx: Context, timeoutMs: number): Promise<Map<string, string>> {
  await fetchRefsInto(ctx.repo, ctx.settings.remote, `${LEASE_HUB_PREFIX}*`, `${LEASE_LOCAL_PREFIX}*`, { timeoutMs, prune: true });
  const refs = await ctx.repo.refs([LEASE_LOCAL_PREFIX]);
  return new Map([...refs].map(([ref, oid]) => [ref.slice(LEASE_LOCAL_PREFIX.length), oid]));
}

/** The verifier for lease commits, loaded once: the admitted, never-removed keys as of this instance's verified HEAD. */
export type Verifier = (name: string, oid: string | null) => Promise<LeaseView>;

export async function leaseVerifier(ctx: Context): Promise<Verifier> {
  const { signersAt } = await import('../identity/admission.js');
  const { revokedIn, signatureStatus } = await import('../identity/verify.js');
  const head = await ctx.repo.revParse('HEAD');
  const revoked = head ? await revokedIn(ctx.repo, [head]) : new Map<string, { commit: string; principal: string }>();
  const admitted = head ? (await signersAt(ctx.repo, head)).filter((s) => !revoked.has(s.fingerprint)) : [];
  return async (name, oid) => {
    if (oid === null) return { kind: 'absent' };
    const raw = await ctx.repo.objects.read(oid);
    const header = raw ? parseCommitHeader(raw) : null;
    const record = raw ? parseLeaseRecord(raw.toString('utf8')) : null;
    const no = (reason: string): LeaseView => ({ kind: 'unverified', oid, reason, record });
    if (!header || !record || header.parents.length > 0 || header.tree !== ctx.repo.emptyTree) return no('it is not a lease commit agentgit writes');
    const principal = `${record.agent}/${record.instance}`;
    if (record.name !== name || header.author !== principal) return no(`it claims ${principal} (author "${header.author}") for lease ${record.name} under the name ${name}`);
    if (!head) return no('there is no verified history yet to check its signature against');
    const s = await signatureStatus(ctx.repo, oid, admitted);
    const signer = admitted.filter((x) => x.fingerprint === s.fp).map((x) => x.principal);
    if (s.g === 'G' && signer.includes(principal)) return { kind: 'verified', oid, record };
    const gone = revoked.get(s.fp);
    return no(
      s.g === 'N'
        ? 'it is not signed'
        : s.g === 'B'
          ? 'its signature does not match its content'
          : gone
            ? `it is signed by a key removed at ${gone.commit.slice(0, 10)}`
            : signer.length > 0
              ? `it is signed by the key of ${signer.join(', ')}, not of ${principal}`
              : 'it is signed by a key that is not admitted',
    );
  };
}

/** Write a lease commit (empty tree, no parent), signed as sync signs its commits. */
export async function writeLeaseCommit(ctx: Context, r: LeaseRecord): Promise<string> {
  // a commit must only point at a stored tree (see health/heartbeat.ts)
  return ctx.repo.commitTree(await ctx.repo.writeEmptyTree(), [], leaseMessage(r), { sign: ctx.settings.sign });
}

export function pushLease(ctx: Context, name: string, oid: string, expected: string | null, timeoutMs: number): Promise<CasResult> {
  return pushCompareAndSwap(ctx.repo, ctx.settings.remote, oid, `${LEASE_HUB_PREFIX}${name}`, expected, { timeoutMs });
}

// --- what this instance remembers (.git/agentgit/leases/NAME.json) ---------

/** This boot's id: monotonic times from another boot mean nothing. */
function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

export interface Memory {
  /** Highest generation verified for this lease (0: none). */
  known: number;
  /** This instance's observation of the hub's ref (this boot only). */
  obs: Observation | null;
  /** The lease this instance holds for `lease acquire/renew/release`. */
  held: { oid: string; generation: number; ttlMs: number } | null;
}

function memoryFile(ctx: Context, name: string): string {
  return ctx.repo.stateFile(join('leases', `${name}.json`));
}

/** What this instance remembers of lease NAME; a damaged or other-boot file counts as nothing known (fail closed: no observation). */
export async function readMemory(ctx: Context, name: string): Promise<Memory> {
  const none: Memory = { known: 0, obs: null, held: null };
  let v: { known?: unknown; obs?: { oid?: unknown; sinceNs?: unknown; boot?: unknown } | null; held?: { oid?: unknown; generation?: unknown; ttlMs?: unknown } | null };
  try {
    v = JSON.parse(await readFile(memoryFile(ctx, name), 'utf8')) as typeof v;
  } catch {
    return none;
  }
  const out: Memory = { ...none };
  if (typeof v.known === 'number' && Number.isSafeInteger(v.known) && v.known >= 0) out.known = v.known;
  const o = v.obs;
  const boot = bootId();
  if (o && boot && o.boot === boot && (o.oid === null || typeof o.oid === 'string') && typeof o.sinceNs === 'string' && /^\d+$/.test(o.sinceNs)) {
    const since = BigInt(o.sinceNs);
    if (since <= monoNs()) out.obs = { oid: o.oid, sinceNs: since };
  }
  const h = v.held;
  if (h && typeof h.oid === 'string' && typeof h.generation === 'number' && typeof h.ttlMs === 'number') out.held = { oid: h.oid, generation: h.generation, ttlMs: h.ttlMs };
  return out;
}

/** Record what this instance knows of lease NAME (atomic: survives kill -9). */
export async function writeMemory(ctx: Context, name: string, m: Memory): Promise<void> {
  const file = memoryFile(ctx, name);
  await mkdir(dirname(file), { recursive: true });
  const boot = bootId();
  const obs = m.obs && boot ? { oid: m.obs.oid, sinceNs: m.obs.sinceNs.toString(), boot } : null;
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ version: 1, known: m.known, obs, held: m.held }) + '\n');
  await rename(tmp, file);
}
