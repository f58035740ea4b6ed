/**
 * Verifying history: every commit must be signed by a key admitted as of
 * EVERY one of its parents (the intersection of the parents'
 * `.agentgit/allowed_signers`), never removed in its history or in ours
 * (revocation is monotonic), and authored by the principal that key is
 * admitted under. Commit headers are read exactly as git reads them
 * (objects.ts parseCommitHeader); a header git could read differently is
 * refused.
 *
 * Exceptions, each narrow:
 * - bootstrap: the commit that creates allowed_signers may admit its own
 *   signer, but only the first time we meet a hub (trust on first use);
 * - legacy: history from before agentgit (no allowed_signers in the commit
 *   or its parents) passes, but never as the tip: a signed descendant must
 *   vouch for it; a parent without allowed_signers restricts nothing;
 * - open enrollment: where the parent's policy sets trust.openEnrollment, a
 *   commit that adds exactly its own signer's key and changes nothing else.
 *
 * ed25519 SSH signatures are checked in-process (identity/sshsig.ts), so
 * verification costs no process per commit; other signatures go to one
 * `git log` per distinct allowed-signers set (git runs ssh-keygen).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parsePolicy, POLICY_PATH } from '../policy/policy.js';
import type { CommitInfo, Repo } from '../git/repo.js';
import { parseCommitHeader, splitSignature } from '../git/objects.js';
import { registerSignatureChecker } from '../git/iso/signatures.js';
import { verifySshsig } from './sshsig.js';
import { parseSigners, SIGNERS_PATH, type Signer } from './signers.js';

export interface Rejection {
  commit: string;
  /** The author's name as git reads it (%an). */
  author: string;
  /** Who signed it: the principal its key is admitted under, else the key's fingerprint; null when unsigned. */
  signer: string | null;
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
  /** Called as commits are checked (a progress line on a TTY: `clone`). */
  progress?: (done: number, total: number) => void;
}

async function listCommits(repo: Repo, o: VerifyOptions): Promise<CommitInfo[]> {
  return repo.walk({ include: [o.tip], exclude: o.exclude }, { reverse: true, topo: true });
}

type SignersOf = (rev: string) => Promise<Signer[]>;

function signersReader(repo: Repo): SignersOf {
  const cache = new Map<string, Signer[]>();
  return async (rev) => {
    let s = cache.get(rev);
    if (!s) {
      const b = await repo.readAt(rev, SIGNERS_PATH);
      s = parseSigners(b ? b.toString('utf8') : null);
      cache.set(rev, s);
    }
    return s;
  };
}

/** Keys removed: fingerprint -> the commit that removed it (and a principal it had). */
export type Revoked = Map<string, { commit: string; principal: string }>;

const REVOKED_FILE = 'revoked.json';

/**
 * Every key removed from allowed_signers anywhere in the history of `tips`
 * (a key in a parent's allowed_signers and not in the commit's). Revocation
 * is monotonic: such a key stays revoked for every later commit, whatever
 * its parents or tree say. One `git rev-list` limited to allowed_signers;
 * for a single tip (our own verified head) the answer is kept in
 * .git/agentgit/revoked.json and only the history since is read next time.
 */
