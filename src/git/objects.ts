/**
 * Object reads and writes without a process per object:
 * - reads through one long-lived `git cat-file --batch`;
 * - object writes in-process (zlib + sha1, exactly git's formats), so
 *   merging 1,000 files spawns nothing per file: as loose objects, or, in a
 *   repository whose round batches them (batchObjects), as one pack.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gitEnv, setBeforeSpawn, trackChild } from './exec.js';
import { deflateLevel1, writePackSync, type PackObject } from './pack.js';


export const ZERO_OID = '0000000000000000000000000000000000000000';
/** The empty tree's id (git knows it whether or not it is stored). */
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

export type ObjectType = 'blob' | 'tree' | 'commit';

/** The git object id of an object with these bytes (sha1 object format). */
export function objectOid(type: ObjectType | 'tag', bytes: Uint8Array): string {
  const h = createHash('sha1');
  h.update(`${type} ${bytes.length}\0`);
  h.update(bytes);
  return h.digest('hex');
}

export function blobOid(bytes: Uint8Array): string {
  return objectOid('blob', bytes);
}

/** Write a blob as a loose object (no-op when it exists). Returns its oid. */
export function writeBlob(gitDir: string, bytes: Uint8Array): Promise<string> {
  return writeObject(gitDir, 'blob', bytes);
}

/**
 * Write an object in-process. Returns its oid. Batched (see batchObjects)
 * when the repository's round asked for it, else a loose object now.
 */
export async function writeObject(gitDir: string, type: ObjectType, bytes: Uint8Array): Promise<string> {
  const batch = batches.get(gitDir);
  if (!batch) return writeObjectSync(gitDir, type, bytes);
  if (bytes.length > BATCH_MAX_BYTES / 4) {
    flushObjects(gitDir); // what a large tree or commit names is on disk before it is
    return writeObjectSync(gitDir, type, bytes);
  }
  const oid = objectOid(type, bytes);
  if (!batch.objects.has(oid)) {
    batch.objects.set(oid, { oid, type, bytes: Buffer.from(bytes) });
    batch.bytes += bytes.length;
  }
  remember(gitDir, oid, bytes);
  if (batch.bytes >= BATCH_MAX_BYTES) flushObjects(gitDir);
  return oid;
}

/**
 * Write a loose object in-process, now. Returns its oid.
 * Synchronous file calls: five small syscalls per object cost far less on
 * the main thread than through libuv's thread pool and its promises (a
 * round writing 2,000 objects spent most of a second there).
 */
export function writeObjectSync(gitDir: string, type: ObjectType, bytes: Uint8Array, known?: string): string {
  const oid = known ?? objectOid(type, bytes);
  const dir = join(gitDir, 'objects', oid.slice(0, 2));
  const file = join(dir, oid.slice(2));
  // Not checked for first: what a round writes is nearly always new, and
  // writing an object again (same bytes, atomically renamed) is harmless.
  // Its fan-out directory neither: it nearly always exists, and a recursive
  // mkdir costs two syscalls per object (a fresh process knows none).
  const header = Buffer.from(`${type} ${bytes.length}\0`);
  // level 1: git's own default for loose objects (core.looseCompression), half
  // the CPU of zlib's default 6 on an 8 KB log; the oid does not depend on it
  const data = deflateLevel1(Buffer.concat([header, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]));
  // git's own temporary name: fsck ignores `tmp_obj_*` and prune clears old ones,
  // so a kill -9 or a full disk mid-write leaves nothing fsck calls corrupt.
  const tmp = join(dir, `tmp_obj_${process.pid}_${Math.random().toString(36).slice(2, 10)}`);
  try {
    let fd: number;
    try {
      fd = openSync(tmp, 'wx', 0o444);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // not there yet (or a gc emptied it): create it (not its parents: a repository whose objects/ is gone is not made again), once more
      try {
        mkdirSync(dir);
      } catch (m) {
        if ((m as NodeJS.ErrnoException).code !== 'EEXIST') throw m; // made meanwhile by another process
      }
      fd = openSync(tmp, 'wx', 0o444);
    }
    try {
      // no fsync: like git's default (core.fsync leaves loose objects out)
      writeFileSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    // a blob may be read back by this round; the trees and commits worth keeping come through writeObject's batch (the git CLI engine)
    if (type === 'blob') remember(gitDir, oid, bytes);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* never created */
    }
    throw e;
  }
  return oid;
}

