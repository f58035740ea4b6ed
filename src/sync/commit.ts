/**
 * Step 3 and 4 of a round: commit every change in synced layers, with the
 * guard (secrets, rewritten logs, size) and per-key write clocks for JSON.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { writeWorkTreeFilesSync } from './safe-write.js';
import { checkPath } from '../git/paths.js';
import { join } from 'node:path';
import { bytesEqual, decodeText } from '../merge/util.js';
import type { Policy } from '../policy/policy.js';
import { mapInOrder } from './pool.js';
import type { IndexEntry, Repo, StatusEntry } from '../git/repo.js';
import { clockPathFor, formatClockFile, isClockPath, maxClock, parseClockFile } from './clocks.js';
import type { Held } from './guard.js';
import { foldPendingConflicts, PENDING_CONFLICTS } from './conflict-record.js';
import type { ClockSource } from './hlc.js';
import { failpoint } from '../failpoint.js';
import { rememberCleanBlob } from './secrets.js';

export interface CommitResult {
  commit: string | null;
  committed: string[];
  held: Held[];
  /** Files under a nested .git (another repository): reported, never committed. */
  nested: string[];
  /** Warnings for the operator (e.g. a JSON file that does not parse). */
  notes: string[];
}

export interface CommitOptions {
  repo: Repo;
  policy: Policy;
  clocks: ClockSource;
  message: (files: string[]) => string;
  sign: boolean;
  /**
   * The work tree's status taken at the round's start (after its lock and
   * recovery), used unless folding the merge driver's pending conflict
   * records changed the work tree; else `git status` now.
   */
  status?: Promise<StatusEntry[]>;
  /** Called as changed files are read and checked (for a progress line on a TTY). */
  progress?: (done: number, total: number) => void;
}

/**
 * The work-tree file (a symlink as its target text); a file over `maxBytes`
 * is not read, only sized. Synchronous calls, none through the thread pool
 * (a round of 1,000 changed files is mostly these and the object writes).
 * lstat first: a FIFO or a device is never opened (opening a FIFO would
 * release a writer blocked on it).
 */
interface Work {
  bytes: Buffer;
  size: number;
  mode: string;
  /** Set when the file is there but cannot be read (permissions, I/O): it is held, never taken for deleted. */
  unreadable?: string;
}

/** A file that exists but cannot be read: held with the reason. */
const unreadable = (e: unknown): Work | null => {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return null; // gone (or replaced by a link) since git status: deleted
  return { bytes: Buffer.alloc(0), size: 0, mode: '100644', unreadable: code ?? (e as Error).message };
};

async function readWork(abs: string, maxBytes = Infinity): Promise<Work | null> {
  let fd: number;
  try {
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) {
      // a symlink is committed as its target text, never followed
      const target = Buffer.from(readlinkSync(abs));
      return { bytes: target, size: target.length, mode: '120000' };
    }
    if (!st.isFile()) return null;
    // O_NOFOLLOW|O_NONBLOCK: replaced by a link or a FIFO since the lstat, it is not followed or waited on
    fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    return unreadable(e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    const mode = st.mode & 0o111 ? '100755' : '100644';
    if (st.size > maxBytes) return { bytes: Buffer.alloc(0), size: st.size, mode };
    const bytes = readFileSync(fd);
    return { bytes, size: bytes.length, mode };
  } catch (e) {
    return unreadable(e);
  } finally {
    closeSync(fd);
  }
}

