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

/** Write `data` to `path` through `path.lock` (exclusive), fsync, rename: all or nothing. */
export function writeLocked(path: string, data: Uint8Array): void {
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

/** A v2 index of `seeds` with zeroed stat data (every entry gets re-hashed by the next status). */
export function indexFromSeeds(seeds: IndexSeed[]): Buffer {
  const sorted = [...seeds].sort((a, b) => Buffer.compare(a.path, b.path));
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.write('DIRC', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(sorted.length, 8);
  parts.push(head);
  for (const s of sorted) {
    const e = Buffer.alloc((62 + s.path.length + 8) & ~7);
    e.writeUInt32BE(parseInt(s.mode, 8), 24);
    Buffer.from(s.oid, 'hex').copy(e, 40);
    e.writeUInt16BE(Math.min(s.path.length, 0xfff), 60);
    s.path.copy(e, 62);
    parts.push(e);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

/**
 * Make `<gitDir>/index` safe to hand to isomorphic-git: rebuild it from
 * `seeds()` (HEAD's tree) when it is unreadable, and zero the size of its
 * racily clean entries. A missing index is left missing (git's meaning: empty).
 */
export async function readyIndex(gitDir: string, seeds: () => Promise<IndexSeed[]>): Promise<void> {
  const path = resolve(gitDir, 'index');
  let buf: Buffer;
  let st: fs.BigIntStats;
  try {
    buf = fs.readFileSync(path);
    st = fs.statSync(path, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const parsed = entryOffsets(buf);
  if (!parsed) {
    writeLocked(path, indexFromSeeds(await seeds()));
    return;
  }
  // racy git: an entry whose mtime is not older than the index's may hide a same-size rewrite.
  // Whole seconds, as git without USE_NSEC: isomorphic-git records nanoseconds from a float
  // of milliseconds (a few hundred ns off), so a finer comparison could miss the same tick.
  const indexSec = Number(st.mtimeNs / 1_000_000_000n) % 0x100000000;
  let racy = false;
  for (const o of parsed.offsets) {
    if (buf.readUInt32BE(o + 8) >= indexSec && buf.readUInt32BE(o + 36) !== 0) {
      buf.writeUInt32BE(0, o + 36);
      racy = true;
    }
  }
  if (!racy) return;
  createHash('sha1').update(buf.subarray(0, -20)).digest().copy(buf, buf.length - 20);
  writeLocked(path, buf);
}
