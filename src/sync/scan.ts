/**
 * The scan before every push: everything the push would send that the hub
 * does not have (every commit in hub..head, on first contact the whole
 * history) is checked for secrets, whoever made it: agentgit, a commit by
 * hand with `--no-verify`, `git cherry-pick`, `git am`, adopted history
 * (a key committed, then deleted, is still in it).
 *
 * Per new commit: its message (and author lines), every path it adds or
 * changes (a token as a file name; a path of the local layer, staged by
 * hand with `git add -f`), every blob it adds (each distinct blob once).
 * A find refuses the whole push: nothing is sent, the round exits 1, the
 * message names the commit and path (never the secret), and local work
 * stays committed.
 *
 * Cheap in the usual round: commits scanned clean are remembered in
 * .git/agentgit/scanned (commit ids name their content, so clean stays
 * clean), the walk stops at them and at the hub's head, in-process through
 * the cat-file session; `git rev-list` only when that walk cannot decide.
 */
import { appendFileSync, readFileSync, statSync, type Stats } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { Repo, TreeChange } from '../git/repo.js';
import { splitSignature } from '../git/objects.js';
import type { Policy } from '../policy/policy.js';
import { findSecret, findSecretIn, knownCleanBlob, redactSecrets } from './secrets.js';
import { SecretsInPushError, type SecretFinding } from '../errors.js';

/** How many scanned commit ids the cache keeps (newest last). */
const CACHE_LIMIT = 4096;
const GITLINK = '160000';

export { SecretsInPushError, type SecretFinding };

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

/**
 * The cache as this process last read or wrote it, with the file's identity
 * then: a watcher reads and parses it once, not in every round (a few ms at
 * 4,096 ids). Any other writer changes its size, time or inode: read again.
 */
let memo: { file: string; ino: number; size: number; mtimeMs: number; ids: string[]; set: Set<string> } | null = null;

async function remember(file: string, ids: string[]): Promise<void> {
  const st = statOrNull(file);
  memo = st ? { file, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ids, set: new Set(ids) } : null;
}

async function readCache(file: string): Promise<{ ids: string[]; set: Set<string> }> {
  // synchronous calls: one file, asked and added to once a round with a push
  const st = statOrNull(file);
  if (!st) return { ids: [], set: new Set() };
  if (memo && memo.file === file && memo.ino === st.ino && memo.size === st.size && memo.mtimeMs === st.mtimeMs) return memo;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // unreadable: scanned again
  }
  const ids = text.split('\n').filter((l) => /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(l));
  // the identity taken before the read: a write in between makes the next read see another one and read again
  memo = { file, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ids, set: new Set(ids) };
  return memo;
}

/**
 * Add `added` to the cache: appended (a line each; a torn last line of a
 * killed process is dropped by the read), rewritten with the newest
 * CACHE_LIMIT once it holds twice as many.
 */
async function writeCache(file: string, cache: { ids: string[]; set: Set<string> }, added: string[]): Promise<void> {
  if (added.length === 0) return;
  if (cache.ids.length > 0 && cache.ids.length + added.length <= 2 * CACHE_LIMIT) {
    appendFileSync(file, added.join('\n') + '\n');
    // the kept copy grows with the file (no new set of thousands of ids a round)
    const ids = cache.ids.concat(added);
    const set = cache.set;
    for (const id of added) set.add(id);
    const st = statOrNull(file);
    memo = st ? { file, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ids, set } : null;
    return;
  }
  const keep = [...cache.ids, ...added].slice(-CACHE_LIMIT);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, keep.join('\n') + '\n');
  await rename(tmp, file);
  await remember(file, keep);
}

/** The commits `head` would bring to a hub at `hub` (null: an empty hub), minus those scanned before. */
async function newCommits(repo: Repo, head: string, hub: string | null, scanned: ReadonlySet<string>): Promise<{ oid: string; parents: string[] }[]> {
  // the cache and the hub's head, without copying the cache
  const stops = { has: (oid: string): boolean => oid === hub || scanned.has(oid) };
  if (stops.has(head)) return [];
  const walk = hub || scanned.size > 0 ? await repo.commitsSince(head, stops) : null;
  if (walk) return walk.commits;
  // a root on the way (first push, adopted history) or a long way back: git lists them
  // oldest first, like the walk: the cache keeps the newest when it trims
  const out: { oid: string; parents: string[] }[] = [];
  for (const { oid, parents } of await repo.walk({ include: [head], exclude: hub ? [hub] : [] }, { reverse: true })) {
    if (!scanned.has(oid)) out.push({ oid, parents });
  }
  return out;
}

