/**
 * GitCli: the GitBackend (git/backend.ts) of the git binary. Every git
 * argv agentgit builds is here (and the `cat-file --batch` session in
 * git/objects.ts, which it holds); git/exec.ts spawns them. Repo
 * (git/repo.ts) calls these methods where no in-process fast path
 * answers; nothing outside src/git/ calls git.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  capabilitiesFromFiles,
  choose,
  type Capabilities,
  type CheckoutMode,
  type FetchResult,
  type GitBackend,
  type GitEngine,
  type GitObjectType,
  type IndexChange,
  type LoggedCommitEntry,
  type LogQuery,
  type PushedRef,
  type PushRequest,
  type PushResult,
  type RemoteRefs,
  type Revisions,
  type SignatureStatus,
  type StatusItem,
  type TreeChangeEntry,
  type WalkedCommit,
  type WalkOrder,
} from './backend.js';
import { gitText, runGit, traceInProcess, type RunOptions, type RunResult } from './exec.js';
import { pushToHubInProcess, type HubPushDone } from './hub-push.js';
import { flushAllObjects, objectReaderFor, type ObjectReader, type Ident } from './objects.js';
import { moveRefInProcess } from './ref-move.js';
import { readRef as readLooseOrPacked } from './iso/refs.js';

export class GitCli implements GitBackend {
  private readonly reader: ObjectReader;

  constructor(
    readonly root: string,
    readonly gitDir: string,
    readonly caps: Capabilities,
  ) {
    this.reader = objectReaderFor(root, gitDir);
  }

  private run(args: string[], opts: Partial<RunOptions> = {}): Promise<RunResult> {
    return runGit(args, { cwd: this.root, ...opts });
  }

  private text(args: string[], opts: Partial<RunOptions> = {}): Promise<string> {
    return gitText(args, { cwd: this.root, ...opts });
  }

  private zero(): string {
    return '0'.repeat(this.caps.objectFormat === 'sha256' ? 64 : 40);
  }

  // --- objects ----------------------------------------------------------------

  readObject(spec: string): Promise<Buffer | null> {
    return this.reader.read(spec);
  }

  async objectInfo(oids: string[], opts: { timeoutMs?: number } = {}): Promise<Map<string, { type: GitObjectType; size: number }>> {
    const out = await this.run(['cat-file', '--batch-check=%(objectname) %(objecttype) %(objectsize)'], { input: oids.join('\n') + '\n', timeoutMs: opts.timeoutMs });
    const info = new Map<string, { type: GitObjectType; size: number }>();
    for (const l of out.stdout.toString('latin1').split('\n')) {
      const [oid, type, size] = l.split(' ');
      if (oid && type && size) info.set(oid, { type: type as GitObjectType, size: Number(size) });
    }
    return info;
  }

  async allObjects(): Promise<Array<{ oid: string; type: GitObjectType }>> {
    const objs = (await this.run(['cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)'])).stdout.toString('utf8');
    const out: Array<{ oid: string; type: GitObjectType }> = [];
    for (const l of objs.split('\n')) {
      const [oid, type] = l.split(' ');
      if (oid && type) out.push({ oid, type: type as GitObjectType });
    }
    return out;
  }

  writeObject(type: 'blob' | 'tree', bytes: Uint8Array): Promise<string> {
    if (type === 'tree') return this.text(['hash-object', '-w', '-t', 'tree', '--stdin'], { input: bytes });
    return this.text(['hash-object', '-w', '-t', 'blob', '--no-filters', '--stdin'], { input: bytes });
  }

  hashObject(type: 'blob', bytes: Uint8Array): Promise<string> {
    return this.text(['hash-object', '-t', type, '--no-filters', '--stdin'], { input: bytes });
  }

  async countObjects(): Promise<Record<string, number>> {
    const out = await this.text(['count-objects', '-v']);
    const m: Record<string, number> = {};
    for (const l of out.split('\n')) {
      const x = /^([a-z-]+): (\d+)$/.exec(l);
      if (x) m[x[1]!] = Number(x[2]);
    }
    return m;
  }

  close(): void {
    this.reader.close();
  }

  // --- refs -----------------------------------------------------------------

  async resolveCommit(rev: string): Promise<string | null> {
    const r = await this.run(['rev-parse', '-q', '--verify', `${rev}^{commit}`], { okCodes: [1, 128] });
    const s = r.stdout.toString('utf8').trim();
    return r.code === 0 && s ? s : null;
  }

  resolveTree(rev: string): Promise<string> {
    return this.text(['rev-parse', `${rev}^{tree}`]);
  }

  async listRefs(patterns: string[]): Promise<Map<string, string>> {
    const r = await this.run(['for-each-ref', '--format=%(objectname) %(refname)', ...patterns]);
    const m = new Map<string, string>();
    for (const l of r.stdout.toString('utf8').split('\n')) {
      const i = l.indexOf(' ');
      if (i > 0) m.set(l.slice(i + 1), l.slice(0, i));
    }
    return m;
  }

  /** The committer git would write (user.name, user.email), when known: refs then move in-process with their reflog (git/ref-move.ts). */
  private ident: Ident | null = null;

  useIdentity(ident: Ident): void {
    this.ident = ident;
  }

  async updateRef(ref: string, next: string, expected?: string | null, reason?: string): Promise<void> {
    if (this.ident && reason !== undefined && this.caps.fastPaths) {
      // a ref names its objects to every git that reads it: they are on disk first, as before a git process starts (git/objects.ts)
      flushAllObjects();
      if (moveRefInProcess({ gitDir: this.gitDir, ref, next, expected, reason, ident: this.ident, when: Date.now() })) return;
    }
    const args = ['update-ref', ...(reason !== undefined ? ['-m', reason] : []), ref, next];
    if (expected !== undefined) args.push(expected ?? this.zero());
    await this.run(args);
  }

  async deleteRef(ref: string, expected?: string): Promise<boolean> {
    const r = await this.run(['update-ref', '-d', ref, ...(expected !== undefined ? [expected] : [])], { okCodes: [1] });
    return r.code === 0;
  }

  async headBranch(): Promise<string | null> {
    const r = await this.run(['symbolic-ref', '-q', '--short', 'HEAD'], { okCodes: [1] });
    const s = r.stdout.toString('utf8').trim();
    return s || null;
  }

  async setHeadBranch(branch: string): Promise<void> {
    await this.run(['symbolic-ref', 'HEAD', `refs/heads/${branch}`]);
  }

  async trackBranch(branch: string, remote: string): Promise<void> {
    await this.run(['branch', '-f', '--track', branch, `${remote}/${branch}`]);
  }

  // --- config ---------------------------------------------------------------

  async getConfig(key: string): Promise<string | null> {
    const r = await this.run(['config', '--get', key], { okCodes: [1] });
    return r.code === 0 ? r.stdout.toString('utf8').replace(/\n$/, '') : null;
  }

  async listConfig(): Promise<Map<string, string>> {
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

  async unsetConfig(key: string): Promise<void> {
    await this.run(['config', '--unset', key], { okCodes: [5] });
  }

  remoteUrl(name: string): Promise<string | null> {
    return this.getConfig(`remote.${name}.url`);
  }

  async setRemoteUrl(name: string, url: string): Promise<void> {
    const cur = await this.remoteUrl(name);
    if (cur === null) await this.run(['remote', 'add', name, url]);
    else if (cur !== url) await this.run(['remote', 'set-url', name, url]);
  }

  // --- work tree and index ----------------------------------------------------

  async status(opts: { paths?: string[]; timeoutMs?: number } = {}): Promise<StatusItem[]> {
    const args = opts.paths
      ? ['status', '--porcelain', '-z', '--untracked-files=all', '--ignore-submodules', '--', ...opts.paths.map((p) => `:(literal)${p}`)]
      : ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames', '--ignore-submodules=none'];
    const r = await this.run(args, opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
    const out: StatusItem[] = [];
    for (const item of r.stdout.toString('utf8').split('\0')) {
      if (item.length < 4) continue;
      out.push({ xy: item.slice(0, 2), path: item.slice(3) });
    }
    return out;
  }

  async stagedChanges(): Promise<Array<{ status: string; path: string }>> {
    const out = await this.run(['diff', '--cached', '--name-status', '-z', '--no-renames']);
    const parts = out.stdout.toString('utf8').split('\0');
    const changes: Array<{ status: string; path: string }> = [];
    for (let i = 0; i + 1 < parts.length; i += 2) changes.push({ status: parts[i]!, path: parts[i + 1]! });
    return changes;
  }

  async indexMatchesHead(): Promise<boolean> {
    return (await this.run(['diff-index', '--cached', '--quiet', 'HEAD', '--'], { okCodes: [1] })).code === 0;
  }

  async changedSince(rev: string): Promise<string[]> {
    const d = await this.run(['diff', '--name-only', '-z', '--no-renames', rev]);
    return d.stdout.toString('utf8').split('\0').filter(Boolean);
  }

  async updateIndex(entries: IndexChange[]): Promise<void> {
    if (entries.length === 0) return;
    await this.run(['update-index', '-z', '--index-info'], { input: indexInfo(entries) });
  }

  async refreshIndex(): Promise<void> {
    await this.run(['update-index', '-q', '--refresh', '--ignore-submodules'], { okCodes: [1] });
  }

  async addToIndex(paths: string[]): Promise<void> {
    await this.run(['add', '--', ...paths]);
  }

  async unstage(paths: string[], headBorn: boolean): Promise<void> {
    const args = headBorn ? ['reset', '-q', 'HEAD'] : ['rm', '--cached', '-q', '--ignore-unmatch'];
    await this.run([...args, '--pathspec-from-file=-', '--pathspec-file-nul'], { input: paths.join('\0') + '\0', env: { GIT_LITERAL_PATHSPECS: '1' } });
  }

  async commitIndex(o: { message: string; sign: boolean; paths?: string[]; only?: boolean; author?: string }): Promise<void> {
    if (o.paths) {
      const args = ['commit', '-q', ...(o.sign ? ['-S'] : []), '--no-verify', ...(o.only ? ['--only'] : []), '-F', '-', '--', ...o.paths];
      await this.run(args, { input: o.message, ...(o.author !== undefined ? { env: { GIT_AUTHOR_NAME: o.author, GIT_COMMITTER_NAME: o.author } } : {}) });
      return;
    }
    const args = ['commit', '-q', '--no-verify', '--allow-empty-message', '-F', '-'];
    if (o.sign) args.push('-S');
    await this.run(args, { input: o.message });
  }

  async checkout(commit: string, mode: CheckoutMode): Promise<void> {
    await this.run(['reset', '-q', mode === 'keep' ? '--keep' : '--hard', commit]);
  }

  async checkoutWithProgress(commit: string, progress: (done: number, total: number) => void): Promise<void> {
    await this.run(['read-tree', commit]);
    const paths = (await this.run(['ls-files', '-z'])).stdout.toString('utf8').split('\0').filter((p) => p !== '');
    const STEP = 1000;
    for (let i = 0; i < paths.length; i += STEP) {
      progress(i, paths.length);
      const chunk = paths.slice(i, i + STEP);
      await this.run(['checkout-index', '-f', '-u', '-z', '--stdin'], { input: chunk.join('\0') + '\0', env: { GIT_LITERAL_PATHSPECS: '1' } });
    }
    progress(paths.length, paths.length);
    await this.checkout(commit, 'hard');
  }

  async listFiles(rev: string): Promise<string[]> {
    const ls = await this.run(['ls-tree', '-r', '-z', '--name-only', rev]);
    return ls.stdout.toString('utf8').split('\0').filter(Boolean);
  }

  async checkAttr(attr: string, paths: string[]): Promise<Map<string, string>> {
    const out = await this.text(['check-attr', attr, '--', ...paths]);
    const m = new Map<string, string>();
    for (const p of paths) {
      const line = out.split('\n').find((l) => l.startsWith(`${p}: ${attr}: `));
      if (line) m.set(p, line.slice(`${p}: ${attr}: `.length));
    }
    return m;
  }

  // --- trees and commits ---------------------------------------------------------

  async diffTrees(a: string, b: string): Promise<TreeChangeEntry[]> {
    const r = await this.run(['diff-tree', '-r', '-z', '--no-renames', '--no-commit-id', a, b]);
    return parseRawDiff(r.stdout);
  }

  /** Through a private index: read-tree, update-index, write-tree. */
  async buildTree(from: string | null, changes: IndexChange[]): Promise<string> {
    const env = { GIT_INDEX_FILE: join(this.gitDir, 'agentgit', `index.${process.pid}.tmp`) };
    try {
      if (from) await this.run(['read-tree', from], { env });
      else await this.run(['read-tree', '--empty'], { env });
      if (changes.length > 0) await this.run(['update-index', '-z', '--index-info'], { env, input: indexInfo(changes) });
      return await this.text(['write-tree'], { env });
    } finally {
      await rm(env.GIT_INDEX_FILE, { force: true });
    }
  }

  commitTree(tree: string, parents: string[], message: string, opts: { sign: boolean; env?: Record<string, string> }): Promise<string> {
    const args = ['commit-tree', tree];
    for (const p of parents) args.push('-p', p);
    if (opts.sign) args.push('-S');
    args.push('-F', '-');
    const run: Partial<RunOptions> = { input: message };
    if (opts.env) run.env = opts.env;
    return this.text(args, run);
  }

  // --- history ----------------------------------------------------------------

  async mergeBases(a: string, b: string): Promise<string[]> {
    const r = await this.run(['merge-base', '--all', a, b], { okCodes: [1] });
    return r.stdout.toString('utf8').split('\n').filter(Boolean);
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return (await this.run(['merge-base', '--is-ancestor', ancestor, descendant], { okCodes: [1] })).code === 0;
  }

  async walk(revs: Revisions, order: WalkOrder = {}): Promise<WalkedCommit[]> {
    const args = ['rev-list'];
    if (order.noWalk) args.push('--no-walk');
    if (order.reverse) args.push('--reverse');
    if (order.topo) args.push('--topo-order');
    if (order.rootsOnly) args.push('--max-parents=0');
    if (order.firstParent) args.push('--first-parent');
    // rev-list prints `commit OID` before each formatted line; the line itself starts with the oid
    args.push('--format=%H%x00%P%x00%an', ...revisionArgs(revs));
    const out = (await this.run(args, order.timeoutMs !== undefined ? { timeoutMs: order.timeoutMs } : {})).stdout.toString('utf8');
    const commits: WalkedCommit[] = [];
    for (const l of out.split('\n')) {
      if (!l || l.startsWith('commit ')) continue;
      const [oid, parents, author] = l.split('\0');
      commits.push({ oid: oid!, parents: parents ? parents.split(' ') : [], author: author ?? '' });
    }
    return commits;
  }

  async countCommits(revs: Revisions): Promise<number> {
    return Number(await this.text(['rev-list', '--count', ...revisionArgs(revs)]));
  }

  async aheadBehind(a: string, b: string): Promise<{ ahead: number; behind: number }> {
    const out = await this.text(['rev-list', '--left-right', '--count', `${a}...${b}`]);
    const [ahead, behind] = out.split(/\s+/).map(Number);
    return { ahead: ahead ?? 0, behind: behind ?? 0 };
  }

  async logWithChanges(q: LogQuery): Promise<LoggedCommitEntry[]> {
    const args = ['log', '-z', '--raw', '--no-renames', '--no-abbrev', `--format=%x01${q.fields.join('%x00')}`];
    if (q.firstParent) args.push('--first-parent', '-m');
    if (q.maxCount !== undefined) args.push(`--max-count=${q.maxCount}`);
    if (q.since) args.push(`--since=${q.since}`);
    if (q.author) args.push(`--author=${q.author}`);
    if (q.noMerges) args.push('--no-merges');
    const r = await this.run([...args, ...revisionArgs(q)]);
    return parseLogRaw(r.stdout, q.fields.length);
  }

  async lastCommitTouching(path: string): Promise<{ oid: string; author: string } | null> {
    const r = await this.run(['log', '-1', '--format=%H%x09%an', '--', path], { okCodes: [128] });
    const line = r.stdout.toString('utf8').trim();
    if (!line) return null;
    const [oid, author] = line.split('\t') as [string, string];
    return { oid, author };
  }

  async lastAuthorMatching(regex: string): Promise<string | null> {
    const r = await this.run(['log', '-1', '--format=%an', `--grep=${regex}`], { okCodes: [128] });
    return r.stdout.toString('utf8').trim() || null;
  }

  async pathChangeLines(rev: string, path: string): Promise<string[]> {
    const log = await this.run(['log', '-p', '--format=', '--no-renames', rev, '--', path]);
    return log.stdout
      .toString('utf8')
      .split('\n')
      .filter((l) => /^[+-][^+-]/.test(l));
  }

  async signatureStatus(oids: string[], allowedSigners: string, opts: { lenient?: boolean } = {}): Promise<Map<string, SignatureStatus>> {
    const status = new Map<string, SignatureStatus>();
    const dir = await mkdtemp(join(tmpdir(), 'agentgit-verify-'));
    try {
      const file = join(dir, 'allowed');
      await writeFile(file, allowedSigners);
      const config = `gpg.ssh.allowedSignersFile=${file}`;
      if (opts.lenient) {
        for (const oid of oids) {
          const out = await this.run(['-c', config, 'log', '--no-walk', '--format=%G?%x00%GK', oid], { okCodes: [0, 128] });
          const [g, fp] = out.stdout.toString('utf8').trim().split('\0');
          status.set(oid, { g: g || 'N', fp: fp ?? '' });
        }
        return status;
      }
      const out = await this.run(['-c', config, 'log', '--no-walk=unsorted', '--format=%H%x00%G?%x00%GK', '--stdin'], { input: oids.join('\n') + '\n' });
      for (const l of out.stdout.toString('utf8').split('\n')) {
        const [oid, gs, fp] = l.split('\0');
        if (oid) status.set(oid, { g: gs ?? 'N', fp: fp ?? '' });
      }
      return status;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  // --- remotes ----------------------------------------------------------------

  async fetch(remote: string, refspecs: string[], opts: { timeoutMs?: number; prune?: boolean; signal?: AbortSignal } = {}): Promise<FetchResult> {
    const args = ['fetch', '--no-tags', '--no-write-fetch-head', '--no-auto-gc', '--no-recurse-submodules', ...(opts.prune ? ['--prune'] : []), remote, ...refspecs];
    // a fetch reads refs only (their objects are on disk): it may run while the local commit batches objects
    const r = await this.run(args, { timeoutMs: opts.timeoutMs, okCodes: [1, 128], noFlush: true, ...(opts.signal ? { signal: opts.signal } : {}) });
    return { ok: r.code === 0, code: r.code, missingRemoteRef: r.code !== 0 && /couldn't find remote ref/i.test(r.stderr), stderr: r.stderr };
  }

  async push(req: PushRequest): Promise<PushResult> {
    if (this.caps.fastPaths && !req.atomic && !req.leases?.length) {
      const t = Date.now();
      const done = await pushToHubInProcess(this.gitDir, req.remote, req.refspecs, (oid) => this.reader.read(oid));
      if (done) {
        traceInProcess(`push ${req.remote} ${req.refspecs.join(' ')}`, t);
        return this.afterHubPush(done, req);
      }
    }
    const args = req.quiet
      ? ['push', '--quiet', req.remote, ...req.refspecs]
      : ['push', '--porcelain', ...(req.atomic ? ['--atomic'] : []), '--no-verify', ...(req.leases ?? []).map((l) => `--force-with-lease=${l.ref}:${l.expected}`), req.remote, ...req.refspecs];
    const r = await this.run(args, { timeoutMs: req.timeoutMs, okCodes: [1, 128] });
    const stdout = r.stdout.toString('utf8');
    const refs: PushedRef[] = [];
    for (const l of stdout.split('\n')) {
      const m = /^([ +\-*=!])\t([^:\t]*):([^\t]+)\t(.*)$/.exec(l);
      if (m) refs.push({ flag: m[1] as PushedRef['flag'], from: m[2]!, to: m[3]!, summary: m[4]! });
    }
    return { ok: r.code === 0, code: r.code, refs, stdout, stderr: r.stderr };
  }

  /** What `git push` does after the hub took a push made in-process (git/hub-push.ts): its housekeeping, the tracking refs, its report. */
  private async afterHubPush(done: HubPushDone, req: PushRequest): Promise<PushResult> {
    if (done.housekeeping) await runGit(['maintenance', 'run', '--auto', '--quiet'], { cwd: done.hub, timeoutMs: req.timeoutMs, okCodes: [1, 128] });
    for (const [ref, oid] of done.tracking) {
      // as git's push: a tracking ref already there is left alone (no reflog line); one it cannot move does not undo the push
      if (trackingAt(this.gitDir, ref) === oid) continue;
      await this.updateRef(ref, oid, undefined, 'update by push').catch(() => undefined);
    }
    const ok = done.refs.every((r) => r.flag !== '!');
    const stderr = ok ? '' : `error: failed to push some refs to '${done.url}'\n`;
    if (req.quiet) return { ok, code: ok ? 0 : 1, refs: [], stdout: '', stderr };
    const stdout = `To ${done.url}\n${done.refs.map((r) => `${r.flag}\t${r.from}:${r.to}\t${r.summary}`).join('\n')}\nDone\n`;
    return { ok, code: ok ? 0 : 1, refs: done.refs, stdout, stderr };
  }

  async lsRemote(remote: string, patterns: string[] | 'heads', opts: { timeoutMs?: number } = {}): Promise<RemoteRefs> {
    const args = patterns === 'heads' ? ['ls-remote', '--heads', remote] : ['ls-remote', remote, ...patterns];
    const r = await this.run(args, { timeoutMs: opts.timeoutMs, okCodes: [2, 128] });
    const refs = new Map<string, string>();
    for (const l of r.stdout.toString('utf8').split('\n')) {
      const tab = l.indexOf('\t');
      if (tab > 0) refs.set(l.slice(tab + 1), l.slice(0, tab));
    }
    return { ok: r.code === 0, code: r.code, refs, stderr: r.stderr };
  }

  async bundleCreate(file: string, refs: string[]): Promise<void> {
    await this.run(['bundle', 'create', '--quiet', file, ...refs]);
  }

  // --- housekeeping -------------------------------------------------------------

  async housekeeping(): Promise<void> {
    await this.run(['maintenance', 'run', '--auto', '--quiet']);
  }
}

/** A local ref's value from its files; null when it cannot be read so (git is then asked to move it). */
function trackingAt(gitDir: string, ref: string): string | null {
  try {
    return readLooseOrPacked(gitDir, ref);
  } catch {
    return null;
  }
}

/** `update-index --index-info -z` input. */
function indexInfo(entries: IndexChange[]): string {
  return entries.map((c) => `${c.mode} ${c.oid}\t${c.path}\0`).join('');
}

/** git's revision arguments of a walk. */
function revisionArgs(r: Revisions): string[] {
  const args: string[] = [];
  if (r.fullHistory) args.push('--full-history');
  if (r.glob) args.push(`--glob=${r.glob}`);
  args.push(...r.include, ...(r.exclude ?? []).map((e) => `^${e}`), '--');
  if (r.path !== undefined) args.push(`:(literal)${r.path}`);
  return args;
}

/**
 * Detect the capabilities of the repository at `gitDir` (its git dir,
 * absolute); `cwd` is its work tree, for git when git must answer.
 */
export async function detectCapabilities(gitDir: string, cwd: string): Promise<Capabilities> {
  const fromFiles = capabilitiesFromFiles(gitDir);
  if (fromFiles.found) return fromFiles.caps;
  const { common, linked } = fromFiles;
  // git says (and the fast paths stay off unless everything is as proven)
  const format = (await gitText(['rev-parse', '--show-object-format'], { cwd }).catch(() => 'sha1')) === 'sha256' ? 'sha256' : 'sha1';
  const reftable = existsSync(join(common, 'reftable')) || (await gitText(['config', '--get', 'extensions.refstorage'], { cwd }).catch(() => '')).toLowerCase() === 'reftable';
  return choose(format, reftable ? 'reftable' : 'files', linked, false);
}

/** `git --version`'s numbers, or null when git cannot be run (asked once per process, only by those who need it). */
let versionAsked: Promise<string | null> | null = null;
export function gitVersion(): Promise<string | null> {
  versionAsked ??= gitText(['--version'], { cwd: '/' })
    .then((v) => /(\d+\.\d+(?:\.\d+)?)/.exec(v)?.[1] ?? null)
    .catch(() => null);
  return versionAsked;
}

/** The git binary as an engine: what comes before a repository is open. */
export const gitCliEngine: GitEngine = {
  name: 'git CLI',
  async discover(dir) {
    try {
      const out = await gitText(['rev-parse', '--show-toplevel', '--absolute-git-dir'], { cwd: dir });
      const [root, gitDir] = out.split('\n');
      return root && gitDir ? { root, gitDir } : null;
    } catch {
      return null;
    }
  },
  gitDirOf: async (dir) => (await gitText(['rev-parse', '--absolute-git-dir'], { cwd: dir })).trim(),
  detect: detectCapabilities,
  open: (root, gitDir, caps) => new GitCli(root, gitDir, caps),
  async init(dir, branch) {
    await runGit(['init', '-q', '-b', branch], { cwd: dir });
  },
  async clone(url, dir, opts) {
    await gitText([...opts.fsck.flatMap(([k, v]) => ['-c', `${k}=${v}`]), 'clone', '-q', '--no-checkout', '--no-tags', url, dir], { cwd: dirname(dir), timeoutMs: opts.timeoutMs });
  },
  async configAt(dir, key) {
    const r = await runGit(['config', '--get', key], { cwd: dir, okCodes: [1] });
    const v = r.code === 0 ? r.stdout.toString('utf8').trim() : '';
    return v || null;
  },
  async setConfigAt(dir, key, value) {
    await runGit(['config', key, value], { cwd: dir });
  },
  version: gitVersion,
};

/**
 * The raw changes (`:oldmode newmode oldoid newoid status`, then the path)
 * at `tokens[i]` on, NUL-split output of `git diff-tree -r -z` or `git log
 * --raw -z`; stops at the first token that is no change (the next commit
 * of a log). One parser for both: a meta line may start with the newline
 * git puts between a commit's header and its changes, never with a CR.
 */
function rawChanges(tokens: string[], i: number, out: TreeChangeEntry[]): number {
  while (i + 1 < tokens.length) {
    const meta = tokens[i]!.startsWith('\n:') ? tokens[i]!.slice(1) : tokens[i]!;
    if (!meta.startsWith(':')) break;
    const [oldMode, newMode, oldOid, newOid, status] = meta.slice(1).split(' ');
    out.push({ path: tokens[i + 1]!, status: (status?.[0] ?? 'M') as TreeChangeEntry['status'], oldMode: oldMode!, newMode: newMode!, oldOid: oldOid!, newOid: newOid! });
    i += 2;
  }
  return i;
}

/** Parse `git diff-tree -r -z` raw output. */
export function parseRawDiff(buf: Buffer): TreeChangeEntry[] {
  const out: TreeChangeEntry[] = [];
  rawChanges(buf.toString('utf8').split('\0'), 0, out);
  return out;
}

/**
 * Parse `git log -z --raw --format=%x01F1%x00F2...` output (`count` fields
 * a commit). Read by position, not by splitting on %x01: a subject or name
 * holding that byte cannot shift a commit's fields or changes.
 */
export function parseLogRaw(buf: Buffer, count: number): LoggedCommitEntry[] {
  const tokens = buf.toString('utf8').split('\0');
  const out: LoggedCommitEntry[] = [];
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (!t.startsWith('\x01')) {
      i++; // the empty token after the last commit
      continue;
    }
    const fields = [t.slice(1), ...tokens.slice(i + 1, i + count)];
    const changes: TreeChangeEntry[] = [];
    i = rawChanges(tokens, i + count, changes);
    out.push({ fields, changes });
  }
  return out;
}
