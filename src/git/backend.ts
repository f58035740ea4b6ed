/**
 * What this repository and this git can do, detected once when a repo is
 * opened (Repo.open / Repo.openAt), and the one choice made from it: are
 * the in-process fast paths on?
 *
 * The fast paths (git/objects.ts, git/tree.ts, in-process refs and commit
 * objects, the pack of a first commit) write and read what git would write
 * and read only for the layout they were proven on: SHA-1 object ids (20
 * bytes in trees, SHA-1 hashing), refs in files (loose refs and
 * packed-refs), a repository that is not a linked worktree. Anything else
 * (a SHA-256 repository, reftable, a worktree, a config only git can read)
 * goes through git for every operation: slower, never wrong.
 *
 * The detection needs no process in the common case (the repository's own
 * config file read in-process); when that file holds what only git can
 * read (includes), git answers, and the fast paths stay off.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseGitConfig } from './config.js';
import type { RawChange } from './tree.js';

export type ObjectFormat = 'sha1' | 'sha256';
export type RefStorage = 'files' | 'reftable';
/** The two engines (issue #16): `GitCli` (git/cli.ts) and isomorphic-git (git/iso/). */
export type EngineName = 'git CLI' | 'isomorphic-git';

export interface Capabilities {
  /** The engine every operation goes through (GitBackend below): the git binary, or isomorphic-git in-process. */
  engine: EngineName;
  objectFormat: ObjectFormat;
  refStorage: RefStorage;
  /** Whether the in-process fast paths are used (see the header). */
  fastPaths: boolean;
  /** Why they are on or off, for `agentgit doctor`. */
  why: string;
}

/** Object ids of each format: the all-zero id and the empty tree's id. */
const IDS: Record<ObjectFormat, { hexLength: number; zero: string; emptyTree: string }> = {
  sha1: { hexLength: 40, zero: '0'.repeat(40), emptyTree: '4b825dc642cb6eb9a060e54bf8d69288fbee4904' },
  sha256: { hexLength: 64, zero: '0'.repeat(64), emptyTree: '6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321' },
};

export function zeroOidOf(format: ObjectFormat): string {
  return IDS[format].zero;
}

export function emptyTreeOf(format: ObjectFormat): string {
  return IDS[format].emptyTree;
}

/** An object id of any format git knows (40 or 64 lowercase hex digits). */
export const OID = '(?:[0-9a-f]{40}|[0-9a-f]{64})';

/** An all-zero id of either format (git's "no object"). */
export function isZeroOid(oid: string): boolean {
  return /^0{40}$|^0{64}$/.test(oid);
}

/** Repository extensions the fast paths are proven under (others, e.g. compatObjectFormat, turn them off). */
const KNOWN_EXTENSIONS = new Set(['extensions.objectformat', 'extensions.refstorage', 'extensions.worktreeconfig', 'extensions.noop', 'extensions.partialclone', 'extensions.preciousobjects']);

/** The fast paths' choice from what was found; `otherExtensions`: `extensions.*` settings not in KNOWN_EXTENSIONS. */
export function choose(objectFormat: ObjectFormat, refStorage: RefStorage, linkedWorktree: boolean, configReadable: boolean, otherExtensions: string[] = [], engine: EngineName = 'git CLI'): Capabilities {
  const off: string[] = [];
  if (objectFormat !== 'sha1') off.push(`object format ${objectFormat} (the in-process objects are SHA-1 only)`);
  if (refStorage !== 'files') off.push(`ref storage ${refStorage} (the in-process refs read files only)`);
  if (linkedWorktree) off.push('a linked worktree (objects and refs live in the main repository)');
  if (!configReadable) off.push('.git/config holds what only git reads (an include)');
  if (otherExtensions.length > 0) off.push(`${otherExtensions.join(', ')} (not proven with the in-process objects)`);
  const fastPaths = off.length === 0;
  return { engine, objectFormat, refStorage, fastPaths, why: fastPaths ? 'object format sha1, refs in files' : off.join('; ') };
}

