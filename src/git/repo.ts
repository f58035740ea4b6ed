/**
 * A Git work tree as agentgit sees it: the plumbing calls the sync round
 * needs, each one process at most, none per file.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { capabilitiesFromFiles, emptyTreeOf, zeroOidOf, type Capabilities, type GitBackend, type GitEngine } from './backend.js';
import type * as Git from './backend.js';
import { gitCliEngine } from './cli.js';
import { wantIsoGit } from './iso/choose.js';
import { readConfigFiles } from './config.js';
import { buildTreeInProcess, diffTreesInProcess, findTreeEntry, parseTree, plainTreeEntries, TreeConflict, type RawChange } from './tree.js';
import { GitError } from './exec.js';
import { gitInt, housekeepingDueAt } from './housekeeping.js';
import { batchObjects, dropKeptObjectReaders, blobOid, commitPayload, objectOid, endBatch, flushObjects, parseCommitHeader, plainIdent, withSignature, writeObject, type Ident } from './objects.js';

/**
 * The engine every repository opened in this process goes through: chosen
 * once, here and nowhere else (issue #16): the isomorphic-git engine
 * (git/iso/) with `AGENTGIT_ENGINE=isomorphic-git` or when no git binary is
 * on PATH (git/iso/choose.ts), loaded lazily so rounds with git pay nothing
 * for it; else the git binary (GitCli).
 */
let chosen: Promise<GitEngine> | null = null;
export function engine(): Promise<GitEngine> {
  chosen ??= wantIsoGit() ? import('./iso/index.js').then((m) => m.isoGitEngine) : Promise.resolve(gitCliEngine);
  return chosen;
}

/** Something objects can be read from by oid or `rev:path` (null when missing). */
export interface ObjectSource {
  read(spec: string): Promise<Buffer | null>;
}

/** A commit as history walks see it (oid, parents, author name). */
export type CommitInfo = Git.WalkedCommit;

/** One change of `git diff-tree -r` (A added, D deleted, M modified, T type changed). */
export type TreeChange = RawChange;

/** One path of the work-tree status (two-letter porcelain v1 code). */
export type StatusEntry = Git.StatusItem;

/** An index entry; the zero id (Repo.zeroOid) with mode '0' removes the path. */
export type IndexEntry = Git.IndexChange;

/** Gives the function that signs a commit payload (an armored SSH signature, or null: let git sign), or null when it cannot. */
export type Signer = () => ((payload: string) => string | null) | null;

export class Repo {
  /** Object reads (the engine's session: `git cat-file --batch` for GitCli). */
  readonly objects: ObjectSource;
  private constructor(
    readonly root: string,
    readonly gitDir: string,
    /** What this repository and git can do, and whether the in-process fast paths are on (git/backend.ts). */
    readonly caps: Capabilities,
    /** Every git operation that is not an in-process fast path (git/backend.ts); private to src/git/. */
    private readonly backend: GitBackend,
  ) {
    this.objects = { read: (spec) => backend.readObject(spec) };
    // the git CLI engine's rounds write their objects as one pack (git/objects.ts, batchObjects)
    if (caps.engine === 'git CLI' && caps.fastPaths) batchObjects(gitDir);
  }

  private static async make(root: string, gitDir: string): Promise<Repo> {
    const e = await engine();
    const caps = await e.detect(gitDir, root);
    return new Repo(root, gitDir, caps, e.open(root, gitDir, caps));
  }

  /** A bare repository's refs read from its files (the watcher's poll of a hub on disk); no process. */
  static bareAt(gitDir: string): Repo {
    const caps = capabilitiesFromFiles(gitDir).caps;
    return new Repo(gitDir, gitDir, caps, gitCliEngine.open(gitDir, gitDir, caps));
  }

  /** The git dir (absolute) of the repository containing `dir` (the merge driver's: it runs inside git merge). */
  static async gitDirOf(dir: string): Promise<string> {
    return (await engine()).gitDirOf(dir);
  }

