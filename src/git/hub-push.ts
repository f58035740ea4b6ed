/**
 * `git push` to a hub on this machine (a bare repository path), done
 * in-process when git's own push would do nothing but copy a commit's new
 * objects and move refs: no receive-pack, pack-objects, unpack-objects and
 * connectivity rev-list (about 50 ms a push on the machines measured,
 * docs/performance.md, "Issue #14, seventh pass").
 *
 * It is taken only where the result is git's, byte for byte in the hub
 * (test/git/hub-push.test.ts pushes the same commits both ways and
 * compares), and anything else is left to git (`null`):
 *
 * - the remote is a named remote with one URL, an absolute path or a
 *   `file://` URL to a bare repository owned by this user (git refuses
 *   another user's: safe.directory), with no pushurl, push refspecs,
 *   receivepack, URL rewriting, submodule.* or push.* setting that changes
 *   a push;
 * - the hub: sha1 objects, refs in files (no reftable, no extensions), not
 *   shallow, no hooks (any file in hooks/ but git's `.sample`s), no
 *   reflogs (logs/), no linked worktrees (a branch checked out there is
 *   refused by git), and no config git's receive-pack reads to do more or
 *   to write otherwise (receive.*, transfer.*, fsck.*, hook.*,
 *   maintenance.*, gc.* past its two thresholds, core.hooksPath,
 *   core.logAllRefUpdates, core.sharedRepository, core.fsync*);
 * - each destination ref a plain id in a regular file or packed-refs (a
 *   symbolic ref, whose target git would move, goes to git);
 * - each refspec `SRC:DST` a commit id onto a full ref name: a plain one
 *   only when the commit's one parent is DST's value on the hub (a
 *   fast-forward by one commit), a forced one (`+`) only for a root commit
 *   (a heartbeat); fewer than 100 objects in all (git's unpackLimit: past
 *   it git writes a pack), at most 16 MiB of them;
 * - every object read here hashes to its id (a damaged local object is
 *   left to git, which reports it).
 *
 * The objects sent are those of the new commit's tree that differ from its
 * parent's tree at the same path (an unchanged subtree is not opened: the
 * hub holds it with its parent), written loose in dependency order (a
 * blob and a subtree before the tree naming it, the commit last), as
 * git's unpack-objects writes a small push; then each ref moves by
 * compare-and-swap under git's own lock (iso/refs.ts casRef), so a
 * concurrent git push or agentgit makes one of them lose, never both win.
 * The hub's automatic housekeeping is asked as receive-pack asks it
 * (`housekeeping` in the result: the caller runs git's). A ref lock held
 * on the hub (another push at work, or one killed there) is left to git's
 * push, which waits for it as git does and refuses; nothing here removes a
 * lock on the hub.
 *
 * Only on a local filesystem (ext4, xfs, btrfs, tmpfs, overlayfs, zfs,
 * f2fs): these calls are synchronous, and a network mount that stalls
 * would block the process past the round's deadline, where git's push is
 * a process the deadline stops. Every hub file read is checked to be a
 * regular file first (a FIFO would block the read).
 *
 * `AGENTGIT_HUB_PUSH=git` leaves every push to git (a comparison, a doubt).
 */
import { existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { PushedRef } from './backend.js';
import { readConfigPairs } from './config.js';
import { housekeepingDueAt } from './housekeeping.js';
import { casRef, packedRefs, RefLockBusyError, RefMovedError } from './iso/refs.js';
import { objectOid, parseCommitHeader, writeObjectSync, type ObjectType } from './objects.js';
import { lazyZlib } from './pack.js';
import { parseTree } from './tree.js';

/** What the push did, as `git push --porcelain` would report it. */
export interface HubPushDone {
  url: string;
  hub: string;
  refs: PushedRef[];
  /** Local refs git's push moves after it (the remote's fetch refspecs map the pushed refs to them): ref -> id. */
  tracking: Map<string, string>;
  /** The hub's automatic housekeeping is due: receive-pack would run `git maintenance run --auto` now. */
  housekeeping: boolean;
}

/** Where a push to `remote` would go and what it moves; null: git must do it. */
interface Plan {
  url: string;
  hub: string;
  hubConfig: Map<string, string>;
  fetchSpecs: string[];
  updates: Array<{ src: string; dst: string; force: boolean }>;
}

const TREE_MODE = '40000';
const GITLINK_MODE = '160000';
/** git's transfer.unpackLimit: a push of this many objects or more is kept as a pack (left to git). */
const UNPACK_LIMIT = 100;
/** What the objects of one in-process push may hold in all (bytes read into memory); past it git pushes. */
const MAX_BYTES = 16 << 20;
/** Hub settings git's receive-pack (or what it starts) reads to do more than unpack and move refs, or to write them otherwise. */
const HUB_CONFIG_DENIED = /^(receive|transfer|fsck|hook|maintenance|extensions)\.|^gc\.(?!auto$|autopacklimit$)|^core\.(hookspath|logallrefupdates|sharedrepository|worktree|fsync|fsyncobjectfiles|fsyncmethod)$/;
/** Local settings that change where or what `git push` sends. */
const LOCAL_PUSH_DENIED = /^url\.|^push\.(?!default$|autosetupremote$)|^submodule\./;
/**
 * Filesystems whose calls return (statfs f_type): a hub on anything else
 * (NFS, SMB, FUSE, 9p: a mount that can stall) is pushed to by git, whose
 * process the round's deadline can stop; these calls are synchronous.
 */
const LOCAL_FILESYSTEMS = new Set([
  0xef53, // ext2/3/4
  0x58465342, // xfs
  0x9123683e, // btrfs
  0x01021994, // tmpfs
  0x794c7630, // overlayfs
  0x2fc12fc1, // zfs
  0xf2f52010, // f2fs
  0x858458f6, // ramfs
]);

/** What this repository's settings say of the push (no hub file read yet): null when git must push. */
function planLocal(gitDir: string, remote: string, refspecs: readonly string[], env: NodeJS.ProcessEnv): { url: string; path: string; fetchSpecs: string[] } | null {
  if (env.AGENTGIT_HUB_PUSH === 'git' || !/^[A-Za-z0-9._-]+$/.test(remote) || refspecs.length === 0) return null;
  if (env.GIT_OBJECT_DIRECTORY || env.GIT_ALTERNATE_OBJECT_DIRECTORIES || env.GIT_QUARANTINE_PATH || env.GIT_NAMESPACE) return null;
  const local = readConfigPairs(gitDir, env);
  if (!local) return null;
  const mine = `remote.${remote}.`;
  const urls: string[] = [];
  const fetchSpecs: string[] = [];
  for (const [k, v] of local) {
    if (LOCAL_PUSH_DENIED.test(k)) return null;
    if (!k.startsWith(mine)) continue;
    const name = k.slice(mine.length);
    if (name === 'url') urls.push(v);
    else if (name === 'fetch') {
      if (v.startsWith('^')) return null; // a negative refspec: git's matching, not trackingRef's
      fetchSpecs.push(v);
    } else if (name === 'pushurl' || name === 'push' || name === 'receivepack' || name === 'mirror' || name === 'vcs') return null;
  }
  if (urls.length !== 1) return null; // none, or several: git pushes to each
  const url = urls[0]!;
  const path = url.startsWith('file://') ? decodeURIComponentOrNull(url.slice(7)) : url;
  if (!path || !isAbsolute(path) || /[\0\n]/.test(path)) return null;
  return { url, path, fetchSpecs };
}

/** The hub's side of the plan (synchronous reads: called only for a hub on a local filesystem, localFilesystem). */
function planHub(local: { url: string; path: string; fetchSpecs: string[] }, refspecs: readonly string[], env: NodeJS.ProcessEnv): Plan | null {
  const { url, path, fetchSpecs } = local;
  try {
    const st = statSync(path);
    if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) return null;
    for (const f of ['HEAD', 'objects', 'refs', 'config']) if (!existsSync(join(path, f))) return null;
    // a shallow hub, reftable, a linked worktree's git dir, reflogs to keep, a worktree with a branch checked out: git
    for (const f of ['shallow', 'reftable', 'logs', 'commondir', 'gitdir', 'worktrees']) if (existsSync(join(path, f))) return null;
    for (const h of readdirSync(join(path, 'hooks'), { withFileTypes: true }).map((e) => e.name)) if (!h.endsWith('.sample')) return null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return null;
    // no hooks/ at all: none to run; anything else missing was caught above
    if (!existsSync(join(path, 'HEAD'))) return null;
  }
  // every hub file read below is a regular file (or absent): a FIFO or a device would hang the synchronous read
  if (![join(path, 'config'), join(path, 'packed-refs'), join(path, 'HEAD')].every(plainOrAbsent)) return null;
  const hubPairs = readConfigPairs(path, env);
  if (!hubPairs) return null;
  const hubConfig = new Map(hubPairs);
  if (hubConfig.get('core.bare') !== 'true') return null;
  if (!['0', '1'].includes(hubConfig.get('core.repositoryformatversion') ?? '0')) return null;
  for (const [k] of hubPairs) if (HUB_CONFIG_DENIED.test(k)) return null;
  const updates: Plan['updates'] = [];
  for (const spec of refspecs) {
    const m = /^(\+?)([0-9a-f]{40}):(refs\/[^\0\s:~^?*[\\]+)$/.exec(spec);
    if (!m) return null;
    updates.push({ force: m[1] === '+', src: m[2]!, dst: m[3]! });
  }
  if (new Set(updates.map((u) => u.dst)).size !== updates.length) return null;
  if (!updates.every((u) => plainOrAbsent(join(path, u.dst)))) return null;
  return { url, hub: path, hubConfig, fetchSpecs, updates };
}

/** Hub path -> whether it is on a local filesystem, and until when that answer stands. */
const filesystems = new Map<string, { local: boolean; until: number }>();

/**
 * Whether `path` is on a local filesystem (LOCAL_FILESYSTEMS), asked off
 * the main thread (statfs of a stalled network mount never returns) and
 * given up after 2 s (then: git pushes); the answer is kept 10 minutes.
 */
async function localFilesystem(path: string): Promise<boolean> {
  const known = filesystems.get(path);
  if (known && Date.now() < known.until) return known.local;
  let timer: NodeJS.Timeout | undefined;
  const local = await Promise.race([
    statfs(path).then(
      (st) => LOCAL_FILESYSTEMS.has(Number(st.type)),
      () => false,
    ),
    new Promise<boolean>((done) => {
      timer = setTimeout(() => done(false), 2000);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
  filesystems.set(path, { local, until: Date.now() + 10 * 60_000 });
  return local;
}

/**
 * A hub ref's id from its files, as git reads it: the loose file (a small
 * regular file holding an id), else packed-refs; undefined for anything
 * git would read otherwise (a symbolic ref, whose target git moves, an odd
 * file, a name that clashes with another ref as a directory): git pushes.
 */
function hubRef(hub: string, name: string): string | null | undefined {
  const file = join(hub, name);
  let text: string | null = null;
  try {
    const st = lstatSync(file);
    if (!st.isFile() || st.size > 4096) return undefined;
    text = readFileSync(file, 'latin1');
  } catch (e) {
    // ENOTDIR: a loose ref where this one's directory would be: git refuses the name
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
  }
  if (text !== null) return /^[0-9a-f]{40}\n?$/.test(text) ? text.slice(0, 40) : undefined;
  let packed: Map<string, string>;
  try {
    packed = packedRefs(hub);
  } catch {
    return undefined;
  }
  const value = packed.get(name) ?? null;
  // a new ref whose name is a directory of packed refs, or under a packed ref: git refuses it, and says so
  if (value === null) for (const k of packed.keys()) if (k.startsWith(`${name}/`) || name.startsWith(`${k}/`)) return undefined;
  return value;
}

/** Whether `file` is a regular file or not there (its parent a directory or not there). */
function plainOrAbsent(file: string): boolean {
  try {
    return lstatSync(file).isFile();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

function decodeURIComponentOrNull(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

interface Obj {
  oid: string;
  type: ObjectType;
  body: Buffer;
  /** Its loose file in this repository, when it is one: linked into the hub, not written again. */
  file: string | null;
}

/** Reads this repository's objects, loose files first (no round trip to git), each checked against its id. */
class LocalObjects {
  constructor(
    private readonly gitDir: string,
    private readonly read: (oid: string) => Promise<Buffer | null>,
  ) {}

  /** The object, or null when it is missing, of another type or damaged (git's push will say). */
  async get(oid: string, type: ObjectType): Promise<Obj | null> {
    const file = join(this.gitDir, 'objects', oid.slice(0, 2), oid.slice(2));
    let z: Buffer | null = null;
    try {
      if (statSync(file).size > MAX_BYTES) return null; // a large object: git pushes it
      z = readFileSync(file);
    } catch {
      /* not loose here (packed, or an alternate's): asked of git */
    }
    if (z) {
      let raw: Buffer;
      try {
        raw = lazyZlib().inflateSync(z, { maxOutputLength: MAX_BYTES + 64 }); // a larger object: git pushes it
      } catch {
        return null;
      }
      const nul = raw.indexOf(0);
      const header = `${type} ${raw.length - nul - 1}`;
      if (nul < 0 || raw.toString('latin1', 0, nul) !== header) return null;
      const body = raw.subarray(nul + 1);
      return objectOid(type, body) === oid ? { oid, type, body, file } : null;
    }
    const body = await this.read(oid);
    return body && objectOid(type, body) === oid ? { oid, type, body, file: null } : null;
  }
}

/**
 * The objects of `tree` that differ from `known` (the same path's tree in
 * a commit the hub holds; null: none) at the same path, children first;
 * false when one cannot be read as what it is named.
 */
async function changedObjects(objs: LocalObjects, tree: string, known: string | null, out: Obj[], seen: Set<string>): Promise<boolean> {
  if (tree === known || seen.has(tree)) return true;
  const t = await objs.get(tree, 'tree');
  if (!t) return false;
  const knownEntries = new Map<string, string>();
  if (known) {
    const k = await objs.get(known, 'tree');
    if (!k) return false;
    for (const e of parseTree(k.body)) knownEntries.set(`${e.mode} ${e.name}`, e.oid);
  }
  for (const e of parseTree(t.body)) {
    if (e.mode === GITLINK_MODE) continue; // a submodule's commit is not sent (git's push neither)
    const same = knownEntries.get(`${e.mode} ${e.name}`) ?? null;
    if (e.mode === TREE_MODE) {
      if (!(await changedObjects(objs, e.oid, same, out, seen))) return false;
    } else if (e.oid !== same && !seen.has(e.oid)) {
      const b = await objs.get(e.oid, 'blob');
      if (!b) return false;
      seen.add(e.oid);
      out.push(b);
    }
    if (out.length >= UNPACK_LIMIT) return false;
  }
  seen.add(tree);
  out.push(t);
  return true;
}

/**
 * Put `o` into the hub as a loose object: its loose file here linked
 * there (objects never change once written; git's local clone links them
 * the same way), else written (another filesystem, or packed here).
 */
function copyLoose(hub: string, o: Obj): void {
  if (o.file) {
    const dir = join(hub, 'objects', o.oid.slice(0, 2));
    const dst = join(dir, o.oid.slice(2));
    for (let tries = 0; tries < 2; tries++) {
      try {
        linkSync(o.file, dst);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') return; // the hub has it
        if (code !== 'ENOENT' || tries > 0) break;
        try {
          mkdirSync(dir);
        } catch (m) {
          if ((m as NodeJS.ErrnoException).code !== 'EEXIST') break;
        }
      }
    }
  }
  writeObjectSync(hub, o.type, o.body, o.oid);
}

/** The local ref the remote's fetch refspecs map `ref` to (the first that matches, as git's push), or null. */
export function trackingRef(fetchSpecs: readonly string[], ref: string): string | null {
  for (const raw of fetchSpecs) {
    const spec = raw.startsWith('+') ? raw.slice(1) : raw;
    const colon = spec.indexOf(':');
    if (colon < 0) continue;
    const src = spec.slice(0, colon);
    const dst = spec.slice(colon + 1);
    const star = src.indexOf('*');
    if (star < 0) {
      if (src === ref && dst) return dst;
      continue;
    }
    const pre = src.slice(0, star);
    const post = src.slice(star + 1);
    if (ref.length >= pre.length + post.length && ref.startsWith(pre) && ref.endsWith(post) && dst.includes('*')) {
      return dst.replace('*', ref.slice(pre.length, ref.length - post.length));
    }
  }
  return null;
}

/**
 * Push `refspecs` to `remote` in-process; null when git must (see the
 * header), having written nothing the hub's refs name.
 */
export async function pushToHubInProcess(gitDir: string, remote: string, refspecs: readonly string[], read: (oid: string) => Promise<Buffer | null>, env: NodeJS.ProcessEnv = process.env): Promise<HubPushDone | null> {
  const local = planLocal(gitDir, remote, refspecs, env);
  if (!local || !(await localFilesystem(local.path))) return null;
  const p = planHub(local, refspecs, env);
  if (!p) return null;
  const objs = new LocalObjects(gitDir, read);
  const objects: Obj[] = [];
  const seen = new Set<string>();
  const moves: Array<{ src: string; dst: string; cur: string | null; force: boolean }> = [];
  const refs: PushedRef[] = [];
  const uptodate: string[] = [];
  for (const u of p.updates) {
    const cur = hubRef(p.hub, u.dst);
    if (cur === undefined) return null;
    if (cur === u.src) {
      refs.push({ flag: '=', from: u.src, to: u.dst, summary: '[up to date]' });
      uptodate.push(u.dst);
      continue;
    }
    const commit = await objs.get(u.src, 'commit');
    const header = commit ? parseCommitHeader(commit.body) : null;
    if (!commit || !header) return null;
    let known: string | null = null;
    if (u.force ? header.parents.length !== 0 : cur === null || header.parents.length !== 1 || header.parents[0] !== cur) return null;
    if (cur !== null && !u.force) {
      const parent = await objs.get(cur, 'commit');
      const ph = parent ? parseCommitHeader(parent.body) : null;
      if (!ph) return null;
      known = ph.tree;
    }
    if (!(await changedObjects(objs, header.tree, known, objects, seen))) return null;
    if (!seen.has(u.src)) {
      seen.add(u.src);
      objects.push(commit);
    }
    if (objects.length >= UNPACK_LIMIT || objects.reduce((n, o) => n + o.body.length, 0) > MAX_BYTES) return null;
    moves.push({ ...u, cur });
  }
  if (housekeepingDueAt(p.hub, p.hubConfig)) return null; // git's push runs the hub's housekeeping: let it
  try {
    for (const o of objects) copyLoose(p.hub, o);
  } catch {
    return null; // nothing names them yet: git's push tries and says what is wrong (a full disk, permissions)
  }
  const tracking = new Map<string, string>();
  // git's push sets the tracking ref of a ref it found up to date too
  for (const dst of uptodate) {
    const track = trackingRef(p.fetchSpecs, dst);
    if (track) tracking.set(track, p.updates.find((u) => u.dst === dst)!.src);
  }
  let moved = 0;
  for (const m of moves) {
    try {
      casRef(p.hub, m.dst, m.cur, m.src, { fsync: false }); // as receive-pack: refs are not fsynced by default, and the lock is held for the fewest instants
    } catch (e) {
      // nothing moved yet: git's push tries (it waits core.filesRefLockTimeout for a held lock) and reports
      if (moved === 0 && !(e instanceof RefMovedError)) return null;
      if (!(e instanceof RefLockBusyError || e instanceof RefMovedError)) throw e;
      // as git's receive-pack reports a ref it could not lock or that moved under it
      refs.push({ flag: '!', from: m.src, to: m.dst, summary: '[remote rejected] (failed to update ref)' });
      continue;
    }
    moved++;
    refs.push(
      m.cur === null
        ? { flag: '*', from: m.src, to: m.dst, summary: '[new reference]' }
        : m.force
          ? { flag: '+', from: m.src, to: m.dst, summary: `${m.cur.slice(0, 7)}...${m.src.slice(0, 7)} (forced update)` }
          : { flag: ' ', from: m.src, to: m.dst, summary: `${m.cur.slice(0, 7)}..${m.src.slice(0, 7)}` },
    );
    const track = trackingRef(p.fetchSpecs, m.dst);
    if (track) tracking.set(track, m.src);
  }
  return { url: p.url, hub: p.hub, refs, tracking, housekeeping: moved > 0 && housekeepingDueAt(p.hub, p.hubConfig) };
}
