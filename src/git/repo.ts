/**
 * A Git work tree as agentgit sees it: the plumbing calls the sync round
 * needs, each one process at most, none per file.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { capabilitiesFromFiles, detectCapabilities, emptyTreeOf, zeroOidOf, type Capabilities } from './backend.js';
import { readConfigFiles } from './config.js';
import { buildTreeInProcess, diffTreesInProcess, TreeConflict, type RawChange } from './tree.js';
import { GitError, gitText, runGit, type RunOptions } from './exec.js';
import { blobOid, commitPayload, ObjectReader, parseCommitHeader, plainIdent, withSignature, writeObject, type Ident } from './objects.js';

/** A commit as history walks see it. */
export interface CommitInfo {
  oid: string;
  parents: string[];
  /** The author's name (git's %an). */
  author: string;
}

/** One change of `git diff-tree -r` (A added, D deleted, M modified, T type changed). */
export type TreeChange = RawChange;

export interface StatusEntry {
  path: string;
  /** Two-letter porcelain v1 code, e.g. ' M', '??', 'D '. */
  xy: string;
}

export interface IndexEntry {
  path: string;
  mode: string;
  /** The zero id (Repo.zeroOid) with mode '0' removes the path. */
  oid: string;
}

export class Repo {
  readonly objects: ObjectReader;
  private constructor(
    readonly root: string,
    readonly gitDir: string,
    /** What this repository and git can do, and whether the in-process fast paths are on (git/backend.ts). */
    readonly caps: Capabilities,
  ) {
    this.objects = new ObjectReader(root, gitDir);
  }

  /** A bare repository's refs read from its files (the watcher's poll of a hub on disk); no process. */
  static bareAt(gitDir: string): Repo {
    return new Repo(gitDir, gitDir, capabilitiesFromFiles(gitDir).caps);
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
    try {
      const out = await gitText(['rev-parse', '--show-toplevel', '--absolute-git-dir'], { cwd: dir });
      const [top, gd] = out.split('\n');
      if (!top || !gd) return null;
      return new Repo(top, gd, await detectCapabilities(gd, top));
    } catch {
      return null;
    }
  }

  /** Open `dir` only if it is itself the top of a work tree. */
  static async openAt(dir: string): Promise<Repo | null> {
    // the common layout (dir/.git is a directory) needs no process
    const dotGit = join(resolve(dir), '.git');
    try {
      if (statSync(dotGit).isDirectory() && statSync(join(dotGit, 'HEAD')).isFile()) {
        const root = realpathSync(resolve(dir));
        const gitDir = realpathSync(dotGit);
        return new Repo(root, gitDir, await detectCapabilities(gitDir, root));
      }
    } catch {
      /* not there, or a .git file (worktree, submodule): ask git */
    }
    const r = await Repo.open(dir);
    if (!r) return null;
    if (realpathSync(r.root) !== realpathSync(resolve(dir))) return null;
    return r;
  }

  close(): void {
    this.objects.close();
  }

  /** Path under .git/agentgit/ (per-clone state, never synced). */
  stateFile(name: string): string {
    return join(this.gitDir, 'agentgit', name);
  }

  run(args: string[], opts: Partial<RunOptions> = {}) {
    return runGit(args, { cwd: this.root, ...opts });
  }

  text(args: string[], opts: Partial<RunOptions> = {}) {
    return gitText(args, { cwd: this.root, ...opts });
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
    const r = await this.run(['rev-parse', '-q', '--verify', `${rev}^{commit}`], { okCodes: [1, 128] });
    const s = r.stdout.toString('utf8').trim();
    if (r.code === 0 && s === rev) this.knowCommit(s);
    return r.code === 0 && s ? s : null;
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
    const r = await this.run(['config', '--get', key], { okCodes: [1] });
    return r.code === 0 ? r.stdout.toString('utf8').replace(/\n$/, '') : null;
  }

  /** All local config values in one process: key (lowercase) -> last value. */
  async configAll(): Promise<Map<string, string>> {
    const fromFiles = readConfigFiles(this.gitDir);
    if (fromFiles) return fromFiles;
    const r = await this.run(['config', '--list', '-z'], { okCodes: [1] });
    const m = new Map<string, string>();
    for (const item of r.stdout.toString('utf8').split('\0')) {
      if (!item) continue;
      const nl = item.indexOf('\n');
      m.set(nl < 0 ? item : item.slice(0, nl), nl < 0 ? 'true' : item.slice(nl + 1));
    }
    return m;
  }