  /** A config value of the repository at `dir` without opening it (null when unset or no repository). */
  static async configAt(dir: string, key: string): Promise<string | null> {
    return (await engine()).configAt(dir, key);
  }

  /** Set a config value of the repository at `dir`. */
  static async setConfigAt(dir: string, key: string, value: string): Promise<void> {
    return (await engine()).setConfigAt(dir, key, value);
  }

  /** Create a repository at `dir` with HEAD on the unborn `branch`. */
  static async init(dir: string, branch: string): Promise<void> {
    return (await engine()).init(dir, branch);
  }

  /** Clone `url` into `dir` (absolute) with no checkout and no tags, every object fsck-checked (`fsck` config pairs). */
  static async clone(url: string, dir: string, opts: { timeoutMs?: number; fsck: ReadonlyArray<readonly [string, string]> }): Promise<void> {
    return (await engine()).clone(url, dir, opts);
  }

  /** The engine's version (`git --version`'s numbers), null when it cannot run. */
  static async engineVersion(): Promise<string | null> {
    return (await engine()).version();
  }

  /** The all-zero id of this repository's object format ("no object"). */
  get zeroOid(): string {
    return zeroOidOf(this.caps.objectFormat);
  }

  /** The empty tree's id in this repository's object format. */
  get emptyTree(): string {
    return emptyTreeOf(this.caps.objectFormat);
  }

  /** Open the work tree containing `dir`; null when it is not in a Git repo. */
  static async open(dir: string): Promise<Repo | null> {
    const found = await (await engine()).discover(dir);
    return found ? Repo.make(found.root, found.gitDir) : null;
  }

  /** Open `dir` only if it is itself the top of a work tree. */
  static async openAt(dir: string): Promise<Repo | null> {
    // the common layout (dir/.git is a directory) needs no process
    const dotGit = join(resolve(dir), '.git');
    try {
      if (statSync(dotGit).isDirectory() && statSync(join(dotGit, 'HEAD')).isFile()) {
        const root = realpathSync(resolve(dir));
        const gitDir = realpathSync(dotGit);
        return await Repo.make(root, gitDir);
      }
    } catch {
      /* not there, or a .git file (worktree, submodule): ask git */
    }
    const r = await Repo.open(dir);
    if (!r) return null;
    if (realpathSync(r.root) !== realpathSync(resolve(dir))) return null;
    return r;
  }

  /**
   * Write what is batched and stop the object reader. Never throws: objects
   * still batched here were named by nothing yet (git/objects.ts), so a
   * failed write loses nothing a ref or the index holds; the round's own
   * error stands.
   */
  close(): void {
    try {
      endBatch(this.gitDir);
    } catch {
      /* see above */
    } finally {
      this.backend.close();
    }
  }

  /** Write the objects this process holds in memory for this repository (git/objects.ts): before a file outside git names one. */
  flushObjects(): void {
    flushObjects(this.gitDir);
  }

  /** Path under .git/agentgit/ (per-clone state, never synced). */
  stateFile(name: string): string {
    return join(this.gitDir, 'agentgit', name);
  }