/**
 * A round's objects, held in memory and written as one pack (git/pack.ts)
 * instead of one loose object each: creating a file costs 100 to 600 µs on
 * the machines measured, and a round merging 100 files wrote ~300 of them
 * (docs/performance.md, "Issue #14, fourth pass").
 *
 * The rule that keeps this safe: an object is on disk before anything
 * outside this process can be asked about it or told its id. So the batch
 * is written (flushObjects) before any git process starts (git/exec.ts
 * calls it), before the object reader asks git for an object of the batch,
 * before the checkout journal names a commit, and when the repository is
 * closed. Only the git CLI engine batches (Repo): the isomorphic-git engine
 * reads objects and writes refs in-process, and always writes loose ones.
 * A kill -9 before a flush loses objects nothing names yet: the round that
 * wrote them had not moved a ref or the index, and the next one starts over.
 */
interface Batch {
  objects: Map<string, PackObject>;
  bytes: number;
}
const batches = new Map<string, Batch>();
/**
 * Fewer objects than this are written loose: git's own rule for what a
 * fetch brings (transfer.unpackLimit, 100), so packs pile up no faster
 * than a fetching git's and its housekeeping (a full repack past
 * gc.autoPackLimit packs) comes as often as it would for git.
 */
export const BATCH_MIN_PACK = 100;
/** A batch is written once it holds this many bytes (memory stays bounded); an object of a quarter of it is written loose at once. */
const BATCH_MAX_BYTES = 32 << 20;

/** From now on, objects written to `gitDir` by this process are batched (see above). */
export function batchObjects(gitDir: string): void {
  if (!batches.has(gitDir)) batches.set(gitDir, { objects: new Map(), bytes: 0 });
  setBeforeSpawn(flushAllObjects);
}

/**
 * Write `gitDir`'s batched objects now: one pack, or loose ones when few.
 * The batch is emptied only once they are written: a write that fails (a
 * full disk) leaves them batched, so every later git process, read or
 * close tries again and fails with the same error instead of going on with
 * ids that name nothing.
 */
export function flushObjects(gitDir: string): void {
  const batch = batches.get(gitDir);
  if (!batch || batch.objects.size === 0) return;
  const objects = [...batch.objects.values()];
  try {
    if (objects.length >= BATCH_MIN_PACK) writePackSync(gitDir, objects);
    else for (const o of objects) writeObjectSync(gitDir, o.type, o.bytes, o.oid);
  } catch (e) {
    throw new Error(`cannot write ${objects.length} objects into ${join(gitDir, 'objects')} (${(e as Error).message}); fix that (disk space, permissions) and sync again: no ref or index names them yet, nothing is lost`);
  }
  batch.objects = new Map();
  batch.bytes = 0;
}

/** Write `gitDir`'s batched objects and stop batching for it (its Repo is closed; later writes are loose). */
export function endBatch(gitDir: string): void {
  try {
    flushObjects(gitDir);
  } finally {
    batches.delete(gitDir);
  }
}

/** Write every repository's batched objects (before a git process starts). */
export function flushAllObjects(): void {
  for (const gitDir of batches.keys()) flushObjects(gitDir);
}

/** Whether `oid` is batched for `gitDir` (any repository's when null), not yet on disk. */
function batched(gitDir: string | null, oid: string): boolean {
  for (const [dir, b] of batches) if ((gitDir === null || dir === gitDir) && b.objects.has(oid)) return true;
  return false;
}

export interface Ident {
  name: string;
  email: string;
}