/** The entries a commit adds or changes relative to every parent (what is new in it). */
async function newEntries(repo: Repo, oid: string, parents: string[]): Promise<TreeChange[]> {
  if (parents.length === 0) return repo.diffTree(null, oid);
  const diffs = await Promise.all(parents.map((p) => repo.diffTree(p, oid)));
  const first = diffs[0]!.filter((c) => c.status !== 'D');
  if (diffs.length === 1) return first;
  // a merge: only what differs from every parent is new in it
  const others = diffs.slice(1).map((d) => new Map(d.map((c) => [c.path, c.newOid])));
  return first.filter((c) => others.every((m) => m.get(c.path) === c.newOid));
}

/**
 * Refuse the push of `head` to a hub at `hub` when anything new holds a
 * secret. Throws SecretsInPushError (exit 1); returns when clean.
 */
export async function scanBeforePush(repo: Repo, policy: Policy, head: string, hub: string | null): Promise<void> {
  const cacheFile = repo.stateFile('scanned');
  const cached = await readCache(cacheFile);
  const commits = await newCommits(repo, head, hub, cached.set);
  if (commits.length === 0) return;
  const findings: SecretFinding[] = [];
  const blobs = new Map<string, { commit: string; path: string }>();
  for (const c of commits) {
    const raw = await repo.objects.read(c.oid);
    // fail closed: what cannot be read cannot be checked (git fsck says why)
    if (!raw) findings.push({ commit: c.oid, path: null, what: 'the commit cannot be read to check it; run `git fsck`' });
    const what = raw ? findSecretIn(splitSignature(raw.toString('latin1')).payload) : null;
    if (what) findings.push({ commit: c.oid, path: null, what: `its message or author looks like a ${what}` });
    for (const e of await newEntries(repo, c.oid, c.parents)) {
      if (e.newMode === GITLINK) continue;
      const inName = findSecretIn(e.path);
      if (inName) {
        findings.push({ commit: c.oid, path: redactSecrets(e.path), what: `the file name looks like a ${inName}` });
        continue;
      }
      const cls = policy.classify(e.path);
      // a merge only combines what both sides sent (each scanned, or from the hub)
      if (c.parents.length < 2 && (cls.secret || cls.kind === 'local')) {
        findings.push({ commit: c.oid, path: e.path, what: cls.secret ? 'the path matches a secret glob' : 'the path is in the local layer, which never leaves this machine (if it should sync, give it a layer in .agentgit/config.json)' });
        continue;
      }
      // (a blob the commit guard scanned clean in this process is not scanned again)
      if (!blobs.has(e.newOid) && !knownCleanBlob(e.newOid)) blobs.set(e.newOid, { commit: c.oid, path: e.path });
    }
  }
  // every distinct new blob once, read a batch at a time through the cat-file session
  const list = [...blobs];
  for (let i = 0; i < list.length; i += 64) {
    const chunk = list.slice(i, i + 64);
    const bytes = await Promise.all(chunk.map(([oid]) => repo.objects.read(oid)));
    chunk.forEach(([, at], j) => {
      const b = bytes[j];
      const what = b ? findSecret(b) : null;
      if (!b) findings.push({ commit: at.commit, path: at.path, what: 'its content cannot be read to check it; run `git fsck`' });
      else if (what) findings.push({ commit: at.commit, path: at.path, what: `its content looks like a ${what}` });
    });
  }
  if (findings.length > 0) throw new SecretsInPushError(refusal(findings, hub), findings);
  await writeCache(cacheFile, cached, commits.map((c) => c.oid)).catch(() => undefined);
}

function refusal(f: SecretFinding[], hub: string | null): string {
  const list = f
    .slice(0, 3)
    .map((x) => `commit ${x.commit.slice(0, 10)}${x.path === null ? '' : ` ${x.path}`}: ${x.what}`)
    .join('; ');
  const undo = hub ? `\`git reset ${hub.slice(0, 10)}\` un-commits the unpushed commits and keeps the files` : 'the hub has nothing yet: rewrite the history (`git rebase -i --root`, or git filter-repo)';
  const n = new Set(f.map((x) => x.commit)).size;
  return (
    `refused to push: ${n} commit${n === 1 ? '' : 's'} the hub does not have hold${n === 1 ? 's' : ''} what must not leave this machine (${list}${f.length > 3 ? `; ${f.length - 3} more` : ''}). ` +
    `Nothing was pushed; local work stays committed. Take it out of those commits: ${undo}; then delete or move the file (or take the token out of it or the message), and run \`agentgit sync\` again. ` +
    'If a key or token was real, rotate it.'
  );
}
