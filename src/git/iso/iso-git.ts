/**
 * The isomorphic-git engine (issue #16): `IsoGit implements GitBackend` and
 * `IsoGitEngine implements GitEngine`, for machines with no git binary.
 * Everything runs in this process: objects (iso/objects.ts and the
 * in-process writers of git/objects.ts, git/tree.ts), refs in files with
 * git's lock-file CAS (iso/refs.ts), history (iso/revs.ts), the work tree
 * and index (isomorphic-git, iso/worktree.ts), signatures (iso/signatures.ts,
 * the SSHSIG check of identity/), https hubs (iso/http.ts, upload-pack.ts,
 * remote.ts) and file hubs (iso/file-transport.ts).
 *
 * SHA-1 repositories with refs in files only: anything else is refused at
 * detect() with one line naming the repository and "install git".
 * Not supported (a clear GitError naming the operation): ssh hubs, bundles,
 * `log -p` line history, config includes beyond plain files.
 */
import * as fs from 'node:fs';
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { capabilitiesFromFiles, choose } from '../backend.js';
import type * as Git from '../backend.js';
import { GitError } from '../exec.js';
import { commitPayload, objectOid, withSignature, writeObjectSync, ZERO_OID as ZERO, type Ident } from '../objects.js';
import { buildTreeInProcess, diffTreesInProcess, parseTree, TreeConflict } from '../tree.js';
import { configPairs, lowerKey } from './credentials.js';
import { hubObjectError } from './connected.js';
import { BoundedObjects, idxOids, parseIdx } from './pack.js';
import { copyObjects, fileHubDir, probeFileHub, runHubHooks, runHubPostReceive } from './file-transport.js';
import { editIndex, isoFs, readyIndex, type IndexSeed } from './index-file.js';
import { loadIso } from './load.js';
import { IsoObjects } from './objects.js';
import { casRef, deleteRefLocked, listRefs as listRefFiles, readRef, RefLockBusyError, RefMovedError } from './refs.js';
import { dateOrder, History, topoOrder } from './revs.js';
import { hubError, hubKind, httpFor, lsRemoteHttps, pushHttps, UnsupportedHubError } from './remote.js';
import { signatureStatusOfRaw, signCommitPayload } from './signatures.js';
import { fetchHttpsRefspecs, mapRef, parseRefspec } from './upload-pack.js';
import { isoStatus } from './worktree.js';
import { logWithChanges as isoLog } from './log.js';


function fail(op: string, message: string, code = 1): GitError {
  return new GitError(`${op}: ${message}`, [op], code, message, false);
}

function unsupported(op: string): GitError {
  return fail(op, 'not supported by the isomorphic-git engine; install git (AGENTGIT_ENGINE=git) for this command');
}

/**
 * GIT_AUTHOR_DATE / GIT_COMMITTER_DATE as a commit header's `SECONDS ±HHMM`
 * (undefined when unset): git's internal form (`[@]SECONDS [±HHMM]`, what
 * agentgit's replays pass; no zone means +0000, never the local one) or
 * ISO 8601 with a zone (`2020-09-13T12:26:40+02:00`, `...Z`). Anything else
 * is refused with one line, rather than a commit silently dated now.
 */
export function envDate(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim();
  const raw = /^@?(\d+)(?: ([+-])(\d{2}):?(\d{2}))?$/.exec(v);
  if (raw) return `${raw[1]} ${raw[2] ?? '+'}${raw[3] ?? '00'}${raw[4] ?? '00'}`;
  const iso = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)? ?(Z|([+-])(\d{2}):?(\d{2}))$/.exec(v);
  if (iso) {
    const zone = iso[3] === 'Z' ? 'Z' : `${iso[4]}${iso[5]}:${iso[6]}`;
    const ms = Date.parse(`${iso[1]}T${iso[2]}${zone}`);
    if (!Number.isNaN(ms)) return `${Math.floor(ms / 1000)} ${iso[3] === 'Z' ? '+0000' : `${iso[4]}${iso[5]}${iso[6]}`}`;
  }
  throw fail('commit-tree', `${name}=${value}: not a date the isomorphic-git engine reads; use "SECONDS +HHMM" (git's internal form) or ISO 8601 with a zone`, 128);
}

export class IsoGit implements Git.GitBackend {
  private readonly objs: IsoObjects;
  private readonly cache: object = {};
  /** node:fs with atomic index writes, for every isomorphic-git call that may write the index. */
  private readonly ifs: ReturnType<typeof isoFs>;
  constructor(
    readonly root: string,
    readonly gitDir: string,
    readonly caps: Git.Capabilities,
    private readonly env: NodeJS.ProcessEnv = process.env,
    /** Epoch ms past which every hub request is killed (the round's deadline), read at each request. */
    private readonly deadlineAt: () => number | null = () => null,
  ) {
    this.objs = new IsoObjects(gitDir);
    this.ifs = isoFs(gitDir);
  }

  /** Before isomorphic-git reads the index: rebuild an unreadable one from HEAD (index-file.ts). */
  private async readyIndex(): Promise<void> {
    await readyIndex(this.gitDir, async () => {
      const head = await this.resolveCommit('HEAD');
      const out: IndexSeed[] = [];
      const walk = async (tree: string, prefix: Buffer): Promise<void> => {
        const o = await this.objs.read(tree);
        if (!o || o.type !== 'tree') throw fail('read-tree', `tree ${tree} is missing; run git fsck`, 128);
        for (const e of parseTree(o.body)) {
          const path = Buffer.concat([prefix, Buffer.from(e.name, 'latin1')]);
          if (e.mode === '40000') await walk(e.oid, Buffer.concat([path, Buffer.from('/')]));
          else if (e.mode !== '160000') out.push({ path, mode: e.mode, oid: e.oid });
        }
      };
      if (head) await walk(await this.resolveTree(head), Buffer.alloc(0));
      return out;
    });
  }

  private history(): History {
    return new History(this.gitDir, this.objs);
  }

  // --- objects ---------------------------------------------------------------
  async readObject(spec: string): Promise<Buffer | null> {
    const colon = spec.indexOf(':');
    if (colon < 0) {
      const oid = /^[0-9a-f]{40}$/.test(spec) ? spec : await this.history().resolve(spec);
      return oid ? this.objs.content(oid) : null;
    }
    const h = this.history();
    const tree = await h.resolve(`${spec.slice(0, colon)}^{tree}`);
    if (!tree) return null;
    const oid = await h.pathId(tree, spec.slice(colon + 1));
    return oid ? this.objs.content(oid) : null;
  }

  async objectInfo(oids: string[]): Promise<Map<string, { type: Git.GitObjectType; size: number }>> {
    const out = new Map<string, { type: Git.GitObjectType; size: number }>();
    for (const oid of oids) {
      const o = await this.objs.read(oid);
      if (o) out.set(oid, { type: o.type, size: o.body.length });
    }
    return out;
  }

