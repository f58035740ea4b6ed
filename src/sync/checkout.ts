/**
 * Moving the work tree from the old head to the merged commit, safely.
 *
 * Order, so a kill -9 at any point is recoverable (recoverCheckout):
 *   1. write the journal .git/agentgit/checkout.json {from, to, branch};
 *   2. update each changed file atomically (temp file + rename), but only if
 *      it still holds the old content: a file the agent wrote meanwhile is
 *      3-way merged (base old, ours the agent's new text, theirs merged), so
 *      the agent's write is kept and is committed by the next round;
 *   3. set those index entries and refresh their stat data;
 *   4. move the branch with a compare-and-swap;
 *   5. delete the journal.
 * Invariant: the work tree is never touched before the merged commit exists.
 */
import { linkSync, lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { mergeFile } from '../merge/index.js';
import { bytesEqual } from '../merge/util.js';
import type { Policy } from '../policy/policy.js';
import type { IndexEntry, Repo, TreeChange } from '../git/repo.js';
import { FILES_IN_FLIGHT, mapInOrder } from './pool.js';
import { checkPath } from '../git/paths.js';
import { readRegularFile, replaceNoFollow, symlinkedParent, symlinkedParentSync } from './safe-write.js';
import { failpoint } from '../failpoint.js';

interface Journal {
  from: string;
  to: string;
  ref: string;
}

export interface CheckoutResult {
  written: number;
  /** Files the agent changed during the sync; their edits were kept. */
  keptLocal: string[];
  /** Every path that differs between the old and the new commit. */
  changed: string[];
}

function journalFile(repo: Repo): string {
  return repo.stateFile('checkout.json');
}

// The work-tree update makes a dozen file calls per file (read, hold, write,
// rename, check): synchronous, each costs microseconds where a round trip
// through libuv's thread pool costs a few hundred (a 100-file merge made
// about 1,500 of them). The same calls in the same order as before.

function readWorkFile(abs: string): { bytes: Buffer; link: boolean } | null {
  try {
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) return { bytes: Buffer.from(readlinkSync(abs)), link: true };
    if (!st.isFile()) return null;
    return { bytes: readRegularFile(abs), link: false }; // opened non-blocking: a FIFO swapped in meanwhile is not waited on
  } catch {
    return null;
  }
}