  /**
   * A ref's oid read from the files git keeps (loose ref, else packed-refs),
   * with no process. `undefined` when only git can tell: reftable, a linked
   * worktree, a symbolic ref to follow, anything unexpected.
   */
  readRef(name: string): string | null | undefined {
    if (!/^(HEAD|refs\/[A-Za-z0-9._/-]+)$/.test(name) || name.includes('..')) return undefined;
    if (!this.caps.fastPaths) return undefined;
    let text: string;
    try {
      text = readFileSync(join(this.gitDir, name), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return undefined;
      if (name === 'HEAD') return undefined;
      return this.packedRefs().get(name) ?? null;
    }
    const m = /^([0-9a-f]{40})\n?$/.exec(text);
    return m ? m[1]! : undefined;
  }

  private packedRefs(): Map<string, string> {
    const m = new Map<string, string>();
    let text = '';
    try {
      text = readFileSync(join(this.gitDir, 'packed-refs'), 'utf8');
    } catch {
      /* none */
    }
    for (const l of text.split('\n')) {
      if (!l || l.startsWith('#') || l.startsWith('^')) continue;
      const i = l.indexOf(' ');
      if (i > 0) m.set(l.slice(i + 1), l.slice(0, i));
    }
    return m; // not cached: a fetch or gc may repack between two reads
  }

  async revParse(rev: string): Promise<string | null> {
    // a branch or HEAD needs no process (a branch always names a commit)
    if (rev === 'HEAD' || rev.startsWith('refs/heads/')) {
      const head = rev === 'HEAD' ? this.headBranchFromFile() : rev.slice('refs/heads/'.length);
      const oid = head !== null ? this.readRef(`refs/heads/${head}`) : undefined;
      if (oid !== undefined) return oid;
    }
    if (this.knownCommits.has(rev)) return rev;
    const s = await this.backend.resolveCommit(rev);
    if (s === rev) this.knowCommit(s);
    return s;
  }

  /** HEAD's commit; throws when HEAD is unborn (after a commit, or where HEAD must exist). */
  async headCommit(): Promise<string> {
    const head = await this.revParse('HEAD');
    if (!head) throw new GitError('git rev-parse failed: HEAD names no commit (nothing committed yet)', ['rev-parse', 'HEAD'], 128, '', false);
    return head;
  }

  /** The tree a rev names (`REV^{tree}`). */
  resolveTree(rev: string): Promise<string> {
    return this.backend.resolveTree(rev);
  }

  /**
   * Commits this Repo wrote or git confirmed: an object never changes type,
   * so revParse of one of their oids needs no process (a round checks its
   * own new commit more than once). Bounded: cleared past 4,096.
   */
  private readonly knownCommits = new Set<string>();

  private knowCommit(oid: string): void {
    if (this.knownCommits.size >= 4096) this.knownCommits.clear();
    this.knownCommits.add(oid);
  }

  async config(key: string): Promise<string | null> {
    return this.backend.getConfig(key);
  }

  /** All local config values in one process: key (lowercase) -> last value. */
  async configAll(): Promise<Map<string, string>> {
    const fromFiles = readConfigFiles(this.gitDir);
    if (fromFiles) return fromFiles;
    return this.backend.listConfig();
  }

  async setConfig(key: string, value: string): Promise<void> {
    await this.backend.setConfig(key, value);
  }

  /** A remote's URL, null when there is no such remote. */
  remoteUrl(name: string): Promise<string | null> {
    return this.backend.remoteUrl(name);
  }

  /** Add remote `name` with `url`, or change its URL. */
  setRemoteUrl(name: string, url: string): Promise<void> {
    return this.backend.setRemoteUrl(name, url);
  }

  /** Exact ref names -> oid (absent names are missing): from the files, else one git process. */
  async exactRefs(names: string[]): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (const n of names) {
      const oid = this.readRef(n);
      if (oid === undefined) {
        const all = await this.refs(names);
        return new Map([...all].filter(([k]) => names.includes(k)));
      }
      if (oid !== null) m.set(n, oid);
    }
    return m;
  }

  /** Refs matching for-each-ref patterns, in one process: name -> oid. */
  async refs(names: string[]): Promise<Map<string, string>> {
    return this.backend.listRefs(names);
  }

  /** The branch HEAD points at, read from .git/HEAD (no process); null when only git can tell (refs not in files). */
  headBranchFromFile(): string | null {
    if (!this.caps.fastPaths) return null;
    try {
      const t = readFileSync(join(this.gitDir, 'HEAD'), 'utf8').trim();
      const m = /^ref: refs\/heads\/(.+)$/.exec(t);
      return m ? m[1]! : null;
    } catch {
      return null;
    }
  }

  async currentBranch(): Promise<string | null> {
    return this.backend.headBranch();
  }

  /** Point HEAD at `refs/heads/<branch>` (born or unborn). */
  setHeadBranch(branch: string): Promise<void> {
    return this.backend.setHeadBranch(branch);
  }