  async allObjects(): Promise<Array<{ oid: string; type: Git.GitObjectType }>> {
    const ids = new Set<string>();
    const objects = join(this.gitDir, 'objects');
    for (const d of readdirSync(objects)) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue;
      for (const f of readdirSync(join(objects, d))) if (/^[0-9a-f]{38}$/.test(f)) ids.add(d + f);
    }
    const packDir = join(objects, 'pack');
    for (const f of existsSync(packDir) ? readdirSync(packDir) : []) {
      if (!f.endsWith('.idx')) continue;
      try {
        for (const oid of idxOids(readFileSync(join(packDir, f)), join(packDir, f))) ids.add(oid);
      } catch (e) {
        throw fail('cat-file', (e as Error).message);
      }
    }
    const out: Array<{ oid: string; type: Git.GitObjectType }> = [];
    for (const oid of [...ids].sort()) {
      const o = await this.objs.read(oid);
      if (o) out.push({ oid, type: o.type });
    }
    return out;
  }

  async writeObject(type: 'blob' | 'tree', bytes: Uint8Array): Promise<string> {
    return writeObjectSync(this.gitDir, type, bytes);
  }

  async hashObject(type: 'blob', bytes: Uint8Array): Promise<string> {
    return objectOid(type, bytes);
  }

  async countObjects(): Promise<Record<string, number>> {
    let count = 0;
    let size = 0;
    const objects = join(this.gitDir, 'objects');
    for (const d of readdirSync(objects)) {
      if (!/^[0-9a-f]{2}$/.test(d)) continue;
      for (const f of readdirSync(join(objects, d))) {
        count++;
        size += statSync(join(objects, d, f)).size;
      }
    }
    let packs = 0;
    let sizePack = 0;
    let inPack = 0;
    const packDir = join(objects, 'pack');
    for (const f of existsSync(packDir) ? readdirSync(packDir) : []) {
      if (f.endsWith('.pack')) {
        packs++;
        sizePack += statSync(join(packDir, f)).size;
      } else if (f.endsWith('.idx')) {
        try {
          inPack += parseIdx(readFileSync(join(packDir, f)), join(packDir, f)).count;
        } catch (e) {
          throw fail('count-objects', (e as Error).message);
        }
      }
    }
    return { count, size: Math.ceil(size / 1024), 'in-pack': inPack, packs, 'size-pack': Math.ceil(sizePack / 1024), 'prune-packable': 0, garbage: 0, 'size-garbage': 0 };
  }

  close(): void {
    /* nothing held open */
  }

  // --- refs ---------------------------------------------------------------------
  async resolveCommit(rev: string): Promise<string | null> {
    try {
      return await this.history().resolve(`${rev}^{commit}`);
    } catch {
      return null;
    }
  }

  async resolveTree(rev: string): Promise<string> {
    const t = await this.history().resolve(`${rev}^{tree}`);
    if (!t) throw fail('rev-parse', `${rev} names no tree`, 128);
    return t;
  }

  async listRefs(patterns: string[]): Promise<Map<string, string>> {
    const all = listRefFiles(this.gitDir);
    const out = new Map<string, string>();
    for (const [k, v] of [...all].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (patterns.length === 0 || patterns.some((p) => k === p || k.startsWith(p.endsWith('/') ? p : `${p}/`) || (p.includes('*') && mapRef({ force: false, src: p, dst: '*' }, k) !== null))) out.set(k, v);
    }
    return out;
  }

  private async refName(ref: string): Promise<string> {
    if (ref !== 'HEAD') return ref;
    const b = await this.headBranch();
    if (!b) throw fail('update-ref', 'HEAD is detached; agentgit needs a branch checked out');
    return `refs/heads/${b}`;
  }

  async updateRef(ref: string, next: string, expected?: string | null): Promise<void> {
    const name = await this.refName(ref);
    const exp = expected === undefined ? readRef(this.gitDir, name) : expected === ZERO ? null : expected;
    try {
      casRef(this.gitDir, name, exp, next);
    } catch (e) {
      if (e instanceof RefMovedError || e instanceof RefLockBusyError) throw fail('update-ref', `cannot lock ref '${name}': ${e.message}`, 128);
      throw e;
    }
  }

  async deleteRef(ref: string, expected?: string): Promise<boolean> {
    try {
      return deleteRefLocked(this.gitDir, ref, expected);
    } catch (e) {
      if (e instanceof RefMovedError || e instanceof RefLockBusyError) throw fail('update-ref', `cannot lock ref '${ref}': ${e.message}`, 128);
      throw e;
    }
  }

  async headBranch(): Promise<string | null> {
    const t = readFileSync(join(this.gitDir, 'HEAD'), 'utf8').trim();
    return t.startsWith('ref: refs/heads/') ? t.slice('ref: refs/heads/'.length) : null;
  }

  async setHeadBranch(branch: string): Promise<void> {
    const lock = join(this.gitDir, 'HEAD.lock');
    fs.writeFileSync(lock, `ref: refs/heads/${branch}\n`, { flag: 'wx' });
    fs.renameSync(lock, join(this.gitDir, 'HEAD'));
  }

  async trackBranch(branch: string, remote: string): Promise<void> {
    const tip = readRef(this.gitDir, `refs/remotes/${remote}/${branch}`);
    if (!tip) throw fail('branch', `refs/remotes/${remote}/${branch} does not exist; fetch first`, 128);
    await this.updateRef(`refs/heads/${branch}`, tip);
    await this.setConfig(`branch.${branch}.remote`, remote);
    await this.setConfig(`branch.${branch}.merge`, `refs/heads/${branch}`);
  }

  // --- config ---------------------------------------------------------------------
  async getConfig(key: string): Promise<string | null> {
    const k = lowerKey(key);
    let v: string | null = null;
    for (const [a, b] of configPairs(this.gitDir, this.env)) if (a === k) v = b;
    return v;
  }

  async listConfig(): Promise<Map<string, string>> {
    return new Map(configPairs(this.gitDir, this.env));
  }

  async setConfig(key: string, value: string): Promise<void> {
    const git = await loadIso();
    await git.setConfig({ fs, gitdir: this.gitDir, path: key, value });
  }

  async unsetConfig(key: string): Promise<void> {
    const git = await loadIso();
    await git.setConfig({ fs, gitdir: this.gitDir, path: key, value: undefined });
  }

  async remoteUrl(name: string): Promise<string | null> {
    return this.getConfig(`remote.${name}.url`);
  }

  async setRemoteUrl(name: string, url: string): Promise<void> {
    const had = await this.remoteUrl(name);
    await this.setConfig(`remote.${name}.url`, url);
    if (had === null) await this.setConfig(`remote.${name}.fetch`, `+refs/heads/*:refs/remotes/${name}/*`);
  }

  // --- work tree and index ------------------------------------------------------------
  async status(opts: { paths?: string[] } = {}): Promise<Git.StatusItem[]> {
    await this.readyIndex();
    return isoStatus(this.root, this.gitDir, this.cache, opts.paths);
  }

  private async matrix(): Promise<Array<[string, number, number, number]>> {
    const git = await loadIso();
    await this.readyIndex();
    return git.statusMatrix({ fs: this.ifs, dir: this.root, gitdir: this.gitDir, cache: this.cache });
  }

  async stagedChanges(): Promise<Array<{ status: string; path: string }>> {
    const out: Array<{ status: string; path: string }> = [];
    for (const [path, head, , stage] of await this.matrix()) {
      if (head === 0 && stage !== 0) out.push({ status: 'A', path });
      else if (head === 1 && stage === 0) out.push({ status: 'D', path });
      else if (head === 1 && (stage === 2 || stage === 3)) out.push({ status: 'M', path });
    }
    return out;
  }

  async indexMatchesHead(): Promise<boolean> {
    return (await this.stagedChanges()).length === 0;
  }

  async changedSince(rev: string): Promise<string[]> {
    const tree = await this.resolveTree(rev);
    const out: string[] = [];
    for (const file of await this.listFiles(tree)) {
      const want = await this.history().pathId(tree, file);
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(this.root, file));
      } catch {
        out.push(file);
        continue;
      }
      if (objectOid('blob', bytes) !== want) out.push(file);
    }
    return out;
  }

  async updateIndex(entries: Git.IndexChange[]): Promise<void> {
    const git = await loadIso();
    await this.readyIndex();
    if (await editIndex(this.gitDir, entries)) return; // one locked write for all of them
    for (const e of entries) {
      if (e.mode === '0' || /^0+$/.test(e.oid)) await git.updateIndex({ fs: this.ifs, dir: this.root, gitdir: this.gitDir, cache: this.cache, filepath: e.path, remove: true, force: true });
      else await git.updateIndex({ fs: this.ifs, dir: this.root, gitdir: this.gitDir, cache: this.cache, filepath: e.path, oid: e.oid, mode: parseInt(e.mode, 8), add: true });
    }
  }

  async refreshIndex(): Promise<void> {
    // isomorphic-git's status compares content whenever the stat data differs, and
    // writes fresh stat data back: a separate refresh has nothing to do
  }

  async addToIndex(paths: string[]): Promise<void> {
    const git = await loadIso();
    await this.readyIndex();
    for (const p of paths) {
      if (existsSync(join(this.root, p))) await git.add({ fs: this.ifs, dir: this.root, gitdir: this.gitDir, cache: this.cache, filepath: p });
      else await git.remove({ fs: this.ifs, dir: this.root, gitdir: this.gitDir, cache: this.cache, filepath: p });
    }
  }

  async unstage(paths: string[], headBorn: boolean): Promise<void> {
    const git = await loadIso();
    await this.readyIndex();
    for (const p of paths) {
      if (headBorn) await git.resetIndex({ fs: this.ifs, dir: this.root, gitdir: this.gitDir, cache: this.cache, filepath: p });
      else await git.remove({ fs: this.ifs, dir: this.root, gitdir: this.gitDir, cache: this.cache, filepath: p });
    }
  }

  async commitIndex(o: { message: string; sign: boolean; paths?: string[]; only?: boolean; author?: string }): Promise<void> {
    // git commit signs when asked, or when commit.gpgsign is on
    const sign = o.sign || (await this.getConfig('commit.gpgsign'))?.toLowerCase() === 'true';
    const branch = await this.headBranch();
    if (!branch) throw fail('commit', 'HEAD is detached; agentgit needs a branch checked out');
    const ref = `refs/heads/${branch}`;
    const head = readRef(this.gitDir, ref);
    const message = `${o.message.replace(/\s+$/, '')}\n`;
    const env = o.author !== undefined ? { GIT_AUTHOR_NAME: o.author, GIT_COMMITTER_NAME: o.author } : undefined;
    if (o.paths) {
      // `git commit --only -- PATHS`: HEAD's tree with these paths as they are in the work tree
      const changes: Git.IndexChange[] = [];
      for (const p of o.paths) {
        let bytes: Buffer | null = null;
        let mode = '100644';
        try {
          const st = fs.lstatSync(join(this.root, p));
          bytes = st.isSymbolicLink() ? Buffer.from(fs.readlinkSync(join(this.root, p))) : readFileSync(join(this.root, p));
          mode = st.isSymbolicLink() ? '120000' : (st.mode & 0o111) !== 0 ? '100755' : '100644';
        } catch {
          bytes = null;
        }
        changes.push(bytes === null ? { path: p, mode: '0', oid: ZERO } : { path: p, mode, oid: writeObjectSync(this.gitDir, 'blob', bytes) });
      }
      const tree = await this.buildTree(head, changes);
      const oid = await this.commitTree(tree, head ? [head] : [], message, { sign, ...(env ? { env } : {}) });
      casRef(this.gitDir, ref, head, oid);
      await this.updateIndex(changes);
      return;
    }
    const tree = await this.buildTree(null, await this.indexEntries());
    const oid = await this.commitTree(tree, head ? [head] : [], message, { sign, ...(env ? { env } : {}) });
    casRef(this.gitDir, ref, head, oid);
  }

  /** Every entry of the index (path, mode, id). */
  private async indexEntries(): Promise<Git.IndexChange[]> {
    const git = await loadIso();
    const out: Git.IndexChange[] = [];
    await this.readyIndex();
    await git.walk({
      fs: this.ifs,
      dir: this.root,
      gitdir: this.gitDir,
      cache: this.cache,
      trees: [git.STAGE()],
      map: async (path, [e]) => {
        if (!e || path === '.') return true;
        if ((await e.type()) === 'blob') out.push({ path, mode: (await e.mode()).toString(8), oid: await e.oid() });
        return true;
      },
    });
    return out;
  }

  async checkout(commit: string, mode: Git.CheckoutMode): Promise<void> {
    const git = await loadIso();
    const branch = await this.headBranch();
    if (!branch) throw fail('reset', 'HEAD is detached; agentgit needs a branch checked out');
    const ref = `refs/heads/${branch}`;
    const before = readRef(this.gitDir, ref);
    if (mode === 'keep' && before) {
      // refuse when a file that changes has local changes (git reset --keep)
      const changing = new Set((await this.diffTrees(before, commit)).map((c) => c.path));
      const dirty = (await this.status()).filter((s) => changing.has(s.path));
      if (dirty.length > 0) throw fail('reset', `local changes in ${dirty[0]!.path} would be overwritten; entry not updated`, 128);
    }
    await this.readyIndex();
    casRef(this.gitDir, ref, before, commit);
    try {
      await git.checkout({ fs: this.ifs, dir: this.root, gitdir: this.gitDir, cache: this.cache, ref: branch, force: true });
    } catch (e) {
      casRef(this.gitDir, ref, commit, before ?? ZERO);
      throw e;
    }
  }

  async checkoutWithProgress(commit: string, progress: (done: number, total: number) => void): Promise<void> {
    const total = (await this.listFiles(commit)).length;
    await this.checkout(commit, 'hard');
    progress(total, total);
  }

  async listFiles(rev: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (tree: string, prefix: string): Promise<void> => {
      const o = await this.objs.read(tree);
      if (!o || o.type !== 'tree') throw fail('ls-tree', `tree ${tree} is missing; run git fsck`, 128);
      for (const e of parseTree(o.body)) {
        const name = prefix + Buffer.from(e.name, 'latin1').toString('utf8');
        if (e.mode === '40000') await walk(e.oid, `${name}/`);
        else out.push(name);
      }
    };
    await walk(await this.resolveTree(rev), '');
    return out;
  }

  async checkAttr(attr: string, paths: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const rules: Array<{ dir: string; re: RegExp; value: string }> = [];
    const load = (file: string, dir: string): void => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return;
      }
      for (const line of text.split('\n')) {
        const t = line.trim();
        if (!t || t.startsWith('#')) continue;
        const [pat, ...attrs] = t.split(/\s+/);
        for (const a of attrs) {
          const m = /^([-!]?)([^=]+)(?:=(.*))?$/.exec(a);
          if (!m || m[2] !== attr) continue;
          const value = m[1] === '-' ? 'unset' : m[1] === '!' ? 'unspecified' : (m[3] ?? 'set');
          rules.push({ dir, re: globRe(pat!), value });
        }
      }
    };
    load(join(this.gitDir, 'info', 'attributes'), '');
    const dirs = new Set<string>(['']);
    for (const p of paths) {
      const parts = p.split('/');
      for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
    }
    const perDir = [...dirs].sort((a, b) => a.split('/').length - b.split('/').length);
    const ordered: typeof rules = [];
    for (const d of perDir) {
      const before = rules.length;
      load(join(this.root, d, '.gitattributes'), d);
      ordered.push(...rules.splice(before));
    }
    const all = [...ordered, ...rules]; // info/attributes wins over every .gitattributes
    for (const p of paths) {
      let v = 'unspecified';
      for (const r of all) {
        if (r.dir && !p.startsWith(`${r.dir}/`)) continue;
        const rel = r.dir ? p.slice(r.dir.length + 1) : p;
        if (r.re.test(rel)) v = r.value;
      }
      out.set(p, v);
    }
    return out;
  }

  // --- trees and commits ------------------------------------------------------------
  async diffTrees(a: string, b: string): Promise<Git.TreeChangeEntry[]> {
    const [ta, tb] = await Promise.all([this.resolveTree(a), this.resolveTree(b)]);
    return diffTreesInProcess((oid) => this.objs.content(oid), ta, tb);
  }

  async buildTree(from: string | null, changes: Git.IndexChange[]): Promise<string> {
    const tree = from ? await this.resolveTree(from) : null;
    const read = (oid: string): Promise<Buffer | null> => this.objs.content(oid);
    try {
      return await buildTreeInProcess(this.gitDir, read, tree, changes);
    } catch (e) {
      if (!(e instanceof TreeConflict)) throw e;
      // a file where a directory is (or the reverse): what git's index does with
      // `update-index --index-info` (which replaces): each change, in order,
      // removes the entries it conflicts with
      return buildTreeInProcess(this.gitDir, read, tree, await replacing(read, tree, changes));
    }
  }

  async commitTree(tree: string, parents: string[], message: string, opts: { sign: boolean; env?: Record<string, string> }): Promise<string> {
    const e = { ...this.env, ...(opts.env ?? {}) };
    const author: Ident = { name: e.GIT_AUTHOR_NAME ?? (await this.getConfig('user.name')) ?? 'agentgit', email: e.GIT_AUTHOR_EMAIL ?? (await this.getConfig('user.email')) ?? 'agentgit@localhost' };
    const committer: Ident = { name: e.GIT_COMMITTER_NAME ?? author.name, email: e.GIT_COMMITTER_EMAIL ?? author.email };
    const dates = { author: envDate('GIT_AUTHOR_DATE', e.GIT_AUTHOR_DATE), committer: envDate('GIT_COMMITTER_DATE', e.GIT_COMMITTER_DATE) };
    const payload = commitPayload({ tree, parents, author, committer, when: Date.now(), dates, message: message.endsWith('\n') ? message : `${message}\n` });
    if (!opts.sign) return writeObjectSync(this.gitDir, 'commit', Buffer.from(payload, 'utf8'));
    if (((await this.getConfig('gpg.format')) ?? 'openpgp') !== 'ssh') throw fail('commit-tree', 'commit signing needs gpg.format=ssh with the isomorphic-git engine (no gpg here)');
    let signed: string;
    try {
      signed = withSignature(payload, signCommitPayload(payload, await this.getConfig('user.signingkey')));
    } catch (e) {
      throw fail('commit-tree', (e as Error).message);
    }
    return writeObjectSync(this.gitDir, 'commit', Buffer.from(signed, 'utf8'));
  }

  // --- history -------------------------------------------------------------------------
  async mergeBases(a: string, b: string): Promise<string[]> {
    const h = this.history();
    const [x, y] = [await h.resolve(a), await h.resolve(b)];
    if (!x || !y) throw fail('merge-base', `${x ? b : a} names no commit`, 128);
    return h.mergeBases(x, y);
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const h = this.history();
    const [x, y] = [await h.resolve(ancestor), await h.resolve(descendant)];
    if (!x || !y) throw fail('merge-base', `${x ? descendant : ancestor} names no commit`, 128);
    return h.isAncestor(x, y);
  }

  private async select(h: History, revs: Git.Revisions): Promise<{ set: Set<string>; tips: string[] }> {
    const tips: string[] = [];
    for (const r of revs.include) {
      const oid = await h.resolve(r);
      if (!oid) throw fail('rev-list', `${r} names no commit`, 128);
      tips.push(oid);
    }
    if (revs.glob) tips.push(...h.globRefs(revs.glob));
    const excl: string[] = [];
    for (const r of revs.exclude ?? []) {
      const oid = await h.resolve(r);
      if (oid) excl.push(oid);
    }
    const stop = await h.reachable(excl);
    const set = new Set([...(await h.reachable(tips))].filter((x) => !stop.has(x)));
    if (revs.path) {
      const path = revs.path;
      for (const oid of [...set]) {
        const c = await h.commit(oid);
        const mine = await h.pathId(c.tree, path);
        const parentIds = await Promise.all(c.parents.map(async (p) => h.pathId((await h.commit(p)).tree, path)));
        const touches = c.parents.length === 0 ? mine !== null : revs.fullHistory ? parentIds.some((x) => x !== mine) : parentIds.every((x) => x !== mine);
        if (!touches) set.delete(oid);
      }
    }
    return { set, tips };
  }

  async walk(revs: Git.Revisions, order: Git.WalkOrder = {}): Promise<Git.WalkedCommit[]> {
    const h = this.history();
    const { set, tips } = await this.select(h, revs);
    let oids: string[];
    if (order.firstParent) {
      // one tip, no path: the first-parent line, newest first (what agentgit asks: compaction's cut and replays)
      if (tips.length !== 1 || revs.path !== undefined) throw unsupported('a first-parent walk of several tips or limited to a path');
      oids = [];
      for (let cur: string | undefined = tips[0]; cur !== undefined && set.has(cur); cur = (await h.commit(cur)).parents[0]) oids.push(cur);
    } else if (order.noWalk) oids = tips.filter((t) => set.has(t));
    else if (order.topo) oids = await topoOrder(h, set, tips);
    else oids = await dateOrder(h, set, tips.length ? tips : [...set]);
    if (revs.path && !order.noWalk && !order.topo) oids = (await dateOrder(h, await h.reachable(tips), tips)).filter((o) => set.has(o));
    if (order.reverse) oids.reverse();
    const out: Git.WalkedCommit[] = [];
    for (const oid of oids) {
      const c = await h.commit(oid);
      if (order.rootsOnly && c.parents.length > 0) continue;
      out.push({ oid, parents: c.parents, author: c.author });
    }
    return out;
  }

  async countCommits(revs: Git.Revisions): Promise<number> {
    return (await this.select(this.history(), revs)).set.size;
  }

  async aheadBehind(a: string, b: string): Promise<{ ahead: number; behind: number }> {
    const h = this.history();
    const [x, y] = [await h.resolve(a), await h.resolve(b)];
    if (!x || !y) throw fail('rev-list', `${x ? b : a} names no commit`, 128);
    const ra = await h.reachable([x]);
    const rb = await h.reachable([y]);
    return { ahead: [...ra].filter((o) => !rb.has(o)).length, behind: [...rb].filter((o) => !ra.has(o)).length };
  }

  async logWithChanges(q: Git.LogQuery): Promise<Git.LoggedCommitEntry[]> {
    if (q.since) throw unsupported('log --since');
    const h = this.history();
    const include = q.include.length > 0 || q.glob ? q.include : ['HEAD'];
    if (include.includes('HEAD') && !readRef(this.gitDir, 'HEAD')) return [];
    let oids: string[];
    if (q.firstParent) {
      const { set, tips } = await this.select(h, { ...q, include, path: undefined });
      oids = [];
      const seen = new Set<string>();
      for (const tip of tips) for (let cur: string | undefined = tip; cur && set.has(cur) && !seen.has(cur); cur = (await h.commit(cur)).parents[0]) {
        seen.add(cur);
        oids.push(cur);
      }
      if (tips.length > 1) oids = (await dateOrder(h, new Set(oids), tips)).filter((o) => seen.has(o));
    } else oids = (await this.walk({ ...q, include })).map((c) => c.oid);
    const file = await this.getConfig('gpg.ssh.allowedsignersfile');
    try {
      return await isoLog(h, this.objs, q, oids, file ? resolve(this.root, file) : null);
    } catch (e) {
      throw fail('log', (e as Error).message);
    }
  }

  async lastCommitTouching(path: string): Promise<{ oid: string; author: string } | null> {
    if (!readRef(this.gitDir, 'HEAD')) return null;
    const [c] = await this.walk({ include: ['HEAD'], path });
    return c ? { oid: c.oid, author: c.author } : null;
  }

  async lastAuthorMatching(regex: string): Promise<string | null> {
    if (!readRef(this.gitDir, 'HEAD')) return null;
    // git's basic regular expressions, for the plain patterns agentgit uses
    const re = new RegExp(regex.replace(/\\([(){}|+?])/g, '$1'), 'm');
    for (const c of await this.walk({ include: ['HEAD'] })) {
      const o = await this.objs.read(c.oid);
      const text = o!.body.toString('utf8');
      if (re.test(text.slice(text.indexOf('\n\n') + 2))) return c.author;
    }
    return null;
  }

  /**
   * The lines added and removed in `path` over `rev`'s history, by commit
   * (newest first, merges left out, as `git log -p`): each commit's file
   * against its first parent's, as a multiset of lines (removed first).
   * Not git's hunks: a moved line is neither added nor removed here. What
   * the callers need holds: every line that was ever in the file is `+`
   * in the commit that brought it (test/git/iso/backend.test.ts).
   */
  async pathChangeLines(rev: string, path: string): Promise<string[]> {
    const h = this.history();
    const linesAt = async (tree: string | null): Promise<string[]> => {
      const oid = tree ? await h.pathId(tree, path) : null;
      const body = oid ? await this.objs.content(oid) : null;
      return body ? body.toString('utf8').split('\n').filter((l, i, all) => i < all.length - 1 || l !== '') : [];
    };
    const out: string[] = [];
    for (const c of await this.walk({ include: [rev], path })) {
      if (c.parents.length > 1) continue;
      const now = await linesAt((await h.commit(c.oid)).tree);
      const before = c.parents[0] ? await linesAt((await h.commit(c.parents[0])).tree) : [];
      const count = (xs: string[]): Map<string, number> => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
      const emit = (from: string[], other: Map<string, number>, sign: string): void => {
        const left = count(from);
        for (const [l, k] of left) left.set(l, k - (other.get(l) ?? 0));
        for (const l of from) {
          if ((left.get(l) ?? 0) <= 0 || !/^[^+-]/.test(l)) continue;
          left.set(l, left.get(l)! - 1);
          out.push(sign + l);
        }
      };
      emit(before, count(now), '-');
      emit(now, count(before), '+');
    }
    return out;
  }

  async signatureStatus(oids: string[], allowedSigners: string, opts: { lenient?: boolean } = {}): Promise<Map<string, Git.SignatureStatus>> {
    const out = new Map<string, Git.SignatureStatus>();
    for (const oid of oids) {
      const o = await this.objs.read(oid);
      if (!o || o.type !== 'commit') {
        if (opts.lenient) out.set(oid, { g: 'N', fp: '' });
        else throw fail('log', `commit ${oid} is missing; run git fsck`, 128);
        continue;
      }
      out.set(oid, signatureStatusOfRaw(o.body, allowedSigners));
    }
    return out;
  }

  // --- remotes ------------------------------------------------------------------------------
  private async urlOf(remote: string): Promise<string> {
    if (/^(https?|ssh|git|file):\/\//i.test(remote) || remote.startsWith('/') || /^[^/]+@[^/]+:/.test(remote)) return remote;
    const url = await this.remoteUrl(remote);
    if (!url) throw fail('fetch', `'${remote}' does not appear to be a git repository (no remote.${remote}.url)`, 128);
    return url;
  }

  async fetch(remote: string, refspecs: string[], opts: { timeoutMs?: number; prune?: boolean } = {}): Promise<Git.FetchResult> {
    const url = await this.urlOf(remote);
    const kind = hubKind(url);
    if (kind === 'unsupported') throw fail('fetch', new UnsupportedHubError(url).message, 128);
    const deadlineAt = this.deadline(opts.timeoutMs);
    let missing: string[];
    if (kind === 'https') {
      try {
        missing = (await fetchHttpsRefspecs(this.gitDir, url, refspecs, { env: this.env, deadlineAt, prune: opts.prune })).missing;
      } catch (e) {
        throw hubError('fetch', url, e);
      }
    } else {
      await probeFileHub(url, deadlineAt, this.env, this.deadlineAt());
      const hub = fileHubDir(url);
      if (!hub) return { ok: false, code: 128, missingRemoteRef: false, stderr: `fatal: '${url}' does not appear to be a git repository\n` };
      const specs = refspecs.map(parseRefspec);
      const hubRefs = listRefFiles(hub);
      const updates = new Map<string, string>();
      const found = new Set<string>();
      for (const [r, oid] of hubRefs)
        for (const s of specs) {
          const dst = mapRef(s, r);
          if (dst === null) continue;
          found.add(s.src);
          if (dst) updates.set(dst, oid);
        }
      missing = specs.filter((s) => !s.src.includes('*') && !found.has(s.src)).map((s) => s.src);
      // copyObjects is this fetch's connectivity check: it reads every object
      // from the targets down to what this repository holds through its refs
      // (a blob it has, a subtree equal to a held parent's), each typed as its
      // referrer names it and hashed, and writes children first; anything
      // missing or wrong throws before a ref moves (checkConnected would only
      // read it all again)
      await copyObjects(hub, this.gitDir, [...new Set(updates.values())], { hub: 'src' });
      for (const [dst, oid] of updates) {
        const before = readRef(this.gitDir, dst);
        if (before !== oid) casRef(this.gitDir, dst, before, oid);
      }
    }
    if (missing.length > 0) return { ok: false, code: 128, missingRemoteRef: true, stderr: `fatal: couldn't find remote ref ${missing[0]}\n` };
    return { ok: true, code: 0, missingRemoteRef: false, stderr: '' };
  }

  private deadline(timeoutMs?: number): number | null {
    const round = this.deadlineAt();
    const own = timeoutMs === undefined ? null : Date.now() + timeoutMs;
    if (round === null) return own;
    return own === null ? round : Math.min(round, own);
  }

  async push(req: Git.PushRequest): Promise<Git.PushResult> {
    const url = await this.urlOf(req.remote);
    const kind = hubKind(url);
    if (kind === 'unsupported') throw fail('push', new UnsupportedHubError(url).message, 128);
    if (req.atomic && req.refspecs.length > 1) throw unsupported('push --atomic');
    const refs: Git.PushResult['refs'] = [];
    const lines: string[] = [];
    /** what the hub (or a file hub's hook) said, shown as git shows it: `remote: …` */
    const said: string[] = [];
    const onMessage = (line: string): void => void said.push(`remote: ${line}\n`);
    if (kind === 'file') await probeFileHub(url, this.deadline(req.timeoutMs), this.env, this.deadlineAt());
    const hub = kind === 'file' ? fileHubDir(url) : null;
    if (kind === 'file' && !hub) return { ok: false, code: 128, refs, stdout: '', stderr: `fatal: '${url}' does not appear to be a git repository\n` };
    for (const spec of req.refspecs) {
      const s = parseRefspec(spec);
      const lease = req.leases?.find((l) => l.ref === s.dst);
      const src = s.src ? await this.history().resolve(s.src) : null;
      if (s.src && !src) throw fail('push', `src refspec ${s.src} does not match any`, 1);
      const expected = lease ? lease.expected || null : undefined;
      let r: Git.PushResult['refs'][number];
      if (hub) r = await this.pushFile(hub, s.dst, src, expected, s.force, onMessage, req.timeoutMs);
      else r = await this.pushHttp(url, s.dst, src, expected, s.force, req.timeoutMs, onMessage).catch((e: unknown) => Promise.reject(hubError('push', url, e)));
      refs.push(r);
      lines.push(`${r.flag}\t${r.from}:${r.to}\t${r.summary}`);
    }
    const ok = refs.every((r) => r.flag !== '!');
    const stderr = said.join('') + (ok ? '' : `error: failed to push some refs to '${url}'\n`);
    if (req.quiet) return { ok, code: ok ? 0 : 1, refs: [], stdout: '', stderr };
    const stdout = `To ${url}\n${lines.join('\n')}\nDone\n`;
    return { ok, code: ok ? 0 : 1, refs, stdout, stderr };
  }

  private async pushFile(hub: string, dst: string, src: string | null, expected: string | null | undefined, force: boolean, onMessage: (line: string) => void, timeoutMs?: number): Promise<Git.PushResult['refs'][number]> {
    const from = src ?? '';
    const cur = readRef(hub, dst);
    const deadlineAt = this.deadline(timeoutMs);
    if (src === null) {
      // a delete (agentgit removes an instance's heartbeat ref): the hub's hooks run as for an update, with the zero id as the new value
      if (cur === null) return { flag: '!', from, to: dst, summary: '[rejected] (remote ref does not exist)' };
      if (expected !== undefined && cur !== expected) return { flag: '!', from, to: dst, summary: '[rejected] (stale info)' };
      if (!(await runHubHooks(hub, dst, cur, null, onMessage, deadlineAt, this.env))) return { flag: '!', from, to: dst, summary: '[remote rejected] (pre-receive hook declined)' };
      const moved = this.moveHubRef(() => void deleteRefLocked(hub, dst, cur), from, dst);
      if (moved) return moved;
      await runHubPostReceive(hub, dst, cur, null, onMessage, deadlineAt, this.env);
      return { flag: '-', from, to: dst, summary: '[deleted]' };
    }
    if (cur === src) return { flag: '=', from, to: dst, summary: '[up to date]' };
    if (expected !== undefined && cur !== expected) return { flag: '!', from, to: dst, summary: '[rejected] (stale info)' };
    // the objects are copied once (the hub's history walked once), before the
    // fast-forward check, the hooks and the ref's compare-and-swap
    await copyObjects(this.gitDir, hub, [src], { hub: 'dst' });
    if (expected === undefined && !force && cur !== null) {
      // the hub's history read with caps; what they refuse is the hub's data, named as such
      const ff = await new History(hub, new BoundedObjects(hub)).isAncestor(cur, src).catch((e: unknown) => {
        throw hubObjectError(hub, e, 'push') ?? e;
      });
      if (!ff) return { flag: '!', from, to: dst, summary: '[rejected] (fetch first)' };
    }
    // a file hub's hooks run as git's receive-pack runs them (here, without a
    // quarantine: objects of a refused push stay unreferenced in the hub, as
    // after any interrupted push); a refusal is the hub's word, as over https
    if (!(await runHubHooks(hub, dst, cur, src, onMessage, deadlineAt, this.env))) {
      return { flag: '!', from, to: dst, summary: '[remote rejected] (pre-receive hook declined)' };
    }
    const moved = this.moveHubRef(() => casRef(hub, dst, cur, src), from, dst);
    if (moved) return moved;
    await runHubPostReceive(hub, dst, cur, src, onMessage, deadlineAt, this.env);
    return cur === null ? { flag: '*', from, to: dst, summary: '[new reference]' } : { flag: force || expected !== undefined ? '+' : ' ', from, to: dst, summary: `${cur.slice(0, 7)}..${src.slice(0, 7)}` };
  }

  /** Move a file hub's ref (compare-and-swap); a lost race or a held lock as git's push reports it, else null. */
  private moveHubRef(move: () => void, from: string, to: string): Git.PushResult['refs'][number] | null {
    try {
      move();
      return null;
    } catch (e) {
      if (e instanceof RefMovedError) return { flag: '!', from, to, summary: '[rejected] (stale info)' };
      if (e instanceof RefLockBusyError) return { flag: '!', from, to, summary: '[remote rejected] (failed to update ref: cannot lock ref)' };
      throw e;
    }
  }

  private async pushHttp(url: string, dst: string, src: string | null, expected: string | null | undefined, force: boolean, timeoutMs: number | undefined, onMessage: (line: string) => void): Promise<Git.PushResult['refs'][number]> {
    if (src === null) {
      const r = await pushHttps(this.gitDir, url, 'HEAD', dst, expected ?? null, { env: this.env, deadlineAt: this.deadline(timeoutMs), anyOld: expected === undefined, remove: true });
      return r.ok ? { flag: '-', from: '', to: dst, summary: '[deleted]' } : { flag: '!', from: '', to: dst, summary: r.reason === 'stale' ? '[rejected] (stale info)' : `[remote rejected] (${r.message})` };
    }
    const from = src;
    // isomorphic-git pushes a local ref: a scratch one names the id
    const scratch = `refs/agentgit/iso-push/${process.pid}`;
    casRef(this.gitDir, scratch, readRef(this.gitDir, scratch), src);
    try {
      const deadlineAt = this.deadline(timeoutMs);
      let lease = expected;
      if (lease === undefined && !force) {
        // a plain push: fast-forward only (what git refuses with "fetch first")
        const cur = (await lsRemoteHttps(url, { gitDir: this.gitDir, env: this.env, deadlineAt }, dst)).get(dst) ?? null;
        if (cur === src) return { flag: '=', from, to: dst, summary: '[up to date]' };
        if (cur !== null && !(await this.objs.has(cur) && (await this.history().isAncestor(cur, src)))) return { flag: '!', from, to: dst, summary: '[rejected] (fetch first)' };
        lease = cur;
      }
      if (lease === undefined) {
        const r = await pushHttps(this.gitDir, url, scratch, dst, null, { env: this.env, deadlineAt, anyOld: true, onMessage });
        return r.ok ? { flag: '+', from, to: dst, summary: 'forced update' } : { flag: '!', from, to: dst, summary: `[remote rejected] (${r.message})` };
      }
      const r = await pushHttps(this.gitDir, url, scratch, dst, lease, { env: this.env, deadlineAt, onMessage });
      if (r.ok) return r.old === null ? { flag: '*', from, to: dst, summary: '[new reference]' } : { flag: ' ', from, to: dst, summary: `${r.old.slice(0, 7)}..${src.slice(0, 7)}` };
      return { flag: '!', from, to: dst, summary: r.reason === 'stale' ? '[rejected] (stale info)' : `[remote rejected] (${r.message})` };
    } finally {
      const f = join(this.gitDir, scratch);
      if (existsSync(f)) unlinkSync(f);
    }
  }

  async lsRemote(remote: string, patterns: string[] | 'heads', opts: { timeoutMs?: number } = {}): Promise<Git.RemoteRefs> {
    const url = await this.urlOf(remote);
    const kind = hubKind(url);
    if (kind === 'unsupported') return { ok: false, code: 128, refs: new Map(), stderr: new UnsupportedHubError(url).message };
    let all: Map<string, string>;
    try {
      if (kind === 'https') {
        all = await lsRemoteHttps(url, { gitDir: this.gitDir, env: this.env, deadlineAt: this.deadline(opts.timeoutMs) }, '');
      } else {
        await probeFileHub(url, this.deadline(opts.timeoutMs), this.env, this.deadlineAt());
        const hub = fileHubDir(url);
        if (!hub) return { ok: false, code: 128, refs: new Map(), stderr: `fatal: '${url}' does not appear to be a git repository` };
        all = listRefFiles(hub);
      }
    } catch (e) {
      const g = hubError('ls-remote', url, e);
      if (g.timedOut) throw g;
      return { ok: false, code: 128, refs: new Map(), stderr: g.stderr };
    }
    const refs = new Map<string, string>();
    for (const [k, v] of all) if (patterns === 'heads' ? k.startsWith('refs/heads/') : patterns.some((p) => k === p || k.endsWith(`/${p}`))) refs.set(k, v);
    return { ok: true, code: 0, refs, stderr: '' };
  }

  async bundleCreate(): Promise<void> {
    throw unsupported('bundle create');
  }

  async housekeeping(): Promise<void> {
    // isomorphic-git has no gc: loose objects stay loose (docs/engines.md)
  }
}

