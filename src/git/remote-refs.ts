/**
 * Single refs on the hub outside the synced branch (leases, docs/leases.md):
 * fetch one ref (or a namespace) into a private local namespace, and
 * compare-and-swap pushes. Each call is one git process with a timeout; the
 * environment never prompts (git/exec.ts), and ssh gets the same settings
 * as a sync round (git/ssh.ts).
 */
import type { Repo } from './repo.js';
import { GitError } from './exec.js';

export type CasResult = 'ok' | 'rejected';

function lastLines(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim() && !l.startsWith('hint:'));
  return (lines.find((l) => /fatal:|error:/.test(l)) ?? lines[0] ?? '').trim();
}

/**
 * Fetch `src` (a ref or a `refs/x/*` pattern) from `remote` into `dst`
 * (forced: the hub's value replaces ours), pruning local refs under `dst`
 * the hub no longer has when `prune`. Returns false when a single ref is
 * not on the hub (its local copy is then deleted).
 */
export async function fetchRefsInto(repo: Repo, remote: string, src: string, dst: string, opts: { timeoutMs: number; prune?: boolean }): Promise<boolean> {
  const r = await repo.fetch(remote, [`+${src}:${dst}`], opts);
  if (r.ok) return true;
  if (!src.includes('*') && r.missingRemoteRef) {
    await repo.deleteRef(dst);
    return false;
  }
  throw new GitError(`git fetch failed: ${lastLines(r.stderr)}`, ['fetch'], r.code, r.stderr, false);
}

/**
 * Set `ref` on `remote` to `oid` only if it is `expected` now (null: only
 * if it does not exist). 'rejected' when the hub's ref was something else;
 * a failure to reach the hub throws (GitError: errors.ts sorts it).
 */
export async function pushCompareAndSwap(repo: Repo, remote: string, oid: string, ref: string, expected: string | null, opts: { timeoutMs: number }): Promise<CasResult> {
  // no `+` on the refspec: it would force the update past the lease (git push: a
  // forced refspec overrides --force-with-lease); the lease alone allows the non-fast-forward
  const r = await repo.push({ remote, refspecs: [`${oid}:${ref}`], leases: [{ ref, expected: expected ?? '' }], timeoutMs: opts.timeoutMs });
  const out = r.stdout;
  const line = r.refs.find((x) => x.to === ref);
  if (r.ok && line && line.flag !== '-' && line.flag !== '!') return 'ok';
  if (line && line.flag === '!' && /stale info|rejected|fetch first|non-fast-forward|failed to update ref|cannot lock ref|already exists/i.test(`${line.flag}\t${line.from}:${line.to}\t${line.summary}` + r.stderr)) return 'rejected';
  throw new GitError(`git push failed: ${lastLines(r.stderr) || lastLines(out) || `exit ${r.code}`}`, ['push'], r.code, r.stderr, false);
}