  /** Create or reset `branch` at `remote/branch` and track it. */
  trackBranch(branch: string, remote: string): Promise<void> {
    return this.backend.trackBranch(branch, remote);
  }

  /** Changed and untracked files (respects .gitignore), no rename detection. */
  async status(): Promise<StatusEntry[]> {
    return this.backend.status();
  }

  /** Whether git sees nothing to commit in these work-tree paths (literal; submodules ignored); throws when it cannot tell. */
  async pathsClean(paths: string[], timeoutMs: number): Promise<boolean> {
    return (await this.backend.status({ paths, timeoutMs })).length === 0;
  }

  /** Paths staged against HEAD with their status letter (the pre-commit hook). */
  stagedChanges(): Promise<Array<{ status: string; path: string }>> {
    return this.backend.stagedChanges();
  }

  /** Whether the index equals HEAD's tree. */
  indexMatchesHead(): Promise<boolean> {
    return this.backend.indexMatchesHead();
  }

  /** Tracked work-tree paths whose content differs from `rev`. */
  changedSince(rev: string): Promise<string[]> {
    return this.backend.changedSince(rev);
  }

  /** Every file path in `rev`'s tree. */
  listFiles(rev: string): Promise<string[]> {
    return this.backend.listFiles(rev);
  }

  /** The value of attribute `attr` for each path ('unspecified', 'set', 'unset' or its value). */
  checkAttr(attr: string, paths: string[]): Promise<Map<string, string>> {
    return this.backend.checkAttr(attr, paths);
  }

  /**
   * Tree changes between two commits or trees (no renames, recursive), as
   * `git diff-tree -r` gives them, computed in-process (git/tree.ts: only
   * differing subtrees are read); git itself when an object cannot be read
   * or the fast paths are off. `a` null: from the empty tree.
   */
  async diffTree(a: string | null, b: string): Promise<TreeChange[]> {
    if (this.caps.fastPaths) {
      try {
        const [ta, tb] = await Promise.all([a === null ? null : this.treeOfAny(a), this.treeOfAny(b)]);
        return await diffTreesInProcess((oid) => this.objects.read(oid), ta, tb);
      } catch {
        // a missing or malformed object: git says what is wrong
      }
    }
    return this.diffTreeWithGit(a ?? this.emptyTree, b);
  }

  /**
   * Commits with format fields (`%H`, `%an`, ...) and their changes (no
   * renames, full ids): the one reader of logs with their changes
   * (cli/log.ts, cli/verify.ts). No revisions: from HEAD.
   */
  async logWithChanges(q: Git.LogQuery): Promise<LoggedCommit[]> {
    return this.backend.logWithChanges(q);
  }

  async diffTreeWithGit(a: string, b: string): Promise<TreeChange[]> {
    return this.backend.diffTrees(a, b);
  }

  /** The tree of a commit, or the id itself when it names a tree (or anything else: the reader then fails and git answers). */
  private async treeOfAny(rev: string): Promise<string> {
    return (await this.treeOf(rev)) ?? rev;
  }

  async mergeBases(a: string, b: string): Promise<string[]> {
    return this.backend.mergeBases(a, b);
  }