export async function commitLocalChanges(o: CommitOptions): Promise<CommitResult> {
  const { repo, policy } = o;
  const folded = await foldPendingConflicts(repo.root, repo.stateFile(PENDING_CONFLICTS)); // what `git merge` lost races to (merge-driver)
  let status: StatusEntry[];
  if (o.status && folded === 0) status = await o.status;
  else {
    await o.status?.catch(() => undefined); // an early status dropped may still hold index.lock while it refreshes the index
    status = await repo.status();
  }
  if (status.length === 0) return { commit: null, committed: [], held: [], nested: [], notes: [] };
  // loaded only when something changed: a no-op round never parses the merge kinds
  const [{ checkFile, parsesAsJson }, { changedKeyPaths }] = await Promise.all([import('./guard.js'), import('../merge/json.js')]);
  const held: Held[] = [];
  const nested: string[] = [];
  const notes: string[] = [];
  // Staged from the very bytes the guard checked (never re-read from disk),
  // so an agent writing meanwhile cannot slip unchecked content in.
  const stage: IndexEntry[] = [];
  const staged: string[] = [];
  const clockFiles = new Map<string, Record<string, string>>();
  // blobs are written in-process (git/objects.ts: one pack for the round's
  // objects, loose ones when few), index entries in status order; the merge
  // reads the blobs back from memory
  const put = async (path: string, bytes: Uint8Array | null, mode: string, before: Uint8Array | null): Promise<void> => {
    stage.push(bytes === null ? { path, mode: '0', oid: repo.zeroOid } : { path, mode, oid: await repo.writeBlob(bytes) });
    if (bytes === null ? before !== null : before === null || !bytesEqual(before, bytes)) staged.push(path);
  };

  // what each changed file held at HEAD and holds now, read a few files at a
  // time in chunks (bounded memory); then checked and staged in status order
  const CHUNK = 64;
  const head = await repo.revParse('HEAD');
  const atHead = (path: string): Promise<Buffer | null> => (head !== null ? repo.readAt(head, path) : Promise.resolve(null)); // an unborn HEAD holds nothing
  for (let from = 0; from < status.length; from += CHUNK) {
    const chunk = status.slice(from, from + CHUNK);
    const pre = await mapInOrder(chunk, async (s) => {
      const path = s.path;
      if (path.endsWith('/')) {
        // untracked directory git would not descend into: a nested repository
        nested.push(path.slice(0, -1));
        return null;
      }
      const kind = policy.kindOf(path);
      if (kind === 'local' && !policy.isSecretPath(path)) return null; // ignored layer, tracked by mistake: leave it alone
      const tracked = s.xy !== '??' && s.xy[0] !== 'A';
      // a clock file's work-tree bytes are read when it is staged (below)
      const [before, work] = await Promise.all([tracked ? atHead(path) : null, isClockPath(path) ? null : readWork(join(repo.root, path), policy.config.maxFileBytes)]);
      return { path, kind, before, work };
    });
    for (const p of pre) if (p) await commitOne(p);
    o.progress?.(Math.min(from + CHUNK, status.length), status.length);
  }

  async function commitOne({ path, kind, before, work }: { path: string; kind: string; before: Buffer | null; work: Awaited<ReturnType<typeof readWork>> }): Promise<void> {
    if (isClockPath(path)) {
      if (!clockFiles.has(path)) {
        const w = await readWork(join(repo.root, path));
        await put(path, w?.bytes ?? null, '100644', before);
      }
      return;
    }
    if (work?.unreadable) {
      held.push({ path, reason: 'unreadable', detail: `cannot read FILE (${work.unreadable}); it is not synced, and never taken for deleted, until agentgit's user can read it again (e.g. \`chmod u+r FILE\`)` });
      return;
    }
    if (work && before && bytesEqual(work.bytes, before)) return; // only its stat data changed
    // a path every other instance would refuse (git/paths.ts) is held here, not pushed to wedge them
    const unsafe = work ? (checkPath(path, work.mode) ?? (path.split('/').length - 1 > policy.config.maxTreeDepth ? `it is more than ${policy.config.maxTreeDepth} directories deep (policy maxTreeDepth)` : null)) : null;
    if (unsafe) {
      held.push({ path, reason: 'unsafe-path', detail: `${unsafe}; the other instances would refuse it: rename or move it, or mark it local in .agentgit/config.json` });
      return;
    }
    const h = checkFile(policy, { path, before, after: work?.bytes ?? null, size: work?.size ?? 0 });
    if (h?.reason === 'json-broken' && beingWritten(join(repo.root, path))) {
      // caught mid-write (changed a moment ago): not a broken file yet; its committed version stays, the next round looks again
      notes.push(`${path} does not parse as JSON and changed ${IN_FLIGHT_MS / 1000} s ago or less: taken as being written, committed next round`);
      return;
    }
    if (h) {
      held.push(h);
      // held logs: commit the committed entries plus the new ones, leave the file as it is
      if (h.commitInstead && before && !bytesEqual(h.commitInstead, before)) await put(path, h.commitInstead, work?.mode ?? '100644', before);
      return;
    }
    // a compacted daily log written back whole (its moved entries first): only the new entries (docs/compaction.md)
    const revived = !before && work && kind === 'log' ? await (await import('./compact.js')).trimRevivedOnCommit(repo, policy, path, work.bytes) : null;
    await put(path, revived ?? work?.bytes ?? null, work?.mode ?? '100644', before);
    if (work && !revived) rememberCleanBlob(stage[stage.length - 1]!.oid); // the guard scanned these very bytes: the pre-push scan skips them
    if (kind === 'log') return; // logs merge by entry: no clocks needed
    // per-key clocks for JSON, a whole-file clock for everything else
    const cpath = clockPathFor(path);
    if (!clockFiles.has(cpath)) clockFiles.set(cpath, parseClockFile(await readWork(join(repo.root, cpath)).then((w) => w?.bytes ?? null)));
    const clocks = clockFiles.get(cpath)!;
    const existing = maxClock(Object.values(clocks));
    if (existing) o.clocks.see(existing);
    const stamp = o.clocks.next();
    clocks[''] = stamp;
    if (work && kind === 'json') {
      const beforeText = before ? decodeText(before) : null;
      const afterText = decodeText(work.bytes);
      const keys = afterText === null ? [] : changedKeyPaths(beforeText, afterText, policy.jsonOptions(path));
      for (const k of keys) clocks[k] = stamp;
      // changed keys mean it parsed; only an empty answer needs a second look
      if (keys.length === 0 && !parsesAsJson(afterText)) notes.push(`${path} is not valid JSON: committed as it is, but it merges as a whole file (last writer wins) until it is fixed`);
    }
  }

  // a log compaction made by hand: a daily log deleted, its bytes in its archive (docs/compaction.md)
  if (held.some((h) => h.reason === 'log-deleted')) await (await import('./compact.js')).releaseConservedLogs(repo, held, stage, (path, before) => put(path, null, '100644', before));

  // the clock files (synced, beside the data)
  // (an unborn HEAD, the init of many files, is not looked up: atHead)
  const clockBytes = new Map([...clockFiles].map(([cpath, clocks]) => [cpath, formatClockFile(clocks)]));
  writeWorkTreeFilesSync(repo.root, clockBytes); // never through a symbolic link
  const clockBefore = await Promise.all([...clockBytes.keys()].map(atHead)); // read at once: one round trip
  let ci = 0;
  for (const [cpath, bytes] of clockBytes) await put(cpath, bytes, '100644', clockBefore[ci++] ?? null);
  // a held file a person staged by hand must not ride along: back to HEAD's
  // version, or out of the index before the first commit
  if (held.length > 0) {
    await repo.unstage(
      held.map((h) => h.path),
      (await repo.revParse('HEAD')) !== null,
    );
  }
  // git writes the index while the tree and the commit are built here: commitStage waits for it before the branch moves
  const indexed = repo.updateIndex(stage);
  indexed.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  if (staged.length === 0) {
    await indexed;
    return { commit: null, committed: [], held, nested, notes };
  }
  const visible = staged.filter((p) => !isClockPath(p));
  // The index now differs from HEAD only by `stage`, unless a path this
  // round left alone was staged by hand (a tracked local-layer file, a
  // file whose work-tree bytes equal HEAD's): then git commits the index.
  const stagedPaths = new Set(stage.map((e) => e.path));
  const heldPaths = new Set(held.map((h) => h.path));
  const byHand = status.some((s) => s.xy[0] !== ' ' && s.xy[0] !== '?' && !stagedPaths.has(s.path) && !heldPaths.has(s.path));
  const commit = await commitStage(repo, byHand ? null : stage, o.message(visible), o.sign, indexed);
  await o.clocks.save();
  if (commit === null) return { commit: null, committed: [], held, nested, notes };
  return { commit, committed: visible, held, nested, notes };
}

