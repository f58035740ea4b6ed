/**
 * Verifying history: every commit must be signed by a key that was admitted
 * as of its parents (the union of the parents' `.agentgit/allowed_signers`).
 *
 * Exceptions, each narrow:
 * - bootstrap: the commit that creates allowed_signers may admit its own
 *   signer, but only the first time we meet a hub (trust on first use);
 * - legacy: history from before agentgit (no allowed_signers in the commit
 *   or its parents) passes, but never as the tip: a signed descendant must
 *   vouch for it;
 * - open enrollment: where the parent's policy sets trust.openEnrollment, a
 *   commit that adds exactly its own signer's key and changes nothing else.
 *
 * ed25519 SSH signatures are checked in-process (identity/sshsig.ts), so
 * verification costs no process per commit; other signatures go to one
 * `git log` per distinct allowed-signers set (git runs ssh-keygen).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicy, POLICY_PATH } from '../policy/policy.js';
import type { CommitInfo, Repo } from '../git/repo.js';
import { splitSignature } from '../git/objects.js';
import { verifySshsig } from './sshsig.js';
import { parseSigners, SIGNERS_PATH, type Signer } from './signers.js';

export interface Rejection {
  commit: string;
  author: string;
  reason: string;
}


export interface VerifyOptions {
  /** Commits reachable from these are trusted already (our own history). */
  exclude: string[];
  /** The tip to verify. */
  tip: string;
  /** Accept a self-admitting root commit (first contact with a hub). */
  allowBootstrap: boolean;
  /** The commits `tip` brings that `exclude` lacks, when the caller knows them already (Repo.commitsSince). */
  commits?: CommitInfo[];
}

async function listCommits(repo: Repo, o: VerifyOptions): Promise<CommitInfo[]> {
  const args = ['log', '--reverse', '--topo-order', '--format=%H%x00%P%x00%an', o.tip, ...o.exclude.map((e) => `^${e}`), '--'];
  const out = (await repo.run(args)).stdout.toString('utf8');
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [oid, parents, author] = l.split('\0');
      return { oid: oid!, parents: parents ? parents.split(' ') : [], author: author ?? '' };
    });
}