export async function revokedIn(repo: Repo, tips: string[], signersOf: SignersOf = signersReader(repo)): Promise<Revoked> {
  const out: Revoked = new Map();
  if (tips.length === 0) return out;
  const file = repo.stateFile(REVOKED_FILE);
  let at: string | null = null;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { at?: unknown; revoked?: Record<string, { commit?: unknown; principal?: unknown }> };
    if (typeof c.at === 'string' && /^[0-9a-f]{40,64}$/.test(c.at) && c.revoked && typeof c.revoked === 'object') {
      for (const [fp, v] of Object.entries(c.revoked)) if (typeof v?.commit === 'string' && typeof v.principal === 'string') out.set(fp, { commit: v.commit, principal: v.principal });
      at = c.at;
    }
  } catch {
    /* none yet, or unreadable: read the whole history */
  }
  if (at !== null && tips.length === 1 && tips[0] === at) return out;
  if (at !== null) {
    // The cache speaks for `at`'s history only: it applies to tips that descend from it
    // (the usual case, one new commit on top, is proven in-process), never to another history.
    const cached = at;
    const parents = tips.length === 1 ? await repo.parentsOf(tips[0]!) : [];
    if (parents.length === 1 && parents[0] === cached && (await sameSigners(repo, tips[0]!, cached))) {
      // one commit that leaves allowed_signers as it was: nothing new is revoked
      await saveRevoked(file, tips[0]!, out);
      return out;
    }
    const descends = parents.includes(cached) || (await Promise.all(tips.map((t) => repo.isAncestor(cached, t).catch(() => false)))).every(Boolean);
    if (!descends) {
      out.clear();
      at = null;
    }
  }
  const list = async (since: string | null): Promise<string[]> => (await repo.walk({ include: tips, exclude: since ? [since] : [], path: SIGNERS_PATH, fullHistory: true })).map((c) => c.oid);
  const oids = await list(at).catch(() => list(null));
  for (const oid of oids) {
    const parents = (await repo.commitInfo(oid))?.parents ?? (await repo.walk({ include: [oid] }, { noWalk: true }))[0]?.parents ?? [];
    const own = new Set((await signersOf(oid)).map((s) => s.fingerprint));
    for (const p of parents) for (const s of await signersOf(p)) if (!own.has(s.fingerprint) && !out.has(s.fingerprint)) out.set(s.fingerprint, { commit: oid, principal: s.principal });
  }
  if (tips.length === 1) await saveRevoked(file, tips[0]!, out);
  return out;
}

/** Synchronous, as its read in revokedIn: a small file, written each round with a commit. */
async function saveRevoked(file: string, at: string, revoked: Revoked): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ at, revoked: Object.fromEntries(revoked) }) + '\n');
  renameSync(tmp, file);
}

/** Whether two commits hold the same allowed_signers (the same blob, or both none), read in-process. */
async function sameSigners(repo: Repo, a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([repo.readAt(a, SIGNERS_PATH), repo.readAt(b, SIGNERS_PATH)]);
  return x === null || y === null ? x === y : x.equals(y);
}

interface Plan {
  c: CommitInfo;
  author: string;
  /** Lines admitted as of every parent, revoked keys left out. */
  allowed: Signer[];
  /** Lines admitted by some parent (what a reason can name). */
  known: Signer[];
  /** Revocations known as of this commit's parents. */
  revoked: Revoked;
  /** Not a commit git and agentgit read alike, or unreadable. */
  malformed: string | null;
}

/**
 * Verify what `tip` brings that `exclude` lacks. Every commit must be
 * signed by a key admitted as of EVERY parent that has an allowed_signers
 * (intersection: a merge cannot admit a key one side does not), not
 * removed anywhere in its history nor in `exclude`'s (our own verified
 * head: a hub rewound to before a removal brings nothing the removed key
 * signed), and authored by the principal that key is admitted under.
 */