/**
 * Commit what was staged. With `stage` (the index is HEAD plus exactly
 * these entries) and in-process commits available: the tree is built from
 * HEAD's, the commit object written and signed in-process, and HEAD's
 * branch moved with `update-ref` (checked against the HEAD we built on).
 * That is one process where `git commit -S` starts three (commit,
 * ssh-keygen, auto maintenance: see Repo.housekeeping). Otherwise, or
 * when the stage holds something only the index can place, `git commit`.
 */
async function commitStage(repo: Repo, stage: IndexEntry[] | null, message: string, sign: boolean, indexed: Promise<void>): Promise<string | null> {
  if (stage !== null && repo.commitsInProcess(sign)) {
    let built: { head: string | null; commit: string; subject: string } | null;
    try {
      const head = await repo.revParse('HEAD');
      const tree = await repo.buildTree(head, stage);
      const text = cleanMessage(message);
      built = head && tree === (await repo.treeOf(head)) ? null : { head, commit: await repo.commitTree(tree, head ? [head] : [], text, { sign }), subject: text.split('\n', 1)[0] ?? '' };
    } catch (e) {
      await indexed.catch(() => undefined); // no git left writing the index; the build's error is the one to report
      throw e;
    }
    await indexed; // the index holds the stage before the branch moves
    if (built === null) return null; // never an empty commit
    const { head, commit, subject } = built;
    await failpoint('commit'); // objects written, the branch not moved (docs/reliability.md)
    await repo.updateRef('HEAD', commit, head, `commit${head ? '' : ' (initial)'}: ${subject}`);
    return commit;
  }
  await indexed;
  // never an empty commit: nothing staged against HEAD, nothing to commit
  if ((await repo.revParse('HEAD')) && (await repo.indexMatchesHead())) return null;
  await failpoint('commit');
  await repo.commitIndex({ message, sign });
  return repo.revParse('HEAD');
}

/**
 * The message as `git commit -F -` stores it (cleanup mode "whitespace"):
 * trailing whitespace cut from every line, runs of blank lines made one,
 * no blank lines at either end, a final newline.
 */
export function cleanMessage(message: string): string {
  const out: string[] = [];
  let blank = false;
  for (const line of message.split('\n')) {
    const l = line.replace(/[ \t\r]+$/, ''); // git's isspace: space, tab, CR (and the LF split on)
    if (l === '') {
      blank = out.length > 0;
      continue;
    }
    if (blank) out.push('');
    blank = false;
    out.push(l);
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

/** A file changed this recently (this machine's clock: its mtime against now) may be in the middle of a write. */
const IN_FLIGHT_MS = 2000;

function beingWritten(abs: string): boolean {
  try {
    return Math.abs(Date.now() - lstatSync(abs).mtimeMs) <= IN_FLIGHT_MS;
  } catch {
    return false; // gone or unreadable: the guard's hold stands
  }
}