export async function verifyRange(repo: Repo, o: VerifyOptions): Promise<Rejection[]> {
  const commits = o.commits ?? (await listCommits(repo, o));
  if (commits.length === 0) return [];
  const signersAt = new Map<string, Signer[]>();
  const signersOf = async (rev: string): Promise<Signer[]> => {
    let s = signersAt.get(rev);
    if (!s) {
      const b = await repo.objects.read(`${rev}:${SIGNERS_PATH}`);
      s = parseSigners(b ? b.toString('utf8') : null);
      signersAt.set(rev, s);
    }
    return s;
  };
  // group commits by the allowed set that applies to them
  const groups = new Map<string, { signers: Signer[]; commits: CommitInfo[] }>();
  const legacy = new Set<string>();
  for (const c of commits) {
    let allowed: Signer[] = [];
    for (const p of c.parents) allowed = [...allowed, ...(await signersOf(p))];
    if (allowed.length === 0) {
      const own = await signersOf(c.oid);
      if (own.length === 0) {
        // history from before agentgit (an adopted backup): it can only be
        // published through a signed descendant, so it may not be the tip
        if (c.oid !== o.tip || o.allowBootstrap) {
          legacy.add(c.oid);
          continue;
        }
      } else if (o.allowBootstrap) {
        allowed = own; // the founding commit admits its own signer
      }
    }
    const text = [...new Set(allowed.map((s) => s.line))].sort().join('\n');
    const g = groups.get(text) ?? { signers: allowed, commits: [] };
    g.commits.push(c);
    groups.set(text, g);
  }
  const status = new Map<string, { g: string; fp: string }>();
  // ed25519 SSH signatures are checked in-process; anything else by git (ssh-keygen)
  const byGit = new Map<string, CommitInfo[]>();
  for (const [text, g] of groups) {
    for (const c of g.commits) {
      const s = await checkInProcess(repo, c.oid, g.signers);
      if (s) status.set(c.oid, s);
      else byGit.set(text, [...(byGit.get(text) ?? []), c]);
    }
  }
  if (byGit.size > 0) {
    const dir = await mkdtemp(join(tmpdir(), 'agentgit-verify-'));
    try {
      let n = 0;
      for (const [text, list] of byGit) {
        const file = join(dir, `allowed-${n++}`);
        await writeFile(file, text + '\n');
        const out = await repo.run(['-c', `gpg.ssh.allowedSignersFile=${file}`, 'log', '--no-walk=unsorted', '--format=%H%x00%G?%x00%GK', '--stdin'], {
          input: list.map((c) => c.oid).join('\n') + '\n',
        });
        for (const l of out.stdout.toString('utf8').split('\n')) {
          const [oid, gs, fp] = l.split('\0');
          if (oid) status.set(oid, { g: gs ?? 'N', fp: fp ?? '' });
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const rejections: Rejection[] = [];
  for (const c of commits) {
    if (legacy.has(c.oid)) continue;
    const s = status.get(c.oid) ?? { g: 'N', fp: '' };
    if (s.g === 'G') continue;
    if ((s.g === 'U' || s.g === 'E') && s.fp && (await isOpenEnrollment(repo, c, s.fp, signersOf))) continue;
    rejections.push({ commit: c.oid, author: c.author, reason: reasonFor(s, c) });
  }
  return rejections;
}

/**
 * git's %G? and %GK for one commit, computed in-process: N unsigned, B bad
 * signature, G good and its key allowed (for namespace git), U good but not
 * allowed. Null when git must decide (not an ed25519 SSH signature).
 */
async function checkInProcess(repo: Repo, oid: string, signers: Signer[]): Promise<{ g: string; fp: string } | null> {
  const raw = await repo.objects.read(oid);
  if (!raw) return null;
  const { payload, signature } = splitSignature(raw.toString('latin1'));
  if (!signature) return { g: 'N', fp: '' };
  const check = verifySshsig(Buffer.from(payload, 'latin1'), signature);
  if (!check) return null;
  if (!check.valid) return { g: 'B', fp: check.fingerprint };
  const allowed = signers.some((s) => s.fingerprint === check.fingerprint && allowsGit(s));
  return { g: allowed ? 'G' : 'U', fp: check.fingerprint };
}

/** The line's `namespaces="…"` option admits namespace git (no option: every namespace). */
function allowsGit(s: Signer): boolean {
  const m = /namespaces="([^"]*)"/.exec(s.line.slice(0, s.line.indexOf(s.key)));
  return !m || m[1]!.split(',').some((n) => n.trim() === 'git' || n.trim() === '*');
}

function reasonFor(s: { g: string; fp: string }, c: CommitInfo): string {
  if (s.g === 'N') return 'it is not signed';
  if (s.g === 'B') return 'its signature does not match its content (tampered)';
  if (c.parents.length === 0) return `it starts a new history signed by ${s.fp || 'an unknown key'}, and this hub's history is already known`;
  return `it is signed by ${s.fp || 'an unknown key'}, which was not admitted as of its parents (unknown or removed key, or an allowed_signers change not signed by an admitted key)`;
}

/** Adds exactly its own signer to allowed_signers, changes nothing else, and the policy allows it. */
async function isOpenEnrollment(repo: Repo, c: CommitInfo, fp: string, signersOf: (rev: string) => Promise<Signer[]>): Promise<boolean> {
  if (c.parents.length !== 1) return false;
  const p = c.parents[0]!;
  const policyBytes = await repo.objects.read(`${p}:${POLICY_PATH}`);
  try {
    if (!parsePolicy(policyBytes ? policyBytes.toString('utf8') : null).trust.openEnrollment) return false;
  } catch {
    return false;
  }
  const changed = await repo.diffTree(p, c.oid);
  if (changed.length !== 1 || changed[0]!.path !== SIGNERS_PATH) return false;
  const before = await signersOf(p);
  const after = await signersOf(c.oid);
  const beforeLines = new Set(before.map((s) => s.line));
  const added = after.filter((s) => !beforeLines.has(s.line));
  const kept = after.filter((s) => beforeLines.has(s.line));
  return added.length === 1 && added[0]!.fingerprint === fp && kept.length === before.length;
}