export async function verifyRange(repo: Repo, o: VerifyOptions): Promise<Rejection[]> {
  const commits = o.commits ?? (await listCommits(repo, o));
  if (commits.length === 0) return [];
  const signersOf = signersReader(repo);
  const base = await revokedIn(repo, o.exclude, signersOf);
  const revokedAfter = new Map<string, Revoked>();
  const plans: Plan[] = [];
  const legacy = new Set<string>();
  for (const c of commits) {
    let revoked = base;
    for (const p of c.parents) {
      const r = revokedAfter.get(p);
      if (!r || r === revoked || r.size === 0) continue;
      if (revoked === base && base.size === 0) revoked = r;
      else revoked = new Map([...revoked, ...r]);
    }
    const raw = await repo.objects.read(c.oid);
    const header = raw ? parseCommitHeader(raw) : null;
    let malformed: string | null = null;
    if (!raw) malformed = 'it cannot be read';
    else if (!header) malformed = 'its header is not one git and agentgit read alike (a tree, parent, author or committer line out of place or repeated, an uppercase id, CR or NUL), so it is refused rather than guessed';
    else if (header.parents.join(' ') !== c.parents.join(' ')) malformed = "its parents as read here differ from git's";
    const lists = (await Promise.all(c.parents.map(signersOf))).filter((l) => l.length > 0);
    let allowed: Signer[] = [];
    let known: Signer[] = lists.flat();
    if (lists.length === 0) {
      const own = await signersOf(c.oid);
      if (own.length === 0) {
        // history from before agentgit (an adopted backup): it can only be
        // published through a signed descendant, so it may not be the tip
        if (c.oid !== o.tip || o.allowBootstrap) {
          legacy.add(c.oid);
          revokedAfter.set(c.oid, revoked);
          continue;
        }
      } else if (o.allowBootstrap) {
        allowed = own; // the founding commit admits its own signer
        known = own;
      }
    } else {
      const same = (a: Signer, b: Signer): boolean => a.fingerprint === b.fingerprint && a.principal === b.principal;
      allowed = lists[0]!.filter((s) => lists.every((l) => l.some((t) => same(s, t))));
      allowed = allowed.filter((s) => !revoked.has(s.fingerprint));
      // what this commit removes is revoked for its descendants
      const own = new Set((await signersOf(c.oid)).map((s) => s.fingerprint));
      const removed = known.filter((s) => !own.has(s.fingerprint) && !revoked.has(s.fingerprint));
      if (removed.length > 0) {
        const after = new Map(revoked);
        for (const s of removed) after.set(s.fingerprint, { commit: c.oid, principal: s.principal });
        revokedAfter.set(c.oid, after);
      }
    }
    if (!revokedAfter.has(c.oid)) revokedAfter.set(c.oid, revoked);
    plans.push({ c, author: header?.author ?? c.author, allowed, known, revoked, malformed });
  }
  // ed25519 SSH signatures are checked in-process; anything else by git (ssh-keygen), one run per allowed set
  const status = new Map<string, { g: string; fp: string }>();
  const byGit = new Map<string, { signers: Signer[]; commits: string[] }>();
  let checked = 0;
  for (const p of plans) {
    o.progress?.(checked++, plans.length);
    if (p.malformed) continue;
    const s = await checkInProcess(repo, p.c.oid, p.allowed);
    if (s) {
      status.set(p.c.oid, s);
      continue;
    }
    const text = [...new Set(p.allowed.map((s) => s.line))].sort().join('\n');
    const g = byGit.get(text) ?? { signers: p.allowed, commits: [] };
    g.commits.push(p.c.oid);
    byGit.set(text, g);
  }
  for (const [text, g] of byGit) {
    for (const [oid, st] of await repo.signatureStatus(g.commits, text + '\n')) status.set(oid, st);
  }
  o.progress?.(plans.length, plans.length);
  const rejections: Rejection[] = [];
  for (const p of plans) {
    const { c, author } = p;
    if (p.malformed) {
      // name the key it claims, without trusting anything else in it
      const raw = await repo.objects.read(c.oid);
      const sig = raw ? splitSignature(raw.toString('latin1')) : null;
      const fp = sig?.signature ? verifySshsig(Buffer.from(sig.payload, 'latin1'), sig.signature)?.fingerprint : undefined;
      const signer = fp ? (p.known.find((k) => k.fingerprint === fp)?.principal ?? fp) : null;
      rejections.push({ commit: c.oid, author, signer, reason: `${p.malformed}${signer ? ` (it carries a signature by ${signer})` : ''}` });
      continue;
    }
    const s = status.get(c.oid) ?? { g: 'N', fp: '' };
    const names = (list: Signer[]): string[] => [...new Set(list.filter((x) => x.fingerprint === s.fp).map((x) => x.principal))];
    const revokedAs = p.revoked.get(s.fp);
    const signer = s.fp ? (names(p.allowed)[0] ?? names(p.known)[0] ?? revokedAs?.principal ?? s.fp) : null;
    if (s.g === 'G') {
      const principals = names(p.allowed.filter(allowsGit));
      if (principals.includes(author)) continue;
      rejections.push({ commit: c.oid, author, signer, reason: `it is authored as ${JSON.stringify(author)} but signed by the key of ${principals.join(', ')} (${s.fp}): a commit must be authored by the instance whose key signs it` });
      continue;
    }
    if ((s.g === 'U' || s.g === 'E') && s.fp && !revokedAs) {
      const added = await openEnrollmentPrincipal(repo, c, s.fp, signersOf);
      if (added !== null && added === author) continue;
    }
    rejections.push({ commit: c.oid, author, signer, reason: reasonFor(s, p, signer) });
  }
  return rejections;
}

/**
 * git's %G? and %GK for one commit, computed in-process: N unsigned, B bad
 * signature, G good and its key allowed (for namespace git), U good but not
 * allowed. Null when git must decide (not an ed25519 SSH signature, or
 * signature headers git might read differently).
 */
