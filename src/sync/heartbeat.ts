/**
 * Heartbeats: each sync publishes a small signed commit (empty tree, JSON
 * message) at `refs/agentgit/instances/INSTANCE` on the hub, never on the
 * branch. Every instance fetches them all with its branch, in the same
 * connection, so status can report the whole fleet without reaching it.
 */
import { parseCommitHeader } from '../git/objects.js';
import type { Repo } from '../git/repo.js';

export const HUB_PREFIX = 'refs/agentgit/instances/';
export const LOCAL_PREFIX = 'refs/agentgit/hub-instances/';

export interface Heartbeat {
  v: 1;
  agent: string;
  instance: string;
  /** When this heartbeat was made (ms). */
  at: number;
  lastSuccessAt: number | null;
  /** The commit the instance holds, and its tree: equal trees mean byte-identical synced state. */
  head: string | null;
  checksum: string | null;
  dirty: boolean;
  conflictsTotal: number;
  held: number;
  lastDurationMs: number | null;
  recoveryMs: number | null;
  rebuildFailed: string | null;
}

export function fetchRefspec(): string {
  return `+${HUB_PREFIX}*:${LOCAL_PREFIX}*`;
}

export function pushRefspec(oid: string, instance: string): string {
  // forced: a heartbeat replaces the last one; it is not history
  return `+${oid}:${HUB_PREFIX}${instance}`;
}

export async function makeHeartbeat(repo: Repo, hb: Heartbeat, sign: boolean): Promise<string> {
  // git knows the empty tree without it being stored, so nothing else may
  // have written it: a commit pointing at it must (else `git fsck`: "missing tree")
  return repo.commitTree(await repo.writeEmptyTree(), [], `agentgit heartbeat ${hb.agent}/${hb.instance}\n\n${JSON.stringify(hb)}\n`, { sign });
}

export function parseHeartbeat(commitText: string): Heartbeat | null {
  const body = commitText.slice(commitText.indexOf('\n\n') + 2);
  const line = body.split('\n').find((l) => l.startsWith('{'));
  if (!line) return null;
  try {
    const v = JSON.parse(line) as Heartbeat;
    return v && v.v === 1 && typeof v.instance === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** All heartbeats fetched from the hub (as of the last sync). */
export async function readHeartbeats(repo: Repo): Promise<Heartbeat[]> {
  const out: Heartbeat[] = [];
  for (const oid of (await repo.refs([LOCAL_PREFIX])).values()) {
    const c = await repo.objects.read(oid);
    const hb = c ? parseHeartbeat(c.toString('utf8')) : null;
    if (hb) out.push(hb);
  }
  return out;
}

/** A heartbeat status did not count, and why. */
export interface IgnoredHeartbeat {
  ref: string;
  reason: string;
}

/**
 * The fetched heartbeats that verify like commits: signed by a key admitted
 * as of `head` (our verified branch head) and never removed, whose principal
 * is the heartbeat's own AGENT/INSTANCE (its author and its ref name agree).
 * Anything else (unsigned, another instance's key, a removed key, an odd
 * commit) is ignored and listed with the reason: a ghost cannot look healthy.
 */
export async function readVerifiedHeartbeats(repo: Repo, head: string | null): Promise<{ heartbeats: Heartbeat[]; ignored: IgnoredHeartbeat[] }> {
  const refs = await repo.refs([LOCAL_PREFIX]);
  const heartbeats: Heartbeat[] = [];
  const ignored: IgnoredHeartbeat[] = [];
  if (refs.size === 0) return { heartbeats, ignored };
  // loaded here, not at start: a sync round (which imports this module) rarely verifies
  const { signersAt } = await import('../identity/admission.js');
  const { revokedIn, signatureStatus } = await import('../identity/verify.js');
  const revoked = head ? await revokedIn(repo, [head]) : new Map();
  const admitted = head ? (await signersAt(repo, head)).filter((s) => !revoked.has(s.fingerprint)) : [];
  for (const [ref, oid] of refs) {
    const name = ref.slice(LOCAL_PREFIX.length);
    const raw = await repo.objects.read(oid);
    const header = raw ? parseCommitHeader(raw) : null;
    const hb = raw ? parseHeartbeat(raw.toString('utf8')) : null;
    const skip = (reason: string): void => void ignored.push({ ref: `${HUB_PREFIX}${name}`, reason });
    if (!header || !hb || header.parents.length > 0) {
      skip('it is not a heartbeat commit agentgit writes');
      continue;
    }
    const principal = `${hb.agent}/${hb.instance}`;
    if (hb.instance !== name || header.author !== principal) {
      skip(`it claims to be ${principal} (author "${header.author}") under the name ${name}`);
      continue;
    }
    if (!head) {
      skip('there is no verified history yet to check its signature against');
      continue;
    }
    const s = await signatureStatus(repo, oid, admitted);
    const signer = admitted.filter((x) => x.fingerprint === s.fp).map((x) => x.principal);
    if (s.g === 'G' && signer.includes(principal)) {
      heartbeats.push(hb);
      continue;
    }
    const gone = revoked.get(s.fp);
    skip(
      s.g === 'N'
        ? 'it is not signed'
        : s.g === 'B'
          ? 'its signature does not match its content'
          : gone
            ? `it is signed by a key removed at ${gone.commit.slice(0, 10)} (${gone.principal})`
            : signer.length > 0
              ? `it is signed by the key of ${signer.join(', ')}, not of ${principal}`
              : `it is signed by ${s.fp || 'a key'} that is not admitted`,
    );
  }
  return { heartbeats, ignored };
}
