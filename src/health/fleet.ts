/**
 * The fleet view: which instances count. An instance is **active** while its
 * key is in `.agentgit/allowed_signers` (on this branch's head); **removed**
 * once `trust remove` (or a rename) took it out but its last heartbeat is still
 * on the hub; **retired** when it is out and its heartbeat is gone too
 * (`agentgit instances retire NAME`). Only active instances are in `status`,
 * its lag signals and `--check`. A state with no allowed_signers (not yet
 * founded) shows every heartbeat.
 *
 * Retirement is recorded where every instance sees it, signed: a comment
 * line `# retired: AGENT/INSTANCE` in allowed_signers (ssh-keygen and
 * agentgit skip comment lines; the key line itself is gone).
 */
import type { Repo } from '../git/repo.js';
import { parseSigners, SIGNERS_PATH, type Signer } from '../identity/signers.js';
import type { Heartbeat } from '../sync/heartbeat.js';

export type Membership = 'active' | 'removed' | 'retired';

export interface FleetMember {
  principal: string;
  state: Membership;
  self: boolean;
  /** The last heartbeat fetched from the hub, if any. */
  heartbeat: Heartbeat | null;
}

const RETIRED = /^#\s*retired:\s*(\S+)/;

/** Principals retired in an allowed_signers text. */
export function retiredIn(text: string | null): Set<string> {
  const out = new Set<string>();
  for (const l of (text ?? '').split('\n')) {
    const m = RETIRED.exec(l.trim());
    if (m) out.add(m[1]!);
  }
  return out;
}

/** allowed_signers with `principal` recorded as retired (its key line must be removed separately). */
export function markRetired(text: string | null, principal: string, why: string): string {
  if (retiredIn(text).has(principal)) return text ?? '';
  const lines = (text ?? '').split('\n').filter((l) => l.trim());
  return [...lines, `# retired: ${principal} (${why})`].join('\n') + '\n';
}

export async function signersAtHead(repo: Repo, head: string | null): Promise<Signer[]> {
  if (!head) return [];
  const b = await repo.objects.read(`${head}:${SIGNERS_PATH}`);
  return parseSigners(b ? b.toString('utf8') : null);
}

/** Heartbeats of active instances only (every heartbeat while nobody is admitted yet). */
export function activeHeartbeats(heartbeats: Heartbeat[], signers: Signer[]): Heartbeat[] {
  if (signers.length === 0) return heartbeats;
  const admitted = new Set(signers.map((s) => s.principal));
  return heartbeats.filter((hb) => admitted.has(`${hb.agent}/${hb.instance}`));
}

/** Every instance this state has known: admitted now, once admitted (allowed_signers history), or heard from. */
export async function listFleet(repo: Repo, head: string | null, heartbeats: Heartbeat[], self: string): Promise<FleetMember[]> {
  const text = head ? await repo.objects.read(`${head}:${SIGNERS_PATH}`) : null;
  const signers = parseSigners(text ? text.toString('utf8') : null);
  const retired = retiredIn(text ? text.toString('utf8') : null);
  const admitted = new Set(signers.map((s) => s.principal));
  const byPrincipal = new Map(heartbeats.map((hb) => [`${hb.agent}/${hb.instance}`, hb]));
  const known = new Set<string>([...admitted, ...retired, ...byPrincipal.keys()]);
  if (head) {
    for (const l of await repo.pathChangeLines(head, SIGNERS_PATH)) {
      const s = parseSigners(l.slice(1))[0];
      if (s) known.add(s.principal);
    }
  }
  const out: FleetMember[] = [];
  for (const principal of [...known].sort()) {
    const heartbeat = byPrincipal.get(principal) ?? null;
    const state: Membership = admitted.has(principal) || signers.length === 0 ? 'active' : retired.has(principal) ? 'retired' : 'removed';
    out.push({ principal, state, self: principal === self, heartbeat });
  }
  return out;
}