/**
 * The capabilities read from the repository's files alone (no process):
 * `found` false when its config is unreadable here or names what only git
 * knows; then `caps` has the fast paths off.
 */
export function capabilitiesFromFiles(gitDir: string): { found: boolean; caps: Capabilities; common: string; linked: boolean } {
  let common = gitDir;
  let linked = false;
  try {
    common = resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim());
    linked = true;
  } catch {
    /* no commondir: the main repository */
  }
  let pairs: Array<[string, string]> | null = null;
  try {
    pairs = parseGitConfig(readFileSync(join(common, 'config'), 'utf8'));
  } catch {
    pairs = null; // unreadable here: git answers
  }
  if (pairs) {
    const cfg = new Map(pairs);
    const format = (cfg.get('extensions.objectformat') ?? 'sha1').toLowerCase();
    const refs = (cfg.get('extensions.refstorage') ?? (existsSync(join(common, 'reftable')) ? 'reftable' : 'files')).toLowerCase();
    const others = [...cfg.keys()].filter((k) => k.startsWith('extensions.') && !KNOWN_EXTENSIONS.has(k));
    if ((format === 'sha1' || format === 'sha256') && (refs === 'files' || refs === 'reftable')) return { found: true, caps: choose(format, refs, linked, true, others), common, linked };
  }
  return { found: false, caps: choose('sha1', 'files', linked, false), common, linked };
}

// ---------------------------------------------------------------------------
// The one door to git (issue #16): everything agentgit asks of git that is
// not an in-process fast path, named by what it does. `Repo` (git/repo.ts)
// holds one GitBackend, chosen once in Repo.open/openAt; nothing outside
// src/git/ builds git argv. Implementations: `GitCli` (git/cli.ts, the git
// binary) and the isomorphic-git engine (git/iso/).
//
// Conventions for every method:
// - object ids are full lowercase hex of the repository's format; `rev` is
//   anything `git rev-parse` takes (an oid, a ref name, `HEAD`, `X^{tree}`);
// - paths are relative to the work tree, `/`-separated, never pathspecs
//   (an engine matches them literally);
// - `timeoutMs` kills the operation after that many ms (GitError with
//   `timedOut`), on top of the round's deadline (git/exec.ts);
// - failures throw GitError (git/exec.ts) with a one-line message naming
//   the git operation; results documented as "null/false when ..." are the
//   only expected failures that do not throw.
// ---------------------------------------------------------------------------

/** An object's type. */
export type GitObjectType = 'blob' | 'tree' | 'commit' | 'tag';

/** A commit as history walks see it. */
export interface WalkedCommit {
  oid: string;
  parents: string[];
  /** The author's name (git's %an). */
  author: string;
}

/** One change between two trees (`git diff-tree -r --no-renames`): A added, D deleted, M modified, T type changed. */
export type TreeChangeEntry = RawChange;

/** One commit of a log with changes: the format fields asked for, in order, and its raw changes. */
export interface LoggedCommitEntry {
  fields: string[];
  changes: TreeChangeEntry[];
}

/** One path of the work-tree status (`git status --porcelain=v1`). */
export interface StatusItem {
  path: string;
  /** Two-letter porcelain v1 code, e.g. ' M', '??', 'D '. */
  xy: string;
}

/** An index entry to set; the zero id with mode '0' removes the path. */
export interface IndexChange {
  path: string;
  mode: string;
  oid: string;
}

/** Which commits a history walk visits (git rev-list's revision arguments). */
export interface Revisions {
  /** Start from these revs. */
  include: string[];
  /** Stop at these revs (`^rev`): commits reachable from them are left out. */
  exclude?: string[];
  /** Also start from every ref matching this glob (`--glob`, e.g. `refs/agentgit/archive/*`). */
  glob?: string;
  /** Only commits touching this path (history simplification as `git rev-list -- PATH`). */
  path?: string;
  /** With `path`: no simplification (`--full-history`). */
  fullHistory?: boolean;
}