  /** Whether `ancestor` is reachable from `descendant` (or is it). */
  isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return this.backend.isAncestor(ancestor, descendant);
  }

  /** The commits of a walk, with parents and authors. */
  walk(revs: Git.Revisions, order?: Git.WalkOrder): Promise<CommitInfo[]> {
    return this.backend.walk(revs, order);
  }

  /** How many commits a walk visits. */
  countCommits(revs: Git.Revisions): Promise<number> {
    return this.backend.countCommits(revs);
  }

  /** The root commits reachable from `rev`. */
  async rootsOf(rev: string): Promise<string[]> {
    return (await this.backend.walk({ include: [rev] }, { rootsOnly: true })).map((c) => c.oid);
  }

  /** The newest commit from HEAD touching `path`: oid and author; null when none. */
  lastCommitTouching(path: string): Promise<{ oid: string; author: string } | null> {
    return this.backend.lastCommitTouching(path);
  }

  /** The author of the newest commit from HEAD with a message line matching `regex`; null when none. */
  lastAuthorMatching(regex: string): Promise<string | null> {
    return this.backend.lastAuthorMatching(regex);
  }

  /** The `+`/`-` lines of `path` over the history of `rev`. */
  pathChangeLines(rev: string, path: string): Promise<string[]> {
    return this.backend.pathChangeLines(rev, path);
  }

  /** Signature status (%G?, %GK) of commits against an allowed-signers file's text; `lenient`: unreadable is 'N'. */
  signatureStatus(oids: string[], allowedSigners: string, opts?: { lenient?: boolean }): Promise<Map<string, Git.SignatureStatus>> {
    return this.backend.signatureStatus(oids, allowedSigners, opts);
  }

  /** Every object with its type (`agentgit verify`'s inventory). */
  allObjects(): Promise<Array<{ oid: string; type: Git.GitObjectType }>> {
    return this.backend.allObjects();
  }

  /** Type and size of each object; missing ones absent. */
  objectInfo(oids: string[], opts?: { timeoutMs?: number }): Promise<Map<string, { type: Git.GitObjectType; size: number }>> {
    return this.backend.objectInfo(oids, opts);
  }

  /** `count-objects -v`'s numbers (sizes in KiB). */
  countObjects(): Promise<Record<string, number>> {
    return this.backend.countObjects();
  }

  /** Fetch refspecs from a remote (name or URL); see GitBackend.fetch. */
  fetch(remote: string, refspecs: string[], opts?: { timeoutMs?: number; prune?: boolean; signal?: AbortSignal }): Promise<Git.FetchResult> {
    return this.backend.fetch(remote, refspecs, opts);
  }

  /** Push; see GitBackend.push. */
  push(req: Git.PushRequest): Promise<Git.PushResult> {
    return this.backend.push(req);
  }

  /** A remote's refs; see GitBackend.lsRemote. */
  lsRemote(remote: string, patterns: string[] | 'heads', opts?: { timeoutMs?: number }): Promise<Git.RemoteRefs> {
    return this.backend.lsRemote(remote, patterns, opts);
  }

  /** Write a bundle of `refs`. */
  bundleCreate(file: string, refs: string[]): Promise<void> {
    return this.backend.bundleCreate(file, refs);
  }

  /** Stage work-tree paths. */
  addToIndex(paths: string[]): Promise<void> {
    return this.backend.addToIndex(paths);
  }

  /** Index entries of `paths` back to HEAD's (out of the index when HEAD is unborn). */
  unstage(paths: string[], headBorn: boolean): Promise<void> {
    return this.backend.unstage(paths, headBorn);
  }

  /** `git commit` of the index (see GitBackend.commitIndex). */
  commitIndex(o: { message: string; sign: boolean; paths?: string[]; only?: boolean; author?: string }): Promise<void> {
    return this.backend.commitIndex(o);
  }

  /** Bring `commit` into the branch, index and files ('keep': refuse to overwrite local changes; 'hard'). */
  checkout(commit: string, mode: Git.CheckoutMode): Promise<void> {
    return this.backend.checkout(commit, mode);
  }

  /** A first checkout of `commit` with a progress line. */
  checkoutWithProgress(commit: string, progress: (done: number, total: number) => void): Promise<void> {
    return this.backend.checkoutWithProgress(commit, progress);
  }

  /**
   * A tree: `from` (a commit or tree, or null for empty) with `changes`
   * applied, built in a private index so the real index is untouched.
   */
  async buildTree(from: string | null, changes: IndexEntry[]): Promise<string> {
    // in-process: only the trees on changed paths are read and written (git/tree.ts)
    if (this.caps.fastPaths) {
      try {
        const fromTree = from ? await this.treeOfAny(from) : null;
        return await buildTreeInProcess(this.gitDir, (oid) => this.objects.read(oid), fromTree, changes);
      } catch (e) {
        if (!(e instanceof TreeConflict)) throw e;
        // a change only the index can place: git decides, as it always did
      }
    }
    return this.buildTreeWithGit(from, changes);
  }

  /** The same, through git's private index: read-tree, update-index, write-tree. */
  async buildTreeWithGit(from: string | null, changes: IndexEntry[]): Promise<string> {
    return this.backend.buildTree(from, changes);
  }

  /** Who writes commit objects in-process (useCommitIdentity), when the fast paths allow it. */
  private commitWriter: { ident: Ident; signer: Signer | null } | null = null;

  /**
   * The identity (and signer) commits are written with, from this clone's
   * config: commit objects are then built, signed and written in-process
   * (no `git commit-tree`, no `ssh-keygen -Y sign`), but only when the
   * fast paths are on (git/backend.ts) and git would write exactly these
   * fields: a plain name and email, no GIT_AUTHOR_* / GIT_COMMITTER_* in
   * the environment. `signer` gives, when first asked (a round with nothing
   * to commit never reads the key), the function that returns an armored SSH
   * signature of a payload, or null to let git do it. Returns whether it is used.
   */
  useCommitIdentity(ident: Ident, signer: Signer | null): boolean {
    const env = process.env;
    if (!this.caps.fastPaths || !plainIdent(ident) || env.GIT_AUTHOR_NAME || env.GIT_COMMITTER_NAME || env.GIT_AUTHOR_DATE || env.GIT_COMMITTER_DATE) return false;
    this.commitWriter = { ident, signer };
    this.backend.useIdentity?.(ident);
    return true;
  }

  /** Whether commitTree builds the commit in-process (signed ones: when the signer gives a signing function). */
  commitsInProcess(sign: boolean): boolean {
    return this.commitWriter !== null && (!sign || (this.commitWriter.signer?.() ?? null) !== null);
  }

  async commitTree(tree: string, parents: string[], message: string, opts: { sign: boolean; env?: Record<string, string> }): Promise<string> {
    const ip = this.commitWriter;
    const signWith = ip && opts.sign ? ip.signer?.() ?? null : null;
    if (ip && !opts.env && (!opts.sign || signWith)) {
      const payload = commitPayload({ tree, parents, author: ip.ident, committer: ip.ident, when: Date.now(), message });
      const sig = signWith ? signWith(payload) : null;
      if (!opts.sign || sig) {
        const oid = await writeObject(this.gitDir, 'commit', Buffer.from(sig ? withSignature(payload, sig) : payload, 'utf8'));
        this.knowCommit(oid);
        return oid;
      }
    }
    return this.backend.commitTree(tree, parents, message, opts);
  }

  /** Move a ref from `old` (null: none) to `next` atomically; fails if it moved meanwhile. */
  async updateRef(ref: string, next: string, old: string | null, reason: string): Promise<void> {
    await this.backend.updateRef(ref, next, old, reason);
  }

  /** Set a ref with no check of its current value (a remote-tracking ref git would also set). */
  async setRef(ref: string, next: string): Promise<void> {
    await this.backend.updateRef(ref, next);
  }

  /** Delete a ref (only if it is `expected`, when given); false when it was not there. */
  deleteRef(ref: string, expected?: string): Promise<boolean> {
    return this.backend.deleteRef(ref, expected);
  }

  /** Store a blob; returns its id (in-process with the fast paths, else `git hash-object -w`). */
  async writeBlob(bytes: Uint8Array): Promise<string> {
    if (this.caps.fastPaths) return writeObject(this.gitDir, 'blob', bytes);
    return this.backend.writeObject('blob', bytes);
  }

  /** A blob's id without storing it. */
  async hashBlob(bytes: Uint8Array): Promise<string> {
    if (this.caps.fastPaths) return blobOid(bytes);
    return this.backend.hashObject('blob', bytes);
  }

  /** Store the empty tree (git knows its id unstored, `git fsck` wants it stored when a commit names it); returns its id. */
  async writeEmptyTree(): Promise<string> {
    if (this.caps.fastPaths) return writeObject(this.gitDir, 'tree', Buffer.alloc(0));
    return this.backend.writeObject('tree', new Uint8Array(0));
  }

  /** Set index entries for paths (stat info is refreshed by refreshIndex). */
  async updateIndex(entries: IndexEntry[]): Promise<void> {
    await this.backend.updateIndex(entries);
  }

  async refreshIndex(): Promise<void> {
    await this.backend.refreshIndex();
  }

  /** Ahead/behind counts of `a` relative to `b`. */
  async aheadBehind(a: string, b: string): Promise<{ ahead: number; behind: number }> {
    return this.backend.aheadBehind(a, b);
  }

  /** Tree of a commit, read through the cat-file session (no new process). */
  async treeOf(commit: string): Promise<string | null> {
    const c = await this.objects.read(commit);
    const m = c ? /^tree ([0-9a-f]{40,64})\n/.exec(c.subarray(0, 70).toString('latin1')) : null;
    return m ? m[1]! : null;
  }

  /**
   * What `git cat-file` answers for `COMMIT:PATH` (COMMIT an oid), found
   * here through its trees, read by id (so a watcher holds them between
   * rounds: git/objects.ts) with git's own lookup (tree.ts findTreeEntry);
   * null when git finds nothing. Anything unusual (a relative path, an
   * object not what its id says, a tree git would not decode) is asked
   * of git as `COMMIT:PATH`.
   */
  async readAt(commit: string, path: string): Promise<Buffer | null> {
    const askGit = (): Promise<Buffer | null> => this.objects.read(`${commit}:${path}`);
    if (!/^[0-9a-f]{40}$/.test(commit) || path === '' || path === '.' || path === '..' || path.startsWith('./') || path.startsWith('../') || /[\0\n]/.test(path)) return askGit();
    const c = await this.objects.read(commit);
    const m = c && objectOid('commit', c) === commit ? /^tree ([0-9a-f]{40})\n/.exec(c.subarray(0, 46).toString('latin1')) : null;
    if (!m) return askGit();
    let tree = m[1]!;
    let rest = Buffer.from(path, 'utf8').toString('latin1');
    for (let depth = 0; depth < 4096; depth++) {
      const entries = await this.treeEntries(tree);
      if (!entries) return askGit();
      const found = findTreeEntry(entries, rest);
      if (found === null) return null;
      if ('oid' in found) return this.objects.read(found.oid);
      ({ tree, rest } = found);
    }
    return askGit();
  }

  /** A tree's entries when it is one git decodes (its id checked), parsed once per Repo (lookups running at once share it); null: ask git. */
  private treeEntries(tree: string): Promise<ReturnType<typeof parseTree> | null> {
    let p = this.parsedTrees.get(tree);
    if (!p) {
      p = this.objects.read(tree).then((buf) => {
        if (!buf || objectOid('tree', buf) !== tree) return null;
        let entries: ReturnType<typeof parseTree>;
        try {
          entries = parseTree(buf);
        } catch {
          return null;
        }
        return plainTreeEntries(entries) ? entries : null;
      });
      if (this.parsedTrees.size >= 1024) this.parsedTrees.clear();
      this.parsedTrees.set(tree, p);
      p.catch(() => this.parsedTrees.delete(tree)); // a failed read is not kept
    }
    return p;
  }

  private readonly parsedTrees = new Map<string, Promise<ReturnType<typeof parseTree> | null>>();

  /** Parents of a commit, from the cat-file session. */
  async parentsOf(commit: string): Promise<string[]> {
    return (await this.commitInfo(commit))?.parents ?? [];
  }

  /**
   * A commit's parents and author name, from the cat-file session, read as
   * git reads them (objects.ts parseCommitHeader); null when unreadable or
   * when git might read it differently: the walks then stop and git answers.
   */
  async commitInfo(oid: string): Promise<CommitInfo | null> {
    const raw = await this.objects.read(oid);
    const h = raw ? parseCommitHeader(raw) : null;
    return h ? { oid, parents: h.parents, author: h.author } : null;
  }

  /** `oid` and up to `limit` - 1 of its nearest ancestors (breadth first, each level read at once). */
  async ancestorsNear(oid: string, limit: number): Promise<Set<string>> {
    const near = new Set<string>([oid]);
    let level = [oid];
    while (level.length > 0 && near.size < limit) {
      const infos = await Promise.all(level.map((c) => this.commitInfo(c)));
      level = [];
      for (const i of infos) {
        for (const p of i?.parents ?? []) {
          if (near.has(p) || near.size >= limit) continue;
          near.add(p);
          level.push(p);
        }
      }
    }
    return near;
  }

  /**
   * The commits reachable from `tip` but from none of `stops`, with their
   * parents and author names, read through the cat-file session, in
   * topological order (parents first), when every path back from `tip`
   * ends at one of `stops` within `limit` commits. `stops` is a commit and
   * some of its ancestors: the answer then holds every commit `tip` brings
   * that the first stop lacks (and, rarely, an older one of its ancestors
   * the nearby stops miss: harmless to verify twice). Null when a path
   * reaches a root or the limit: ask git. `reached`: the stops met.
   */
  async commitsSince(tip: string, stops: Pick<ReadonlySet<string>, 'has'>, limit = 256): Promise<{ commits: CommitInfo[]; reached: Set<string> } | null> {
    const seen = new Map<string, CommitInfo>();
    const reached = new Set<string>();
    const todo = [tip];
    while (todo.length > 0) {
      const oid = todo.pop()!;
      if (stops.has(oid)) {
        reached.add(oid);
        continue;
      }
      if (seen.has(oid)) continue;
      if (seen.size >= limit) return null;
      const c = await this.commitInfo(oid);
      if (!c || c.parents.length === 0) return null; // unreadable, or a root no stop is on the way to
      seen.set(oid, c);
      todo.push(...c.parents);
    }
    // parents before children (what `git log --reverse --topo-order` promises)
    const order: CommitInfo[] = [];
    const placed = new Set<string>();
    const stack: Array<[string, boolean]> = [[tip, false]];
    while (stack.length > 0) {
      const [oid, expanded] = stack.pop()!;
      const c = seen.get(oid);
      if (!c || placed.has(oid)) continue;
      if (expanded) {
        placed.add(oid);
        order.push(c);
      } else {
        stack.push([oid, true]);
        for (const p of c.parents) if (!placed.has(p)) stack.push([p, false]);
      }
    }
    return { commits: order, reached };
  }

  /** Committer time (ms) of a commit, from the cat-file session. */
  async committerTime(commit: string): Promise<number> {
    const c = await this.objects.read(commit);
    const m = c ? /^committer .* (\d+) [+-]\d{4}$/m.exec(c.toString('utf8')) : null;
    return m ? Number(m[1]) * 1000 : 0;
  }

  /**
   * Whether git's automatic housekeeping is due (git/housekeeping.ts).
   * `git commit` ran `git maintenance run --auto` after every commit;
   * agentgit writes its objects in-process and asks git only when this
   * says so (`housekeeping`).
   */
  housekeepingDue(config: Map<string, string>): boolean {
    return housekeepingDueAt(this.gitDir, config);
  }

  /** git's automatic housekeeping, when due: gc packs in the background (gc.autoDetach) and returns. */
  async housekeeping(config: Map<string, string>): Promise<boolean> {
    if (!this.housekeepingDue(config)) return false;
    await this.backend.housekeeping();
    dropKeptObjectReaders(); // a kept session would hold the packs a repack removed
    return true;
  }

}

export { gitInt };

/** One commit of a log with changes: the format fields asked for, in order, and its changes. */
export type LoggedCommit = Git.LoggedCommitEntry;

export { parseLogRaw, parseRawDiff } from './cli.js';
export { GitError };