  async setConfig(key: string, value: string): Promise<void> {
    await this.run(['config', key, value]);
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
    const r = await this.run(['for-each-ref', '--format=%(objectname) %(refname)', ...names]);
    const m = new Map<string, string>();
    for (const l of r.stdout.toString('utf8').split('\n')) {
      const i = l.indexOf(' ');
      if (i > 0) m.set(l.slice(i + 1), l.slice(0, i));
    }
    return m;
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
    const r = await this.run(['symbolic-ref', '-q', '--short', 'HEAD'], { okCodes: [1] });
    const s = r.stdout.toString('utf8').trim();
    return s || null;
  }

  /** Changed and untracked files (respects .gitignore), no rename detection. */
  async status(): Promise<StatusEntry[]> {
    const r = await this.run(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames', '--ignore-submodules=none']);
    const out: StatusEntry[] = [];
    for (const item of r.stdout.toString('utf8').split('\0')) {
      if (item.length < 4) continue;
      out.push({ xy: item.slice(0, 2), path: item.slice(3) });
    }
    return out;
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
   * `git log --raw` (no renames, full ids) with these format fields of each
   * commit (`%H`, `%an`, ...) and `args` (revisions, options): the one
   * reader of logs with their changes (cli/log.ts, cli/verify.ts).
   */
  async logWithChanges(fields: string[], args: string[]): Promise<LoggedCommit[]> {
    const r = await this.run(['log', '-z', '--raw', '--no-renames', '--no-abbrev', `--format=%x01${fields.join('%x00')}`, ...args]);
    return parseLogRaw(r.stdout, fields.length);
  }

  async diffTreeWithGit(a: string, b: string): Promise<TreeChange[]> {
    const r = await this.run(['diff-tree', '-r', '-z', '--no-renames', '--no-commit-id', a, b]);
    return parseRawDiff(r.stdout);
  }

  /** The tree of a commit, or the id itself when it names a tree (or anything else: the reader then fails and git answers). */
  private async treeOfAny(rev: string): Promise<string> {
    return (await this.treeOf(rev)) ?? rev;
  }

  async mergeBases(a: string, b: string): Promise<string[]> {
    const r = await this.run(['merge-base', '--all', a, b], { okCodes: [1] });
    return r.stdout.toString('utf8').split('\n').filter(Boolean);
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

  /** The same, through a private index: read-tree, update-index, write-tree. */
  async buildTreeWithGit(from: string | null, changes: IndexEntry[]): Promise<string> {
    const env = { GIT_INDEX_FILE: this.stateFile(`index.${process.pid}.tmp`) };
    try {
      if (from) await this.run(['read-tree', from], { env });
      else await this.run(['read-tree', '--empty'], { env });
      if (changes.length > 0) {
        const input = changes.map((c) => `${c.mode} ${c.oid}\t${c.path}\0`).join('');
        await this.run(['update-index', '-z', '--index-info'], { env, input });
      }
      return await this.text(['write-tree'], { env });
    } finally {
      await rm(env.GIT_INDEX_FILE, { force: true });
    }
  }

  /** Who writes commit objects in-process (useCommitIdentity), when the fast paths allow it. */
  private commitWriter: { ident: Ident; sign: ((payload: string) => string | null) | null } | null = null;

  /**
   * The identity (and signer) commits are written with, from this clone's
   * config: commit objects are then built, signed and written in-process
   * (no `git commit-tree`, no `ssh-keygen -Y sign`), but only when the
   * fast paths are on (git/backend.ts) and git would write exactly these
   * fields: a plain name and email, no GIT_AUTHOR_* / GIT_COMMITTER_* in
   * the environment. `sign` returns an armored SSH signature of a
   * payload, or null to let git do it. Returns whether it is used.
   */
  useCommitIdentity(ident: Ident, sign: ((payload: string) => string | null) | null): boolean {
    const env = process.env;
    if (!this.caps.fastPaths || !plainIdent(ident) || env.GIT_AUTHOR_NAME || env.GIT_COMMITTER_NAME || env.GIT_AUTHOR_DATE || env.GIT_COMMITTER_DATE) return false;
    this.commitWriter = { ident, sign };
    return true;
  }

  /** Whether commitTree builds the commit in-process (signed ones: when a signer was given). */
  commitsInProcess(sign: boolean): boolean {
    return this.commitWriter !== null && (!sign || this.commitWriter.sign !== null);
  }

  async commitTree(tree: string, parents: string[], message: string, opts: { sign: boolean; env?: Record<string, string> }): Promise<string> {
    const ip = this.commitWriter;
    if (ip && !opts.env && (!opts.sign || ip.sign)) {
      const payload = commitPayload({ tree, parents, author: ip.ident, committer: ip.ident, when: Date.now(), message });
      const sig = opts.sign && ip.sign ? ip.sign(payload) : null;
      if (!opts.sign || sig) {
        const oid = await writeObject(this.gitDir, 'commit', Buffer.from(sig ? withSignature(payload, sig) : payload, 'utf8'));
        this.knowCommit(oid);
        return oid;
      }
    }
    const args = ['commit-tree', tree];
    for (const p of parents) args.push('-p', p);
    if (opts.sign) args.push('-S');
    args.push('-F', '-');
    const run: Partial<RunOptions> = { input: message };
    if (opts.env) run.env = opts.env;
    return this.text(args, run);
  }

  /** Move a ref from `old` to `next` atomically; fails if it moved meanwhile. */
  async updateRef(ref: string, next: string, old: string | null, reason: string): Promise<void> {
    await this.run(['update-ref', '-m', reason, ref, next, old ?? this.zeroOid]);
  }

  /** Store a blob; returns its id (in-process with the fast paths, else `git hash-object -w`). */
  async writeBlob(bytes: Uint8Array): Promise<string> {
    if (this.caps.fastPaths) return writeObject(this.gitDir, 'blob', bytes);
    return this.text(['hash-object', '-w', '-t', 'blob', '--no-filters', '--stdin'], { input: bytes });
  }

  /** A blob's id without storing it. */
  async hashBlob(bytes: Uint8Array): Promise<string> {
    if (this.caps.fastPaths) return blobOid(bytes);
    return this.text(['hash-object', '-t', 'blob', '--no-filters', '--stdin'], { input: bytes });
  }

  /** Store the empty tree (git knows its id unstored, `git fsck` wants it stored when a commit names it); returns its id. */
  async writeEmptyTree(): Promise<string> {
    if (this.caps.fastPaths) return writeObject(this.gitDir, 'tree', Buffer.alloc(0));
    return this.text(['hash-object', '-w', '-t', 'tree', '--stdin'], { input: '' });
  }

  /** Set index entries for paths (stat info is refreshed by refreshIndex). */
  async updateIndex(entries: IndexEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const input = entries.map((c) => `${c.mode} ${c.oid}\t${c.path}\0`).join('');
    await this.run(['update-index', '-z', '--index-info'], { input });
  }

  async refreshIndex(): Promise<void> {
    await this.run(['update-index', '-q', '--refresh', '--ignore-submodules'], { okCodes: [1] });
  }

  /** Ahead/behind counts of `a` relative to `b`. */
  async aheadBehind(a: string, b: string): Promise<{ ahead: number; behind: number }> {
    const out = await this.text(['rev-list', '--left-right', '--count', `${a}...${b}`]);
    const [ahead, behind] = out.split(/\s+/).map(Number);
    return { ahead: ahead ?? 0, behind: behind ?? 0 };
  }

  /** Tree of a commit, read through the cat-file session (no new process). */
  async treeOf(commit: string): Promise<string | null> {
    const c = await this.objects.read(commit);
    const m = c ? /^tree ([0-9a-f]{40,64})\n/.exec(c.subarray(0, 70).toString('latin1')) : null;
    return m ? m[1]! : null;
  }

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
  async commitsSince(tip: string, stops: ReadonlySet<string>, limit = 256): Promise<{ commits: CommitInfo[]; reached: Set<string> } | null> {
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
   * Whether git's automatic housekeeping is due, by git's own test: more
   * than gc.auto/256 loose objects in objects/17 (gc.auto: 6700), or more
   * than gc.autoPackLimit packs (50). `git commit` ran `git maintenance run
   * --auto` after every commit; agentgit writes its objects in-process and
   * asks git only when this says so (`housekeeping`).
   */
  housekeepingDue(config: Map<string, string>): boolean {
    if ((config.get('maintenance.auto') ?? 'true') === 'false') return false;
    const auto = gitInt(config.get('gc.auto'), 6700);
    const packLimit = gitInt(config.get('gc.autopacklimit'), 50);
    const objects = join(this.gitDir, 'objects');
    if (auto > 0) {
      const threshold = Math.ceil(auto / 256);
      let loose = 0;
      try {
        for (const f of readdirSync(join(objects, '17'))) if (/^[0-9a-f]{38}$|^[0-9a-f]{62}$/.test(f) && ++loose > threshold) return true;
      } catch {
        /* no objects/17: none loose there */
      }
    }
    if (auto > 0 && packLimit > 0) {
      try {
        const packs = readdirSync(join(objects, 'pack'));
        const kept = new Set(packs.filter((f) => f.endsWith('.keep')).map((f) => f.slice(0, -5)));
        if (packs.filter((f) => f.endsWith('.pack') && !kept.has(f.slice(0, -5))).length > packLimit) return true;
      } catch {
        /* no packs */
      }
    }
    return false;
  }

  /** git's automatic housekeeping, when due: gc packs in the background (gc.autoDetach) and returns. */
  async housekeeping(config: Map<string, string>): Promise<boolean> {
    if (!this.housekeepingDue(config)) return false;
    await this.run(['maintenance', 'run', '--auto', '--quiet']);
    return true;
  }

}

/** A git config integer (`10k`, `1m`, `2g` allowed); `fallback` when absent or not a number. */
export function gitInt(value: string | undefined, fallback: number): number {
  const m = value === undefined ? null : /^\s*(-?\d+)\s*([kmg]?)\s*$/i.exec(value);
  if (!m) return fallback;
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
}

/**
 * The raw changes (`:oldmode newmode oldoid newoid status`, then the path)
 * at `tokens[i]` on, NUL-split output of `git diff-tree -r -z` or `git log
 * --raw -z`; stops at the first token that is no change (the next commit
 * of a log). One parser for both: a meta line may start with the newline
 * git puts between a commit's header and its changes, never with a CR.
 */
function rawChanges(tokens: string[], i: number, out: TreeChange[]): number {
  while (i + 1 < tokens.length) {
    const meta = tokens[i]!.startsWith('\n:') ? tokens[i]!.slice(1) : tokens[i]!;
    if (!meta.startsWith(':')) break;
    const [oldMode, newMode, oldOid, newOid, status] = meta.slice(1).split(' ');
    out.push({ path: tokens[i + 1]!, status: (status?.[0] ?? 'M') as TreeChange['status'], oldMode: oldMode!, newMode: newMode!, oldOid: oldOid!, newOid: newOid! });
    i += 2;
  }
  return i;
}

/** Parse `git diff-tree -r -z` raw output. */
export function parseRawDiff(buf: Buffer): TreeChange[] {
  const out: TreeChange[] = [];
  rawChanges(buf.toString('utf8').split('\0'), 0, out);
  return out;
}

/** One commit of `git log --raw`: the format fields asked for, in order, and its changes. */
export interface LoggedCommit {
  fields: string[];
  changes: TreeChange[];
}

/**
 * Parse `git log -z --raw --format=%x01F1%x00F2...` output (`count` fields
 * a commit). Read by position, not by splitting on %x01: a subject or name
 * holding that byte cannot shift a commit's fields or changes.
 */
export function parseLogRaw(buf: Buffer, count: number): LoggedCommit[] {
  const tokens = buf.toString('utf8').split('\0');
  const out: LoggedCommit[] = [];
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (!t.startsWith('\x01')) {
      i++; // the empty token after the last commit
      continue;
    }
    const fields = [t.slice(1), ...tokens.slice(i + 1, i + count)];
    const changes: TreeChange[] = [];
    i = rawChanges(tokens, i + count, changes);
    out.push({ fields, changes });
  }
  return out;
}

export { GitError };