/** How the commits of a walk come out (default: git's, newest first). */
export interface WalkOrder {
  /** Oldest first (`--reverse`). */
  reverse?: boolean;
  /** Topological order (`--topo-order`; with `reverse`: parents before children). */
  topo?: boolean;
  /** Only root commits (`--max-parents=0`). */
  rootsOnly?: boolean;
  /** Follow only the first parent of each commit (`--first-parent`). */
  firstParent?: boolean;
  /** Only the given commits themselves, no ancestors (`--no-walk`). */
  noWalk?: boolean;
  /** Stop the walk after this many ms (GitError with `timedOut`). */
  timeoutMs?: number;
}

/** The filters and shape of `log with changes` (cli/log.ts, cli/verify.ts). */
export interface LogQuery extends Revisions {
  /** git pretty-format fields of each commit (`%H`, `%an`, `%G?`, `%(trailers:...)`). */
  fields: string[];
  /** `--first-parent -m`: follow first parents, show a merge's changes against its first parent. */
  firstParent?: boolean;
  noMerges?: boolean;
  maxCount?: number;
  /** `--since` (git's date syntax, passed through). */
  since?: string;
  /** `--author` regular expression (git's syntax). */
  author?: string;
}

/** Result of a fetch. `ok` false only for the failures git reports with its exit code (never a timeout: that throws). */
export interface FetchResult {
  ok: boolean;
  /** Exit code as git would give it (0 ok, 1 or 128 failed). */
  code: number;
  /** A single source ref asked for is not on the remote (`couldn't find remote ref`). */
  missingRemoteRef: boolean;
  /** What the transport printed (git's stderr): messages and error lines, for operators. */
  stderr: string;
}

/** One ref's line of `git push --porcelain`. */
export interface PushedRef {
  /** ' ' fast-forward, '+' forced, '-' deleted, '*' new, '=' up to date, '!' rejected or failed. */
  flag: ' ' | '+' | '-' | '*' | '=' | '!';
  /** Local side (`oid` or ref; empty for a delete). */
  from: string;
  /** Remote ref. */
  to: string;
  /** git's summary (`[rejected] (stale info)`, `[new branch]`, `abc..def`). */
  summary: string;
}

/** Result of a push (never thrown for a rejection: `ok` false, see `refs`). */
export interface PushResult {
  /** Every ref updated (exit 0). */
  ok: boolean;
  code: number;
  refs: PushedRef[];
  /** git push --porcelain's stdout and stderr as git prints them (another engine writes git's words: `[rejected]`, `stale info`, `fetch first`, `non-fast-forward`, `remote: ` lines for what the hub said). */
  stdout: string;
  stderr: string;
}

/** A push: refspecs `src:dst` (`:dst` deletes), never forced unless by lease. */
export interface PushRequest {
  remote: string;
  refspecs: string[];
  /** Compare-and-swap: update `ref` only if it is `expected` on the remote now ('' = must not exist). */
  leases?: Array<{ ref: string; expected: string }>;
  /** All refs or none (`--atomic`). */
  atomic?: boolean;
  /** A plain quiet push (`--quiet`, hooks run, no porcelain: `refs` stays empty), as the heartbeat deletions always did. */
  quiet?: boolean;
  timeoutMs?: number;
}

/** Whether the ref of a remote answered (ls-remote). `ok` false: unreachable or refused, with git's message. */
export interface RemoteRefs {
  ok: boolean;
  code: number;
  /** ref name -> oid. */
  refs: Map<string, string>;
  stderr: string;
}

/** git's `%G?` and `%GK` of a commit: N unsigned, B bad, G good and allowed, U good but not allowed, E cannot check, X/Y expired, R revoked; `fp` the key's fingerprint. */
export interface SignatureStatus {
  g: string;
  fp: string;
}