async function checkInProcess(repo: Repo, oid: string, signers: Signer[]): Promise<{ g: string; fp: string } | null> {
  const raw = await repo.objects.read(oid);
  if (!raw) return null;
  const text = raw.toString('latin1');
  const end = text.indexOf('\n\n');
  const sigHeaders = (end < 0 ? text : text.slice(0, end)).split('\n').filter((l) => l.startsWith('gpgsig'));
  if (sigHeaders.length > 1 || (sigHeaders.length === 1 && !sigHeaders[0]!.startsWith('gpgsig '))) return null;
  const { payload, signature } = splitSignature(text);
  if (!signature) return { g: 'N', fp: '' };
  return statusOfSignature(Buffer.from(payload, 'latin1'), signature, signers);
}

/** %G? and %GK of one signed payload, in-process; null when git must decide (not ed25519 SSHSIG). */
function statusOfSignature(payload: Buffer, signature: string, signers: Signer[]): { g: string; fp: string } | null {
  const check = verifySshsig(payload, signature);
  if (!check) return null;
  if (!check.valid) return { g: 'B', fp: check.fingerprint };
  const allowed = signers.some((s) => s.fingerprint === check.fingerprint && allowsGit(s));
  return { g: allowed ? 'G' : 'U', fp: check.fingerprint };
}

// the isomorphic-git engine (no git, no ssh-keygen) checks signatures with this
registerSignatureChecker((payload, signature, allowed) => statusOfSignature(payload, signature, parseSigners(allowed)));

/** Check one signed commit (a heartbeat) against `signers`: git's %G? and %GK. */
export async function signatureStatus(repo: Repo, oid: string, signers: Signer[]): Promise<{ g: string; fp: string }> {
  const s = await checkInProcess(repo, oid, signers);
  if (s) return s;
  const text = [...new Set(signers.map((x) => x.line))].join('\n') + '\n';
  return (await repo.signatureStatus([oid], text, { lenient: true })).get(oid) ?? { g: 'N', fp: '' };
}

/** The line's `namespaces="…"` option admits namespace git (no option: every namespace). */
function allowsGit(s: Signer): boolean {
  const m = /namespaces="([^"]*)"/.exec(s.line.slice(0, s.line.indexOf(s.key)));
  return !m || m[1]!.split(',').some((n) => n.trim() === 'git' || n.trim() === '*');
}

function reasonFor(s: { g: string; fp: string }, p: Plan, signer: string | null): string {
  if (s.g === 'N') return 'it is not signed';
  if (s.g === 'B') return `its signature does not match its content (tampered; the signature names ${signer ?? 'an unknown key'})`;
  const who = signer && signer !== s.fp ? `${signer} (${s.fp})` : s.fp || 'an unknown key';
  const revoked = p.revoked.get(s.fp);
  if (revoked) return `it is signed by ${who}, a key removed at ${revoked.commit.slice(0, 10)}: a removed key stays revoked for every later commit, whatever its parents or tree say`;
  if (p.known.some((k) => k.fingerprint === s.fp)) return `it is signed by ${who}, which is not admitted as of every one of its parents: a merge cannot admit a key that one side does not`;
  if (p.c.parents.length === 0) return `it starts a new history signed by ${who}, and this hub's history is already known`;
  return `it is signed by ${who}, which was not admitted as of its parents (unknown or removed key, or an allowed_signers change not signed by an admitted key)`;
}

/**
 * Open enrollment: the commit adds exactly its own signer to allowed_signers,
 * changes nothing else, and the parent's policy allows it. Returns the
 * principal it admits (the author must be it), else null.
 */
async function openEnrollmentPrincipal(repo: Repo, c: CommitInfo, fp: string, signersOf: SignersOf): Promise<string | null> {
  if (c.parents.length !== 1) return null;
  const p = c.parents[0]!;
  const policyBytes = await repo.objects.read(`${p}:${POLICY_PATH}`);
  try {
    if (!parsePolicy(policyBytes ? policyBytes.toString('utf8') : null).trust.openEnrollment) return null;
  } catch {
    return null;
  }
  const changed = await repo.diffTree(p, c.oid);
  if (changed.length !== 1 || changed[0]!.path !== SIGNERS_PATH) return null;
  const before = await signersOf(p);
  const after = await signersOf(c.oid);
  const beforeLines = new Set(before.map((s) => s.line));
  const added = after.filter((s) => !beforeLines.has(s.line));
  const kept = after.filter((s) => beforeLines.has(s.line));
  return added.length === 1 && added[0]!.fingerprint === fp && kept.length === before.length ? added[0]!.principal : null;
}