function atomicWrite(abs: string, bytes: Uint8Array, mode: string): void {
  mkdirSync(dirname(abs), { recursive: true });
  const tmp = join(dirname(abs), `.agentgit-tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  if (mode === '120000') {
    symlinkSync(Buffer.from(bytes).toString('utf8'), tmp);
  } else {
    writeFileSync(tmp, bytes, { mode: mode === '100755' ? 0o755 : 0o644, flag: 'wx' });
  }
  try {
    renameSync(tmp, abs);
  } catch (e) {
    // a directory standing where a file goes (or the reverse): replace it
    if ((e as NodeJS.ErrnoException).code === 'EISDIR' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      rmSync(abs, { recursive: true, force: true });
      renameSync(tmp, abs);
    } else {
      rmSync(tmp, { force: true });
      throw e;
    }
  }
}

/**
 * Put `target` (null: delete) where the work tree had `base`, keeping what
 * the agent writes meanwhile. The agent's content wins every race with the
 * incoming change. The old inode is held by a hard link across the rename, so
 * an append that lands between our read and the rename is seen and merged in
 * on the next pass instead of being lost.
 */
export async function putWorkFile(abs: string, path: string, base: Buffer | null, target: Buffer | null, mode: string, policy: Policy): Promise<{ written: boolean; agentWrote: boolean }> {
  let b = base;
  let t = target;
  let agentIsTarget = false; // after a race, `t` holds the agent's newest bytes
  let agentWrote = false;
  let written = false;
  for (let pass = 0; pass < 50; pass++) {
    const cur = readWorkFile(abs);
    let desired: Buffer | null;
    if (!cur) {
      // deleted (or never there): an incoming change beats the deletion
      desired = b !== null && t !== null && bytesEqual(b, t) ? null : t;
      if (b !== null && pass === 0) agentWrote = true;
    } else if (b !== null && bytesEqual(cur.bytes, b)) {
      desired = t;
    } else {
      if (pass === 0) agentWrote = true;
      if (t === null || cur.link || mode === '120000') return { written, agentWrote: true }; // the agent's version stands
      const kind = policy.kindOf(path);
      const late = { file: '9999999999999.9999.agent' };
      const early = { file: '0000000000000.0000.merged' };
      desired = Buffer.from(
        mergeFile({
          path,
          kind: kind === 'local' ? 'binary' : kind,
          base: b,
          ours: cur.bytes,
          theirs: t,
          oursClock: agentIsTarget ? early : late,
          theirsClock: agentIsTarget ? late : early,
          json: kind === 'json' ? policy.jsonOptions(path) : undefined,
        }).bytes,
      );
    }
    if (cur && desired && !cur.link && bytesEqual(cur.bytes, desired)) return { written, agentWrote };
    if (!cur && !desired) return { written, agentWrote };
    const hold = `${abs}.agentgit-hold-${process.pid}`;
    let held = false;
    if (cur && !cur.link) {
      const h = holdFile(abs, hold);
      if (h === 'moved') continue; // it moved under us: read again
      held = h === 'held'; // 'none': no second link on this file system; written without the check below
    }
    try {
      if (desired) atomicWrite(abs, desired, mode);
      else rmSync(abs, { force: true });
      written = true;
      if (!held) return { written, agentWrote };
      let after: Buffer;
      try {
        after = readRegularFile(hold); // non-blocking: the agent may have put anything there before the link
      } catch {
        return { written, agentWrote: true }; // not a file we can read: the agent's doing, committed next round
      }
      if (bytesEqual(after, cur!.bytes)) return { written, agentWrote };
      // the agent appended to the old file between our read and the rename
      agentWrote = true;
      b = cur!.bytes;
      t = after;
      agentIsTarget = true;
    } finally {
      if (held) rmSync(hold, { force: true });
    }
  }
  // never left behind silently: the index and the branch would say the new version while the file holds the old one
  throw new Error(`${abs} kept changing while agentgit updated it (50 tries); nothing was lost: the next sync updates it`);
}

/**
 * A second link to the file being replaced, to see afterwards what an agent
 * wrote to the old inode meanwhile. 'moved': the file is gone (read it
 * again); 'none': this file system makes no hard links (written without the
 * check). A hold of this pid left by a killed run is removed first.
 */
function holdFile(abs: string, hold: string): 'held' | 'moved' | 'none' {
  for (let i = 0; i < 2; i++) {
    try {
      linkSync(abs, hold);
      return 'held';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && i === 0) {
        rmSync(hold, { force: true });
        continue;
      }
      if (code === 'ENOENT' || code === 'EEXIST') return 'moved';
      return 'none'; // EPERM, ENOTSUP, EXDEV, EMLINK…
    }
  }
  return 'moved';
}

/** Move work tree, index and branch from `from` to `to`. */
export async function checkout(repo: Repo, policy: Policy, ref: string, from: string, to: string): Promise<CheckoutResult> {
  const j: Journal = { from, to, ref };
  repo.flushObjects(); // the journal names `to`: it is on disk first
  await replaceNoFollow(journalFile(repo), JSON.stringify(j) + '\n');
  const r = await applyJournal(repo, policy, j);
  await rm(journalFile(repo), { force: true });
  return r;
}

async function applyJournal(repo: Repo, policy: Policy, j: Journal, diff?: TreeChange[]): Promise<CheckoutResult> {
  const changes = diff ?? (await repo.diffTree(j.from, j.to));
  const index: IndexEntry[] = [];
  const keptLocal: string[] = [];
  let written = 0;
  let putCount = 0; // for the failpoint: about half the files written
  // a few files in flight, unless a file and a directory trade places (then
  // the deletion must come before the creation beneath it: one at a time)
  const paths = new Set(changes.map((c) => c.path));
  const nested = changes.some((c) => {
    for (let i = c.path.indexOf('/'); i > 0; i = c.path.indexOf('/', i + 1)) if (paths.has(c.path.slice(0, i))) return true;
    return false;
  });
  const done = await mapInOrder(
    changes,
    async (c) => {
      const entry: IndexEntry = { path: c.path, mode: c.status === 'D' ? '0' : c.newMode, oid: c.status === 'D' ? repo.zeroOid : c.newOid };
      if (c.newMode === '160000' || c.oldMode === '160000') return { entry, written: false, kept: false }; // gitlinks: never written into the work tree
      // Defence in depth (incoming trees are checked before this, git/paths.ts):
      // never a path outside the work tree or into .git, never through a link.
      const bad = checkPath(c.path, c.status === 'D' ? c.oldMode : c.newMode);
      if (bad && c.status !== 'D') throw new Error(`refused to write ${JSON.stringify(c.path)} into the work tree: ${bad}`);
      if (bad) return { entry, written: false, kept: false }; // an old bad path leaves the index only
      if (symlinkedParentSync(repo.root, c.path)) return { entry, written: false, kept: true }; // the agent's link stands (committed next round)
      const abs = join(repo.root, c.path);
      const cur = readWorkFile(abs);
      const curOid = cur ? await repo.hashBlob(cur.bytes) : repo.zeroOid;
      const target = c.status === 'D' ? null : await repo.objects.read(c.newOid);
      if (c.status !== 'D' && !target) throw new Error(`object ${c.newOid} for ${c.path} is missing; run \`git fsck\``);
      if (curOid === c.newOid) return { entry, written: false, kept: false }; // already there (a re-run after a crash)
      const base = c.status === 'A' ? null : curOid === c.oldOid ? (cur?.bytes ?? null) : await repo.objects.read(c.oldOid);
      const r = await putWorkFile(abs, c.path, base, target, c.newMode, policy);
      if (c.status === 'D' && r.agentWrote && base) await (await import('./compact.js')).trimRevivedLog(repo, policy, j, c.path, base); // a compacted daily log the agent appended to: only the new entries stay
      if (++putCount === Math.ceil(changes.length / 2)) await failpoint('checkout');
      return { entry, written: r.written, kept: r.agentWrote };
    },
    nested ? 1 : FILES_IN_FLIGHT,
  );
  for (const d of done) {
    index.push(d.entry);
    if (d.written) written++;
    if (d.kept) keptLocal.push(d.entry.path);
  }
  await failpoint('checkout'); // (when fewer were written: still before the index and the ref move)
  await repo.updateIndex(index);
  const head = await repo.revParse(j.ref);
  if (head === j.from) await repo.updateRef(j.ref, j.to, j.from, 'agentgit: sync');
  await repo.refreshIndex();
  return { written, keptLocal, changed: changes.map((c) => c.path) };
}