/** How a commit reaches the work tree and the index. */
export type CheckoutMode =
  /** `git reset --keep`: move the branch and update the files that differ, refusing to overwrite local changes. */
  | 'keep'
  /** `git reset --hard`: index and files exactly as the commit (a fresh clone's first checkout). */
  | 'hard';

/**
 * Operations on one repository (its work tree `root` and git dir). Created
 * by GitEngine.open with the capabilities detected for it.
 */
export interface GitBackend {
  /** The committer identity git would write (user.name, user.email, nothing in the environment): an engine may then move refs in-process with git's reflog. */
  useIdentity?(ident: { name: string; email: string }): void;
  readonly caps: Capabilities;

  // --- objects ------------------------------------------------------------
  /** An object's content by oid or `rev:path` (the long-lived `cat-file --batch` session); null when missing. */
  readObject(spec: string): Promise<Buffer | null>;
  /** Type and size of each object (`cat-file --batch-check`); missing ones are absent. */
  objectInfo(oids: string[], opts?: { timeoutMs?: number }): Promise<Map<string, { type: GitObjectType; size: number }>>;
  /** Every object in the repository with its type (`cat-file --batch-all-objects`): `agentgit verify`'s inventory. */
  allObjects(): Promise<Array<{ oid: string; type: GitObjectType }>>;
  /** Store an object; returns its id (`hash-object -w`, no filters). */
  writeObject(type: 'blob' | 'tree', bytes: Uint8Array): Promise<string>;
  /** An object's id without storing it. */
  hashObject(type: 'blob', bytes: Uint8Array): Promise<string>;
  /** `count-objects -v` as key -> number (`count`, `size`, `in-pack`, `packs`, `size-pack`, ...; sizes in KiB). */
  countObjects(): Promise<Record<string, number>>;
  /** Stop the object session (Repo.close). */
  close(): void;

  // --- refs -----------------------------------------------------------------
  /** The commit a rev names (`rev-parse --verify REV^{commit}`); null when it names none. */
  resolveCommit(rev: string): Promise<string | null>;
  /** The tree a rev names (`rev-parse REV^{tree}`); throws when none. */
  resolveTree(rev: string): Promise<string>;
  /** Refs matching for-each-ref patterns (a full name, or a prefix such as `refs/agentgit/`): name -> oid. */
  listRefs(patterns: string[]): Promise<Map<string, string>>;
  /**
   * Set `ref` (or HEAD's branch, when `ref` is HEAD) to `next`, atomically.
   * `expected`: the oid it must have now (null: must not exist); undefined:
   * no check. Throws when it moved meanwhile. `reason` goes to the reflog.
   */
  updateRef(ref: string, next: string, expected?: string | null, reason?: string): Promise<void>;
  /** Delete `ref`, only if it is `expected` when given; false when it did not exist. */
  deleteRef(ref: string, expected?: string): Promise<boolean>;
  /** The branch HEAD points at (short name), null when detached. */
  headBranch(): Promise<string | null>;
  /** Point HEAD at `refs/heads/<branch>` (born or unborn). */
  setHeadBranch(branch: string): Promise<void>;
  /** Create or reset local `branch` to `remote/branch`'s tip and make it track it (`branch -f --track`). */
  trackBranch(branch: string, remote: string): Promise<void>;

  // --- config ---------------------------------------------------------------
  /** A config value (last one wins), as git reads it with includes; null when unset. */
  getConfig(key: string): Promise<string | null>;
  /** Every config value: key (lowercase section and name) -> last value. */
  listConfig(): Promise<Map<string, string>>;
  /** Set a value in the repository's config. */
  setConfig(key: string, value: string): Promise<void>;
  /** Remove a value (no error when unset). */
  unsetConfig(key: string): Promise<void>;
  /** A remote's URL, null when no such remote. */
  remoteUrl(name: string): Promise<string | null>;
  /** Add remote `name` with `url`, or change its URL when it exists. */
  setRemoteUrl(name: string, url: string): Promise<void>;