/** A name and email git would write unchanged (else let git build the commit). */
export function plainIdent(i: Ident): boolean {
  const ok = (s: string): boolean => s.length > 0 && !/[<>\n\0]/.test(s) && s.trim() === s && !/^[.,:;"'\\]|[.,:;"'\\]$/.test(s);
  return ok(i.name) && ok(i.email);
}

/** `1764028800 +0100`: git's ident date for this moment in the local time zone. */
export function gitDate(ms: number): string {
  const off = -new Date(ms).getTimezoneOffset();
  const a = Math.abs(off);
  return `${Math.floor(ms / 1000)} ${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}${String(a % 60).padStart(2, '0')}`;
}

/** The text of a commit object, without a signature (what gets signed). */
export function commitPayload(o: { tree: string; parents: string[]; author: Ident; committer: Ident; when: number; message: string; dates?: { author?: string; committer?: string } }): string {
  const date = gitDate(o.when);
  return [`tree ${o.tree}`, ...o.parents.map((p) => `parent ${p}`), `author ${o.author.name} <${o.author.email}> ${o.dates?.author ?? date}`, `committer ${o.committer.name} <${o.committer.email}> ${o.dates?.committer ?? date}`].join('\n') + `\n\n${o.message}`;
}

/** Insert a `gpgsig` header (after the committer line), as git does. */
export function withSignature(payload: string, armored: string): string {
  const end = payload.indexOf('\n\n');
  const sig = armored.replace(/\n$/, '').split('\n').join('\n ');
  return `${payload.slice(0, end)}\ngpgsig ${sig}${payload.slice(end)}`;
}

/**
 * Split a raw commit into what was signed and its SSH/PGP signature (the
 * `gpgsig` header and its continuation lines), as git's parse_signed_commit.
 */
export function splitSignature(raw: string): { payload: string; signature: string | null } {
  const end = raw.indexOf('\n\n');
  const head = (end < 0 ? raw : raw.slice(0, end)).split('\n');
  const keep: string[] = [];
  const sig: string[] = [];
  let inSig = false;
  for (const l of head) {
    if (l.startsWith('gpgsig ')) {
      inSig = true;
      sig.push(l.slice(7));
    } else if (inSig && l.startsWith(' ')) sig.push(l.slice(1));
    else {
      inSig = false;
      keep.push(l);
    }
  }
  const rest = end < 0 ? '' : raw.slice(end);
  return { payload: keep.join('\n') + rest, signature: sig.length ? sig.join('\n') + '\n' : null };
}

/** A commit's header as git reads it (see parseCommitHeader). */
export interface CommitHeader {
  tree: string;
  parents: string[];
  /** The author's name as git's %an prints it (bytes before the first `<`, trailing blanks cut). */
  author: string;
  /** The committer's name (%cn). */
  committer: string;
}

const HEADER_WORD = /^(tree|parent|author|committer)( |$)/;

/**
 * The one parser of commit headers, exactly git's parse_commit_buffer and
 * pretty.c: `tree` first, then the `parent` lines that immediately follow
 * it, then one `author` and one `committer` line. Strict: null whenever git
 * could read the object differently or refuses it (an uppercase or short
 * id, a `parent` line elsewhere, a second tree/author/committer line, CR,
 * NUL, trailing blanks on an id line), so that callers never decide on an
 * in-process reading git does not share: they ask git, or refuse.
 */
export function parseCommitHeader(raw: Buffer | string): CommitHeader | null {
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  const end = text.indexOf('\n\n');
  const head = end < 0 ? text : text.slice(0, end);
  if (head.includes('\0') || head.includes('\r')) return null;
  const lines = head.split('\n');
  const t = /^tree ([0-9a-f]{40}|[0-9a-f]{64})$/.exec(lines[0] ?? '');
  if (!t) return null;
  const tree = t[1]!;
  const id = new RegExp(`^parent ([0-9a-f]{${tree.length}})$`);
  const parents: string[] = [];
  let i = 1;
  for (let m = id.exec(lines[i] ?? ''); m; m = id.exec(lines[++i] ?? '')) parents.push(m[1]!);
  const name = (word: string, line: string | undefined): string | null => {
    if (!line?.startsWith(`${word} `)) return null;
    const ident = line.slice(word.length + 1);
    const lt = ident.indexOf('<');
    if (lt < 0 || ident.indexOf('>', lt) < 0) return null;
    return Buffer.from(ident.slice(0, lt).replace(/[ \t]+$/, ''), 'latin1').toString('utf8');
  };
  const author = name('author', lines[i]);
  const committer = name('committer', lines[i + 1]);
  if (author === null || committer === null) return null;
  for (const l of lines.slice(i + 2)) if (HEADER_WORD.test(l)) return null;
  return { tree, parents, author, committer };
}

interface Pending {
  /** The oid asked for (a tree or commit read by it is remembered), or null for `rev:path` and the like. */
  oid: string | null;
  resolve: (v: Buffer | null) => void;
  reject: (e: Error) => void;
}

/**
 * Objects this process wrote, and trees and commits it read by id, so that
 * reading one back (the merge reading our just-committed side, a tree built
 * on the last round's, the heartbeat's tree of the head) costs no round
 * trip to cat-file. Content-addressed, so never stale; bounded in bytes,
 * least recently used first out. A watcher keeps a few MiB of it between
 * rounds (forgetWrittenObjects) and drops it all when git's housekeeping
 * may have pruned (dropKeptObjectReaders) or the repository was made again.
 */
const written = new Map<string, Buffer>();
let writtenBytes = 0;
const WRITTEN_MAX_BYTES = 64 * 1024 * 1024;

/** Per repository: an object written to one repo is not in another (a test process opens many). */
function writtenKey(gitDir: string, oid: string): string {
  return `${gitDir}\0${oid}`;
}

/** Drop what the cache holds beyond `keepBytes` (0: all), least recently used first: a long-lived process, between rounds. */
export function forgetWrittenObjects(keepBytes = 0): void {
  while (writtenBytes > keepBytes && written.size > 0) {
    const [first, b] = written.entries().next().value as [string, Buffer];
    written.delete(first);
    writtenBytes -= entryCost(first, b);
  }
}

/** Which repository each git dir path was when last opened (inode, birth time). */
const cacheOwners = new Map<string, string>();

/** A repository opened at `gitDir`: when another one was there before (made again at the same path), the cache forgets what it held. */
function sameRepository(gitDir: string, identity: string): void {
  const was = cacheOwners.get(gitDir);
  if (was !== undefined && was !== identity) forgetWrittenObjects();
  if (cacheOwners.size >= 1024) cacheOwners.clear();
  cacheOwners.set(gitDir, identity);
}

/** What the cache holds (tests). */
export function writtenObjectsBytes(): number {
  return writtenBytes;
}

function remember(gitDir: string, oid: string, bytes: Uint8Array): void {
  const key = writtenKey(gitDir, oid);
  if (bytes.length > WRITTEN_MAX_BYTES / 4 || written.has(key)) return;
  forgetWrittenObjects(WRITTEN_MAX_BYTES - bytes.length); // room for it, the least recently used out first
  // its own memory, not a slice of Node's shared 8 KiB pool (a small kept object would pin a whole slab)
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  copy.set(bytes);
  written.set(key, copy);
  writtenBytes += entryCost(key, copy);
}

/** What an entry of the cache costs: its bytes, its key, and the map's own share. */
function entryCost(key: string, b: Buffer): number {
  return b.length + key.length * 2 + 64;
}

/** The cached object `oid` of `gitDir`, marked as used last. */
function recall(gitDir: string, oid: string): Buffer | undefined {
  const key = writtenKey(gitDir, oid);
  const b = written.get(key);
  if (b) {
    written.delete(key);
    written.set(key, b);
  }
  return b;
}

/**
 * Sessions kept between rounds (a watcher: keepObjectReaders), one per
 * repository: a round then starts no `cat-file` process of its own. A
 * session git reads new loose objects and packs in (it looks again on a
 * miss), so one kept open sees what later rounds write; it is replaced
 * once READER_MAX_AGE_MS old (what git's caches hold stays bounded) and
 * after its process died (a round's deadline kills it).
 */
const keptReaders = new Map<string, { reader: ObjectReader; since: number; ino: number; born: number }>();
let keepReaders = false;
const READER_MAX_AGE_MS = 10 * 60_000;

/** Close every kept session (git's housekeeping repacked: a session would hold the old packs open). */
export function dropKeptObjectReaders(): void {
  for (const { reader } of keptReaders.values()) reader.close(true);
  keptReaders.clear();
  forgetWrittenObjects(); // housekeeping may have pruned what it holds: git is asked again
}

/** From now on (true), a repository's object session outlives its Repo; false closes every kept one. */
export function keepObjectReaders(keep: boolean): void {
  keepReaders = keep;
  if (!keep) {
    for (const { reader } of keptReaders.values()) reader.close();
    keptReaders.clear();
  }
}

/** The object session for a repository: a kept one (keepObjectReaders) when there is one, else a new one. */
export function objectReaderFor(cwd: string, gitDir: string): ObjectReader {
  let ino = -1;
  let born = -1;
  try {
    const st = statSync(gitDir); // a repository made again at the same path (its git would still read the old one)
    ino = st.ino;
    born = st.birthtimeMs;
  } catch {
    /* gone: a new session fails as git does */
  }
  sameRepository(gitDir, `${ino} ${born}`);
  if (!keepReaders) return new ObjectReader(cwd, gitDir);
  const key = `${cwd}\0${gitDir}`;
  const kept = keptReaders.get(key);
  if (kept && Date.now() - kept.since < READER_MAX_AGE_MS && kept.reader.usable() && kept.ino === ino && kept.born === born && kept.reader.inDir(cwd)) return kept.reader;
  if (kept) {
    keptReaders.delete(key);
    kept.reader.close();
  }
  const reader = new ObjectReader(cwd, gitDir, true);
  keptReaders.set(key, { reader, since: Date.now(), ino, born });
  return reader;
}

const EMPTY = Buffer.alloc(0);
const OID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** A `git cat-file --batch` session. Call close() when done. */
export class ObjectReader {
  private child: ChildProcessWithoutNullStreams | null = null;
  private buf: Buffer = Buffer.alloc(0);
  /** Chunks held back until `need` bytes are there (no copy per chunk of a large object). */
  private parts: Buffer[] = [];
  private partsLength = 0;
  private need = 0;
  private queue: Pending[] = [];
  /** Requests not yet written: sent together, one write for many reads. */
  private requests: string[] = [];
  private failed: Error | null = null;

  /** `gitDir`: the repository's git dir, to find the blobs this process wrote there (none when omitted). */
  constructor(
    private readonly cwd: string,
    private readonly gitDir: string | null = null,
    /** Kept between rounds (objectReaderFor): close() leaves it open; only keepObjectReaders(false) ends it. */
    private readonly kept = false,
  ) {}

  /** Whether reads can still be answered (its git has not died). */
  usable(): boolean {
    return this.failed === null;
  }

  /**
   * Whether its git still works in `dir` (Linux: /proc/PID/cwd is that
   * directory, not one deleted and made again at the same path, which may
   * even reuse the inode number); true where /proc cannot tell.
   */
  inDir(dir: string): boolean {
    if (!this.child?.pid) return true;
    try {
      const theirs = statSync(`/proc/${this.child.pid}/cwd`);
      const ours = statSync(dir);
      return theirs.ino === ours.ino && theirs.dev === ours.dev && theirs.birthtimeMs === ours.birthtimeMs;
    } catch {
      return true;
    }
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn('git', ['cat-file', '--batch'], { cwd: this.cwd, env: gitEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    trackChild(child); // killed at the round's deadline (git/exec.ts)
    child.stdout.on('data', (d: Buffer) => {
      if (this.need > 0 && this.buf.length + this.partsLength + d.length < this.need) {
        this.parts.push(d);
        this.partsLength += d.length;
        return;
      }
      this.buf = Buffer.concat([this.buf, ...this.parts, d]);
      this.parts = [];
      this.partsLength = 0;
      this.drain();
    });
    const fail = (e: Error): void => {
      this.failed = e;
      for (const p of this.queue.splice(0)) p.reject(e);
    };
    child.on('error', (e) => fail(new Error(`git cat-file: ${e.message}`)));
    child.on('close', () => fail(new Error('git cat-file --batch ended early')));
    child.stdin.on('error', () => undefined);
    this.child = child;
    return child;
  }

  private drain(): void {
    this.need = 0;
    while (this.queue.length > 0) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const header = this.buf.subarray(0, nl).toString('utf8');
      if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
        this.buf = this.buf.subarray(nl + 1);
        this.queue.shift()!.resolve(null);
        continue;
      }
      const [name, type, sizeText] = header.split(' ');
      const size = Number(sizeText);
      if (this.buf.length < nl + 1 + size + 1) {
        this.need = nl + 1 + size + 1;
        return;
      }
      const body = Buffer.from(this.buf.subarray(nl + 1, nl + 1 + size));
      this.buf = this.buf.length === nl + 1 + size + 1 ? EMPTY : this.buf.subarray(nl + 1 + size + 1); // a large object's buffer is not kept by an empty view
      const p = this.queue.shift()!;
      // a tree or commit asked for by its id, as git answered (its id checked: content-addressed, so it is this id's for good)
      if (p.oid !== null && p.oid === name && (type === 'tree' || type === 'commit') && this.gitDir !== null && objectOid(type, body) === p.oid) remember(this.gitDir, p.oid, body);
      p.resolve(body);
    }
  }

  /** Content of an object by oid or `rev:path`; null when missing. */
  read(spec: string): Promise<Buffer | null> {
    const mine = this.gitDir === null ? undefined : recall(this.gitDir, spec);
    if (mine) return Promise.resolve(Buffer.from(mine));
    if (this.failed) return Promise.reject(this.failed);
    // an object of this round's batch (or a path inside one): git is asked only once it is on disk
    if (batches.size > 0 && batched(this.gitDir, spec.slice(0, 40))) {
      try {
        if (this.gitDir === null) flushAllObjects();
        else flushObjects(this.gitDir);
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    if (spec.includes('\n')) return Promise.resolve(null);
    // cat-file reads its input a line at a time and drops a CR before the LF: it would answer for another name
    if (spec.endsWith('\r')) return Promise.reject(new Error(`git cat-file --batch cannot be asked for ${JSON.stringify(spec)}: a name ending in a carriage return reads as another name; rename the file`));
    // `:path` names the index, which a long-lived git reads once: a kept session would answer with an old one
    if (this.kept && spec.startsWith(':')) return Promise.reject(new Error(`git cat-file: ${spec}: index paths are not read through a session kept between rounds`));
    const child = this.start();
    return new Promise((resolve, reject) => {
      this.queue.push({ oid: OID.test(spec) ? spec : null, resolve, reject });
      this.requests.push(spec + '\n');
      if (this.requests.length === 1) {
        queueMicrotask(() => {
          const lines = this.requests.join('');
          this.requests = [];
          child.stdin.write(lines);
        });
      }
    });
  }

  /** End the session (a kept one stays open for the next round unless `force`). */
  close(force = false): void {
    const key = `${this.cwd}\0${this.gitDir}`;
    if (this.kept && keptReaders.get(key)?.reader === this) {
      // a kept session stays open for the next round; one with reads pending (a round that failed midway) or a dead git is dropped
      if (!force && keepReaders && this.queue.length === 0 && this.failed === null) return;
      keptReaders.delete(key);
    }
    // reads still waiting are answered: nobody is left hanging on a git that is stopped
    const pending = this.queue.splice(0);
    for (const p of pending) p.reject(new Error('git cat-file --batch was closed'));
    if (!this.child) return;
    this.child.removeAllListeners('close');
    this.child.stdin.end();
    // reads still pending (a round that failed midway): stop git now rather
    // than wait for it to stream what nobody will read
    if (pending.length > 0) this.child.kill('SIGKILL');
    this.child = null;
  }
}