/** A .gitattributes pattern as a regular expression over a path relative to its directory. */
function globRe(pat: string): RegExp {
  const anchored = pat.includes('/') && !pat.endsWith('/');
  const p = pat.replace(/^\//, '');
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*' && p[i + 1] === '*') {
      re += '.*';
      i++;
      if (p[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(anchored ? `^${re}$` : `(^|/)${re}$`);
}

export class IsoGitEngine implements Git.GitEngine {
  readonly name = 'isomorphic-git' as const;
  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly deadlineAt: () => number | null = () => null,
  ) {}

  async gitDirOf(dir: string): Promise<string> {
    let cur = resolve(dir);
    for (;;) {
      if (existsSync(join(cur, 'HEAD')) && existsSync(join(cur, 'objects')) && existsSync(join(cur, 'refs'))) return cur;
      const found = await this.discover(cur);
      if (found) return found.gitDir;
      const up = dirname(cur);
      if (up === cur) throw fail('rev-parse', `${dir} is not in a git repository`, 128);
      cur = up;
    }
  }

  async discover(dir: string): Promise<{ root: string; gitDir: string } | null> {
    let cur = resolve(dir);
    for (;;) {
      const dotgit = join(cur, '.git');
      if (existsSync(join(dotgit, 'HEAD'))) return { root: cur, gitDir: dotgit };
      if (existsSync(dotgit) && statSync(dotgit).isFile()) {
        const m = /^gitdir: (.+)$/m.exec(readFileSync(dotgit, 'utf8'));
        if (m) return { root: cur, gitDir: resolve(cur, m[1]!.trim()) };
      }
      const up = dirname(cur);
      if (up === cur) return null;
      cur = up;
    }
  }

  async detect(gitDir: string, root: string): Promise<Git.Capabilities> {
    const { found, caps, linked } = capabilitiesFromFiles(gitDir);
    const refuse = (what: string): never => {
      throw fail('open', `${root}: ${what}; the isomorphic-git engine reads SHA-1 repositories with refs in files only: install git`, 1);
    };
    if (!found) refuse('its .git/config holds what only git reads (an include or an unknown format)');
    if (caps.objectFormat !== 'sha1') refuse(`a ${caps.objectFormat.toUpperCase().replace('SHA', 'SHA-')} repository`);
    if (caps.refStorage !== 'files') refuse(`refs in ${caps.refStorage}`);
    if (linked) refuse('a linked worktree');
    return { ...choose('sha1', 'files', false, true, [], 'isomorphic-git'), why: 'object format sha1, refs in files (isomorphic-git: everything in-process)' };
  }

  open(root: string, gitDir: string, caps: Git.Capabilities): Git.GitBackend {
    return new IsoGit(root, gitDir, caps, this.env, this.deadlineAt);
  }

  async init(dir: string, branch: string): Promise<void> {
    const git = await loadIso();
    await git.init({ fs, dir, defaultBranch: branch });
  }

  async clone(url: string, dir: string, opts: { timeoutMs?: number; fsck: ReadonlyArray<readonly [string, string]> }): Promise<void> {
    const kind = hubKind(url);
    if (kind === 'unsupported') throw fail('clone', new UnsupportedHubError(url).message, 128);
    const git = await loadIso();
    await git.init({ fs, dir, defaultBranch: 'main' });
    const gitDir = join(dir, '.git');
    await git.setConfig({ fs, gitdir: gitDir, path: 'remote.origin.url', value: url });
    await git.setConfig({ fs, gitdir: gitDir, path: 'remote.origin.fetch', value: '+refs/heads/*:refs/remotes/origin/*' });
    const be = new IsoGit(dir, gitDir, choose('sha1', 'files', false, true, [], 'isomorphic-git'), this.env, () => (opts.timeoutMs ? Date.now() + opts.timeoutMs : this.deadlineAt()));
    if (kind === 'https') httpFor(url, { gitDir, env: this.env }); // a CA path that cannot be read fails here, before any object
    const r = await be.fetch('origin', ['+refs/heads/*:refs/remotes/origin/*'], { timeoutMs: opts.timeoutMs });
    if (!r.ok && !r.missingRemoteRef) throw fail('clone', r.stderr.trim(), 128);
  }

  async configAt(dir: string, key: string): Promise<string | null> {
    const found = await this.discover(dir);
    if (!found) return null;
    const k = lowerKey(key);
    let v: string | null = null;
    for (const [a, b] of configPairs(found.gitDir, this.env)) if (a === k) v = b;
    return v;
  }

  async setConfigAt(dir: string, key: string, value: string): Promise<void> {
    const found = await this.discover(dir);
    if (!found) throw fail('config', `${dir} is not in a git repository`, 128);
    const git = await loadIso();
    await git.setConfig({ fs, gitdir: found.gitDir, path: key, value });
  }

  async version(): Promise<string | null> {
    const git = await loadIso();
    return `isomorphic-git ${git.version()}`;
  }
}

/**
 * `changes` made free of file/directory conflicts the way git's index resolves
 * them when `update-index --index-info` adds an entry: a file added at P
 * removes every entry beneath P/, and one added beneath a file Q removes Q; a
 * later change wins over an earlier one. The result, applied to `tree`, gives
 * the tree git's write-tree would.
 */
async function replacing(read: (oid: string) => Promise<Buffer | null>, tree: string | null, changes: Git.IndexChange[]): Promise<Git.IndexChange[]> {
  const DIR = '40000';
  const latin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
  const utf8 = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
  /** the entry of `tree` at `path` (UTF-8 components), or null */
  const at = async (path: string): Promise<{ mode: string; oid: string } | null> => {
    let cur: { mode: string; oid: string } | null = tree ? { mode: DIR, oid: tree } : null;
    for (const part of path.split('/')) {
      if (!cur || cur.mode !== DIR) return null;
      const buf = await read(cur.oid);
      cur = (buf ? parseTree(buf) : []).find((e) => e.name === latin1(part)) ?? null;
    }
    return cur;
  };
  /** every non-directory path beneath the directory `oid` (at `prefix`) */
  const beneath = async (oid: string, prefix: string): Promise<string[]> => {
    const buf = await read(oid);
    const out: string[] = [];
    for (const e of buf ? parseTree(buf) : []) {
      const p = `${prefix}/${utf8(e.name)}`;
      if (e.mode === DIR) out.push(...(await beneath(e.oid, p)));
      else out.push(p);
    }
    return out;
  };
  const removal = (path: string): Git.IndexChange => ({ path, mode: '0', oid: ZERO });
  const final = new Map<string, Git.IndexChange>();
  const isFile = async (path: string): Promise<boolean> => {
    const f = final.get(path);
    if (f) return f.mode !== '0';
    const e = await at(path);
    return e !== null && e.mode !== DIR;
  };
  for (const c of changes) {
    if (c.mode !== '0' && !/^0+$/.test(c.oid)) {
      const parts = c.path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const q = parts.slice(0, i).join('/');
        if (await isFile(q)) final.set(q, removal(q));
      }
      for (const p of [...final.keys()]) if (p.startsWith(`${c.path}/`) && final.get(p)!.mode !== '0') final.set(p, removal(p));
      const e = await at(c.path);
      if (e && e.mode === DIR) for (const p of await beneath(e.oid, c.path)) if (!final.has(p)) final.set(p, removal(p));
    }
    final.delete(c.path); // a later change goes after the earlier ones
    final.set(c.path, c);
  }
  return [...final.values()];
}