  // --- work tree and index ----------------------------------------------------
  /**
   * Changed, staged and untracked files (all untracked files, .gitignore
   * honoured, no renames). `paths`: only these (literal); then submodules
   * are ignored (the watcher's check), else they are included.
   */
  status(opts?: { paths?: string[]; timeoutMs?: number }): Promise<StatusItem[]>;
  /** Paths staged in the index against HEAD, with their status letter (`diff --cached --name-status`). */
  stagedChanges(): Promise<Array<{ status: string; path: string }>>;
  /** Whether the index equals HEAD's tree (`diff-index --cached --quiet HEAD`). */
  indexMatchesHead(): Promise<boolean>;
  /** Work-tree paths (tracked) whose content differs from `rev` (`diff --name-only REV`). */
  changedSince(rev: string): Promise<string[]>;
  /** Set index entries (stat info refreshed by refreshIndex). */
  updateIndex(entries: IndexChange[]): Promise<void>;
  /** Refresh the index's stat info (`update-index -q --refresh`). */
  refreshIndex(): Promise<void>;
  /** Add work-tree paths to the index (`git add -- PATHS`). */
  addToIndex(paths: string[]): Promise<void>;
  /** Put these index entries back to HEAD's (or out of the index when HEAD is unborn), files untouched. */
  unstage(paths: string[], headBorn: boolean): Promise<void>;
  /**
   * `git commit` of the index: no hooks, the message as given (cleanup
   * whitespace), signed when `sign`. `paths`: only these paths' staged
   * state is committed with `only` (`--only`), else the index limited to
   * them; `author` sets author and committer names. Moves HEAD's branch.
   */
  commitIndex(o: { message: string; sign: boolean; paths?: string[]; only?: boolean; author?: string }): Promise<void>;
  /** Bring `commit` into HEAD's branch, index and files (see CheckoutMode). */
  checkout(commit: string, mode: CheckoutMode): Promise<void>;
  /**
   * Write `commit`'s files into an empty work tree with progress: the index
   * is set from it and the files written in chunks, `progress(done, total)`
   * after each (a clone's first checkout on a TTY); then checkout(commit, 'hard').
   */
  checkoutWithProgress(commit: string, progress: (done: number, total: number) => void): Promise<void>;
  /** Every file path in a commit's tree (`ls-tree -r --name-only`). */
  listFiles(rev: string): Promise<string[]>;
  /** The value of attribute `attr` for each path (`check-attr`): 'unspecified', 'set', 'unset' or its value. */
  checkAttr(attr: string, paths: string[]): Promise<Map<string, string>>;

  // --- trees and commits (when the fast paths are off or cannot answer) ---------
  /** Tree changes between two commits or trees (`diff-tree -r --no-renames`). */
  diffTrees(a: string, b: string): Promise<TreeChangeEntry[]>;
  /** A tree: `from` (a commit or tree, null for empty) with `changes` applied, the real index untouched. */
  buildTree(from: string | null, changes: IndexChange[]): Promise<string>;
  /** Write a commit object (`commit-tree`); signed with user.signingkey when `sign`; `env` adds GIT_AUTHOR_* style overrides. */
  commitTree(tree: string, parents: string[], message: string, opts: { sign: boolean; env?: Record<string, string> }): Promise<string>;

