/**
 * Heartbeats: each sync publishes a small signed commit (empty tree, JSON
 * message) at `refs/agentgit/instances/INSTANCE` on the hub, never on the
 * branch. Every instance fetches them all with its branch, in the same
 * connection, so status can report the whole fleet without reaching it.
 */
import { EMPTY_TREE, writeObjectSync } from '../git/objects.js';
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
  writeObjectSync(repo.gitDir, 'tree', Buffer.alloc(0));
  return repo.commitTree(EMPTY_TREE, [], `agentgit heartbeat ${hb.agent}/${hb.instance}\n\n${JSON.stringify(hb)}\n`, { sign });
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
  const r = await repo.run(['for-each-ref', '--format=%(objectname)', LOCAL_PREFIX]);
  const out: Heartbeat[] = [];
  for (const oid of r.stdout.toString('utf8').split('\n').filter(Boolean)) {
    const c = await repo.objects.read(oid);
    const hb = c ? parseHeartbeat(c.toString('utf8')) : null;
    if (hb) out.push(hb);
  }
  return out;
}