/**
 * The temporary files a killed checkout can leave beside the files it was
 * updating: `PATH.agentgit-hold-PID` (a second hard link to the old inode)
 * and `.agentgit-tmp-PID-*` (a new version not yet renamed into place).
 * Neither is ever committed (local layer); removing them loses nothing.
 */
async function removeLeftovers(repo: Repo, changes: TreeChange[]): Promise<void> {
  const dirs = new Map<string, Set<string>>();
  for (const c of changes) {
    if (checkPath(c.path, c.status === 'D' ? c.oldMode : c.newMode) !== null || (await symlinkedParent(repo.root, c.path))) continue; // never beneath a link, never outside
    const abs = join(repo.root, c.path);
    const d = dirname(abs);
    dirs.set(d, (dirs.get(d) ?? new Set()).add(basename(abs)));
  }
  const mine = new RegExp(`(\\.agentgit-hold-|^\\.agentgit-tmp-)${process.pid}(-|$)`);
  for (const [d, names] of dirs) {
    let entries: string[];
    try {
      entries = await readdir(d);
    } catch {
      continue;
    }
    for (const e of entries) {
      if (mine.test(e)) continue;
      const hold = /^(.*)\.agentgit-hold-\d+$/.exec(e);
      if ((hold && names.has(hold[1]!)) || /^\.agentgit-tmp-\d+-[a-z0-9]+$/.test(e)) await rm(join(d, e), { force: true, recursive: false }).catch(() => undefined);
    }
  }
}

/**
 * Finish a checkout that a kill -9 interrupted. Returns a message for the
 * operator, or null when there was nothing to do.
 */
export async function recoverCheckout(repo: Repo, policy: Policy): Promise<string | null> {
  let j: Journal;
  try {
    j = JSON.parse(await readFile(journalFile(repo), 'utf8')) as Journal;
  } catch {
    await rm(journalFile(repo), { force: true });
    return null;
  }
  const changes = await repo.diffTree(j.from, j.to).catch(() => null); // null: objects gone
  if (changes) await removeLeftovers(repo, changes);
  const head = await repo.revParse(j.ref);
  if (head !== j.from && head !== j.to) {
    await rm(journalFile(repo), { force: true });
    return `an interrupted agentgit checkout (${j.from.slice(0, 7)}..${j.to.slice(0, 7)}) was abandoned: ${j.ref} has moved since`;
  }
  const have = await repo.revParse(j.to);
  if (!have || !changes) {
    await rm(journalFile(repo), { force: true });
    return `an interrupted agentgit checkout was abandoned: merged commit ${j.to.slice(0, 7)} is missing`;
  }
  await applyJournal(repo, policy, j, changes);
  await rm(journalFile(repo), { force: true });
  return `finished an interrupted update of the work tree to ${j.to.slice(0, 7)}`;
}
