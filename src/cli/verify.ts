/**
 * `agentgit verify [--json]`: audit the whole history.
 * - signatures: every commit signed by a key admitted as of every parent,
 *   never removed, and authored by that key's principal (the same rule sync
 *   applies to what it fetches); each finding names author and signer;
 * - trees: every commit's tree passes the rules sync applies to what it
 *   fetches (git/paths.ts: no .git, no escaping path, no link where agentgit
 *   writes, depth and size limits): history from before those rules, or
 *   pushed past them by hand, is audited too;
 * - append-only: every commit that removed entries from a log, and by whom;
 * - secrets: any object anywhere in the repo that looks like a private key or token.
 * Exit 0 when clean, 1 when anything is found.
 */
import { verifyRange } from '../identity/verify.js';
import { treeLimitsOf, treeRejections } from '../git/paths.js';
import { SIGNERS_PATH } from '../identity/signers.js';
import { lostEntries } from '../merge/log.js';
import { findSecret } from '../sync/guard.js';
import { openContext } from '../sync/context.js';
import { compactionConserves } from '../sync/compact.js'; // a log compaction moves entries, it does not lose them
import { printJson } from './output.js';

export async function verifyCommand(a: { C: string; json: boolean }): Promise<void> {
  const { repo, policy } = await openContext(a.C);
  try {
    const head = await repo.revParse('HEAD');
    const signatures = head ? await verifyRange(repo, { exclude: [], tip: head, allowBootstrap: true }) : [];
    const trees = head ? await treeRejections(repo, { exclude: [], tip: head, limits: treeLimitsOf(policy.config) }) : [];
    // append-only: non-merge commits that dropped log entries
    const rewrites: { commit: string; author: string; path: string; lost: number; first: string }[] = [];
    const log = head ? await repo.logWithChanges({ fields: ['%H', '%an'], noMerges: true, include: [head] }) : [];
    for (const { fields: [oid, author], changes } of log) {
      for (const { path, status, oldOid, newOid } of changes) {
        if (status !== 'M' && status !== 'D') continue;
        if (policy.kindOf(path) !== 'log' || policy.allowsLogRewrite(path)) continue;
        if (path === SIGNERS_PATH) continue; // not a log of entries: trust add/remove edit it, and the signatures above check who may
        const before = (await repo.objects.read(oldOid))?.toString('utf8') ?? '';
        const after = status === 'D' ? '' : (await repo.objects.read(newOid))?.toString('utf8') ?? '';
        const d = lostEntries(path, before.replace(/\r\n/g, '\n'), after.replace(/\r\n/g, '\n'));
        if (d.lost.length > 0 && !(await compactionConserves(repo, oid!, path))) rewrites.push({ commit: oid!, author: author!, path, lost: d.lost.length, first: d.lost[0]!.trim().slice(0, 60) });
      }
    }
    // secrets in any object
    const secrets: { object: string; what: string }[] = [];
    for (const { oid, type } of await repo.allObjects()) {
      if (type !== 'blob') continue;
      const b = await repo.objects.read(oid);
      const what = b ? findSecret(b) : null;
      if (what) secrets.push({ object: oid, what });
    }
    const ok = signatures.length === 0 && trees.length === 0 && rewrites.length === 0 && secrets.length === 0;
    if (a.json) printJson({ ok, signatures, trees, rewrites, secrets });
    else {
      for (const s of signatures) process.stdout.write(`signature: ${s.commit.slice(0, 10)} authored by ${JSON.stringify(s.author)}, signed by ${s.signer ?? 'nobody'}: ${s.reason}\n`);
      for (const t of trees) process.stdout.write(`tree: ${t.commit.slice(0, 10)} by ${JSON.stringify(t.author)}: ${t.reason}\n`);
      for (const r of rewrites) process.stdout.write(`rewrite: ${r.commit.slice(0, 10)} by ${JSON.stringify(r.author)} removed ${r.lost} entr${r.lost === 1 ? 'y' : 'ies'} from ${r.path} (first: ${JSON.stringify(r.first)})\n`);
      for (const s of secrets) process.stdout.write(`secret: object ${s.object.slice(0, 10)} holds a ${s.what}; rewrite history to purge it (git filter-repo) and rotate the secret\n`);
      process.stdout.write(ok ? 'history verified: every commit signed by an admitted key, every tree within the path rules, no log rewritten, no secret stored\n' : 'verification found problems (above)\n');
    }
    process.exitCode = ok ? 0 : 1;
  } finally {
    repo.close();
  }
}