  // --- history ----------------------------------------------------------------
  /** All best common ancestors (`merge-base --all`); empty when unrelated. */
  mergeBases(a: string, b: string): Promise<string[]>;
  /** Whether `ancestor` is reachable from `descendant` (or equal). */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
  /** The commits of a walk with their parents and authors. */
  walk(revs: Revisions, order?: WalkOrder): Promise<WalkedCommit[]>;
  /** How many commits a walk visits (`rev-list --count`). */
  countCommits(revs: Revisions): Promise<number>;
  /** Commits in `a` not in `b`, and in `b` not in `a` (`rev-list --left-right --count a...b`). */
  aheadBehind(a: string, b: string): Promise<{ ahead: number; behind: number }>;
  /** Commits with format fields and their raw changes (`log -z --raw --no-renames`). */
  logWithChanges(q: LogQuery): Promise<LoggedCommitEntry[]>;
  /** The newest commit touching `path` from HEAD: its oid and author; null when none (or HEAD unborn). */
  lastCommitTouching(path: string): Promise<{ oid: string; author: string } | null>;
  /** The author of the newest commit from HEAD whose message has a line matching `regex` (git's basic regex); null when none. */
  lastAuthorMatching(regex: string): Promise<string | null>;
  /** The lines added and removed in `path` over the history of `rev` (`log -p -- PATH`), each with its `+`/`-`. */
  pathChangeLines(rev: string, path: string): Promise<string[]>;
  /**
   * Signature status of each commit against an allowed-signers file's text
   * (namespace git), as `git log %G? %GK` with gpg.ssh.allowedSignersFile.
   * `lenient`: a commit git cannot read is 'N' instead of an error.
   */
  signatureStatus(oids: string[], allowedSigners: string, opts?: { lenient?: boolean }): Promise<Map<string, SignatureStatus>>;

  // --- remotes ----------------------------------------------------------------
  /** Fetch `refspecs` (`+src:dst`) from a remote name or URL: no tags, no FETCH_HEAD, no auto gc; `prune` local refs under the dst patterns. */
  /** `signal`: stop the fetch (the git CLI engine; the isomorphic-git engine runs it to its end or its timeout). */
  fetch(remote: string, refspecs: string[], opts?: { timeoutMs?: number; prune?: boolean; signal?: AbortSignal }): Promise<FetchResult>;
  /** Push (porcelain, no hooks). */
  push(req: PushRequest): Promise<PushResult>;
  /** The remote's refs (`ls-remote`): those named, or all branches when `patterns` is 'heads'. */
  lsRemote(remote: string, patterns: string[] | 'heads', opts?: { timeoutMs?: number }): Promise<RemoteRefs>;
  /** Write a bundle file of `refs` and their history (`bundle create`). */
  bundleCreate(file: string, refs: string[]): Promise<void>;

  // --- housekeeping -------------------------------------------------------------
  /** git's automatic housekeeping (`maintenance run --auto`: gc in the background when due). */
  housekeeping(): Promise<void>;
}

/** What an engine does before there is a repository to open. */
export interface GitEngine {
  readonly name: EngineName;
  /** The work tree containing `dir` and its git dir (absolute); null when not in a repository. */
  discover(dir: string): Promise<{ root: string; gitDir: string } | null>;
  /** The git dir (absolute) of the repository containing `dir`, work tree or not (the merge driver's). */
  gitDirOf(dir: string): Promise<string>;
  /** The capabilities of the repository at `gitDir` (work tree `root`). */
  detect(gitDir: string, root: string): Promise<Capabilities>;
  /** Operations on that repository. */
  open(root: string, gitDir: string, caps: Capabilities): GitBackend;
  /** Create a repository at `dir` with HEAD on `branch` (unborn). */
  init(dir: string, branch: string): Promise<void>;
  /**
   * Clone `url` into `dir` (absolute, not existing or empty): no checkout,
   * no tags, every received object checked (fsck `config` pairs), within
   * `timeoutMs`.
   */
  clone(url: string, dir: string, opts: { timeoutMs?: number; fsck: ReadonlyArray<readonly [string, string]> }): Promise<void>;
  /** A config value of the repository at `dir`, null when unset or not a repository (read without opening it). */
  configAt(dir: string, key: string): Promise<string | null>;
  /** Set a config value of the repository at `dir`. */
  setConfigAt(dir: string, key: string, value: string): Promise<void>;
  /** The engine's version for doctor (`git --version`'s numbers), null when it cannot run. */
  version(): Promise<string | null>;
}
