/**
 * `.git/index` for the isomorphic-git engine, written and read the way git
 * does it:
 *
 *  - writes go through `index.lock` (O_CREAT|O_EXCL: another git or
 *    agentgit holds it → fail, as git does), fsync, rename over the index;
 *    isomorphic-git itself truncates and rewrites in place, so a kill -9 or
 *    ENOSPC mid-write would leave an empty index (isoFs below routes its
 *    writes here);
 *  - an unreadable index (empty, bad signature, bad checksum, truncated) is
 *    rebuilt from HEAD's tree with zeroed stat data, so the next status
 *    re-hashes every file and reports the work tree as it is (the index only
 *    ever holds what is also in the work tree or in HEAD: nothing is lost);
 *  - racily clean entries (mtime not older than the index file itself: the
 *    file may have been rewritten in the same timestamp tick as the status
 *    that recorded its stat data) get their size zeroed before a status, as
 *    git's racy-git rule does, so that status re-hashes them.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { resolve } from 'node:path';
import { GitError } from '../exec.js';

/** One entry of a rebuilt index: path (raw bytes of the tree), mode (octal text), id. */
export interface IndexSeed {
  path: Buffer;
  mode: string;
  oid: string;
}

/**
 * Take `path.lock` (exclusive: another git or agentgit holding it fails, as
 * git does), read `path` under it (null: missing), and write what `update`
 * returns through the lock (fsync, rename: all or nothing); `update`
 * returning null releases the lock and leaves the file as it is.
 */
