/**
 * Admission: an instance pushes only once its key is in allowed_signers on
 * the branch. Until then it commits locally and merges the hub (pull-only),
 * and what it committed meanwhile is re-signed on admission: its unpushed
 * commits are folded into one commit on top of the hub's head, so every
 * commit it publishes verifies.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Repo } from '../git/repo.js';
import { fingerprint } from './keys.js';
import { parseSigners, SIGNERS_PATH } from './signers.js';
import { revokedIn, verifyRange } from './verify.js';

export async function signersAt(repo: Repo, rev: string): Promise<ReturnType<typeof parseSigners>> {
  const b = await repo.readAt(rev, SIGNERS_PATH);
  return parseSigners(b ? b.toString('utf8') : null);
}

/**
 * The key is in allowed_signers at `rev` and was never removed in its
 * history (a removed key stays revoked even if a line re-adds it: every
 * instance would refuse what it signs, so it must not push).
 */
export async function isAdmitted(repo: Repo, rev: string, publicKey: string): Promise<boolean> {
  const fp = fingerprint(publicKey);
  if (!fp || !(await signersAt(repo, rev)).some((s) => s.fingerprint === fp)) return false;
  const oid = /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(rev) ? rev : await repo.revParse(rev); // a commit id needs no process
  return !oid || !(await revokedIn(repo, [oid])).has(fp);
}

const flag = (repo: Repo): string => repo.stateFile('unadmitted');

export async function markUnadmitted(repo: Repo): Promise<void> {
  await mkdir(dirname(flag(repo)), { recursive: true });
  await writeFile(flag(repo), `${new Date().toISOString()}\n`);
}

/**
 * After admission: if any commit between the hub's head and ours would not
 * verify, replace them with one signed commit of the same tree. Its parents
 * are the hub's head and the tips of whatever local history does verify
 * (an adopted pre-agentgit history stays linked). Returns the new head.
 */
export async function foldUnverifiable(repo: Repo, ref: string, hubHead: string | null, head: string, sign: boolean, message: string): Promise<string> {
  if (!existsSync(flag(repo))) return head;
  const bad = new Set((await verifyRange(repo, { exclude: hubHead ? [hubHead] : [], tip: head, allowBootstrap: hubHead === null })).map((r) => r.commit));
  if (bad.size === 0) {
    await rm(flag(repo), { force: true });
    return head;
  }
  const walked = await repo.walk({ include: [head], exclude: hubHead ? [hubHead] : [] }, { reverse: true, topo: true });
  const good = new Set<string>();
  const parentsOf = new Map<string, string[]>();
  for (const { oid, parents } of walked) {
    parentsOf.set(oid, parents);
    const localParents = parents.filter((p) => parentsOf.has(p));
    if (!bad.has(oid) && localParents.every((p) => good.has(p))) good.add(oid);
  }
  const usedAsParent = new Set([...good].flatMap((g) => parentsOf.get(g) ?? []));
  const tips = [...good].filter((g) => !usedAsParent.has(g));
  const tree = await repo.resolveTree(head);
  const next = await repo.commitTree(tree, [...(hubHead ? [hubHead] : []), ...tips], message, { sign });
  await repo.updateRef(ref, next, head, 'agentgit: re-sign work made before admission');
  await rm(flag(repo), { force: true });
  return next;
}