export async function updateLocked(path: string, update: (current: Buffer | null) => Buffer | null | Promise<Buffer | null>): Promise<void> {
  const lock = `${path}.lock`;
  let fd: number;
  try {
    fd = fs.openSync(lock, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      const message = `Unable to create '${lock}': File exists. Another git or agentgit is writing the index; try again (remove the file only if no git is running)`;
      throw new GitError(message, ['update-index'], 128, `fatal: ${message}\n`, false);
    }
    throw e;
  }
  let done = false;
  try {
    let current: Buffer | null = null;
    try {
      current = fs.readFileSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const data = await update(current);
    if (data === null) return;
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(lock, path);
    done = true;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    if (!done) fs.rmSync(lock, { force: true });
  }
}

/** Write `data` to `path` through `path.lock` (exclusive), fsync, rename: all or nothing. */
export function writeLocked(path: string, data: Uint8Array): Promise<void> {
  return updateLocked(path, () => Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

/** node:fs for isomorphic-git, with writes of `<gitDir>/index` made atomic (writeLocked). */
export function isoFs(gitDir: string): { promises: typeof fs.promises } {
  const index = resolve(gitDir, 'index');
  const writeFile = (async (file: unknown, data: unknown, opts: unknown) => {
    if (typeof file === 'string' && resolve(file) === index) return writeLocked(index, typeof data === 'string' ? Buffer.from(data) : (data as Uint8Array));
    return fs.promises.writeFile(file as string, data as string, opts as fs.WriteFileOptions);
  }) as typeof fs.promises.writeFile;
  return { promises: { ...fs.promises, writeFile } };
}

/** Where each entry of a v2/v3 index starts, or null when the file is not a readable index. */
function entryOffsets(buf: Buffer): { version: number; offsets: number[] } | null {
  if (buf.length < 32 || buf.toString('latin1', 0, 4) !== 'DIRC') return null;
  const version = buf.readUInt32BE(4);
  if (version < 2 || version > 4) return null;
  if (createHash('sha1').update(buf.subarray(0, -20)).digest('hex') !== buf.toString('hex', buf.length - 20)) return null;
  const offsets: number[] = [];
  if (version === 4) return { version, offsets }; // prefix-compressed paths: readable, not walked here
  const count = buf.readUInt32BE(8);
  let o = 12;
  for (let i = 0; i < count; i++) {
    if (o + 62 > buf.length - 20) return null;
    const extended = version === 3 && (buf.readUInt16BE(o + 60) & 0x4000) !== 0;
    const nameAt = o + 62 + (extended ? 2 : 0);
    const nul = buf.indexOf(0, nameAt);
    if (nul < 0 || nul >= buf.length - 20) return null;
    offsets.push(o);
    o = o + ((nameAt - o + (nul - nameAt) + 8) & ~7);
  }
  return { version, offsets };
}

/** Extensions that only cache or index what the entries say: dropped when the entries change (isomorphic-git writes none either). */
const CACHE_EXTENSIONS = new Set(['TREE', 'REUC', 'UNTR', 'FSMN', 'EOIE', 'IEOT']);

/** One entry with zeroed stat data (what the next status re-hashes), as isomorphic-git's updateIndex writes an entry given by id. */
function seedEntry(s: IndexSeed): Buffer {
  const e = Buffer.alloc((62 + s.path.length + 8) & ~7);
  e.writeUInt32BE(parseInt(s.mode, 8), 24);
  Buffer.from(s.oid, 'hex').copy(e, 40);
  e.writeUInt16BE(Math.min(s.path.length, 0xfff), 60);
  s.path.copy(e, 62);
  return e;
}

/** An index of `version` holding `entries` (raw, any order: sorted here by path), no extension. */
function indexOf(version: number, entries: Array<{ path: Buffer; raw: Buffer }>): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.path, b.path));
  const head = Buffer.alloc(12);
  head.write('DIRC', 0, 'latin1');
  head.writeUInt32BE(version, 4);
  head.writeUInt32BE(sorted.length, 8);
  const body = Buffer.concat([head, ...sorted.map((e) => e.raw)]);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

/**
 * Apply `changes` (a path to a mode and id; mode 0 or a zero id removes
 * it) to `<gitDir>/index` in one write under index.lock, as git's
 * `update-index --index-info` does (a later change to a path wins; a file
 * replaces the entries beneath it and the files above it), where
 * isomorphic-git would rewrite and fsync the whole index once per path.
 * False, with nothing written, when the index is one this does not edit
 * (version 4, an unmerged entry, an extension other than the caches, or
 * unreadable): the caller applies the changes one by one instead.
 */
export async function editIndex(gitDir: string, changes: Array<{ path: string; mode: string; oid: string }>): Promise<boolean> {
  if (changes.length === 0) return true;
  let edited = false;
  await updateLocked(resolve(gitDir, 'index'), (current) => {
    let version = 2;
    const entries = new Map<string, { path: Buffer; raw: Buffer }>();
    if (current !== null) {
      const parsed = entryOffsets(current);
      if (!parsed || parsed.version === 4) return null;
      version = parsed.version;
      let end = 12;
      for (const o of parsed.offsets) {
        const flags = current.readUInt16BE(o + 60);
        if ((flags & 0x3000) !== 0) return null; // an unmerged entry (stage 1-3)
        const nameAt = o + 62 + (version === 3 && (flags & 0x4000) !== 0 ? 2 : 0);
        const nul = current.indexOf(0, nameAt);
        end = o + ((nameAt - o + (nul - nameAt) + 8) & ~7);
        const path = current.subarray(nameAt, nul);
        entries.set(path.toString('latin1'), { path, raw: current.subarray(o, end) });
      }
      for (let x = end; x < current.length - 20; ) {
        if (x + 8 > current.length - 20 || !CACHE_EXTENSIONS.has(current.toString('latin1', x, x + 4))) return null;
        x += 8 + current.readUInt32BE(x + 4);
      }
    }
    for (const c of changes) {
      const path = Buffer.from(c.path, 'utf8');
      const key = path.toString('latin1');
      if (c.mode === '0' || /^0+$/.test(c.oid)) {
        entries.delete(key);
        continue;
      }
      // git's add_cache_entry with OK_TO_REPLACE: a file replaces the entries beneath it, and the files above it
      for (const k of entries.keys()) if (k.startsWith(`${key}/`)) entries.delete(k);
      for (let i = key.indexOf('/'); i > 0; i = key.indexOf('/', i + 1)) entries.delete(key.slice(0, i));
      entries.set(key, { path, raw: seedEntry({ path, mode: c.mode, oid: c.oid }) });
    }
    edited = true;
    return indexOf(version, [...entries.values()]);
  });
  return edited;
}

/** A v2 index of `seeds` with zeroed stat data (every entry gets re-hashed by the next status). */
export function indexFromSeeds(seeds: IndexSeed[]): Buffer {
  return indexOf(2, seeds.map((s) => ({ path: s.path, raw: seedEntry(s) })));
}

/**
 * Make `<gitDir>/index` safe to hand to isomorphic-git: rebuild it from
 * `seeds()` (HEAD's tree) when it is unreadable, and zero the size of its
 * racily clean entries. A missing index is left missing (git's meaning: empty).
 */
export async function readyIndex(gitDir: string, seeds: () => Promise<IndexSeed[]>): Promise<void> {
  const path = resolve(gitDir, 'index');
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  // read without the lock first (as git status does): most of the time there is nothing to write
  if (readied(buf, fs.statSync(path, { bigint: true })) === buf) return;
  // then again under index.lock, so that an index another git wrote in between is not overwritten with an older one
  await updateLocked(path, async (current) => {
    if (current === null) return null; // removed in between: git's meaning is empty, nothing to repair
    const next = readied(current, fs.statSync(path, { bigint: true }));
    if (next === current) return null;
    return next ?? indexFromSeeds(await seeds());
  });
}

/**
 * The index as isomorphic-git may read it: `buf` itself when nothing is to
 * change, a copy with the racily clean entries' sizes zeroed, or null when
 * it is unreadable (to be rebuilt from HEAD).
 */
function readied(buf: Buffer, st: fs.BigIntStats): Buffer | null {
  const parsed = entryOffsets(buf);
  if (!parsed) return null;
  // racy git: an entry whose mtime is not older than the index's may hide a same-size rewrite.
  // Whole seconds, as git without USE_NSEC: isomorphic-git records nanoseconds from a float
  // of milliseconds (a few hundred ns off), so a finer comparison could miss the same tick.
  const indexSec = Number(st.mtimeNs / 1_000_000_000n) % 0x100000000;
  let out = buf;
  for (const o of parsed.offsets) {
    if (buf.readUInt32BE(o + 8) >= indexSec && buf.readUInt32BE(o + 36) !== 0) {
      if (out === buf) out = Buffer.from(buf);
      out.writeUInt32BE(0, o + 36);
    }
  }
  if (out === buf) return buf;
  createHash('sha1').update(out.subarray(0, -20)).digest().copy(out, out.length - 20);
  return out;
}
