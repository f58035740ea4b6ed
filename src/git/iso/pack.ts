/**
 * Reading what a hub holds, with bounds (the isomorphic-git engine).
 * isomorphic-git inflates an object whole, with no limit, before it checks
 * the size the object declared: a few KiB of a hostile pack or loose object
 * (a zip bomb) would inflate to gigabytes in this process. So everything
 * that comes from a hub is read here first, by Node's zlib with a cap on
 * the output:
 *
 * - `scanPack`: every entry of a pack an https hub sent, before anything
 *   is written: each inflates to exactly the size it declares, no object
 *   (a delta's result included) is over `limits.object`, and the pack's
 *   objects together are not over `limits.total`;
 * - `BoundedObjects`: a file hub's objects (loose and packed), read with
 *   the same caps (and hashed against their ids), instead of through
 *   isomorphic-git;
 * - `parseIdx`: a pack index, every count and offset checked against the
 *   file's length (git's check_packed_git_idx).
 *
 * Over a cap: `ObjectTooBigError`; damaged or malformed: `BadObjectError`.
 * Callers turn both into one line naming the hub (connected.ts, hubDataError).
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { EMPTY_TREE, objectOid } from '../objects.js';
import { IsoObjects, type RawObject } from './objects.js';
import { BadObjectError, ObjectTooBigError } from '../exec.js';

export { BadObjectError, ObjectTooBigError };

export interface InflateLimits {
  /** Largest object (inflated): a blob, tree, commit, tag or a delta's result. */
  object: number;
  /** Largest sum of what one pack (or one read of a file hub) inflates. */
  total: number;
}

/**
 * The largest object this engine inflates from a hub: the policy's default
 * maxFileBytes (policy/defaults.ts DEFAULT_MAX_FILE_BYTES), so under the
 * default policy nothing the tree checks would admit is refused here.
 */
export const MAX_OBJECT_BYTES = 100 * 1024 * 1024;
/** The most one fetch inflates: four times the largest pack the engine holds (upload-pack.ts MAX_PACK_BYTES). */
export const MAX_INFLATED_BYTES = 2 * 1024 * 1024 * 1024;
export const HUB_LIMITS: InflateLimits = { object: MAX_OBJECT_BYTES, total: MAX_INFLATED_BYTES };
/** What BoundedObjects keeps of resolved delta bases (a walk through a packed history reads the same bases again). */
const BASE_CACHE_BYTES = 32 * 1024 * 1024;
/** How many times its total a BoundedObjects may inflate and apply deltas, counting data read again (see countOnce). */
const WORK_FACTOR = 8;

function mib(n: number): string {
  return n >= 1048576 ? `${Math.floor(n / 1048576)} MiB` : `${n} bytes`;
}

/**
 * zlib data inflated to at most `max` bytes (zlib stops there: nothing more
 * is allocated); the bytes it used, from `data`'s start. `declared`: `max`
 * is the size the object declares, so more is a lie, not a big object.
 */
function inflateAtMost(data: Buffer, max: number, what: string, declared = false): { out: Buffer; used: number } {
  try {
    const r = inflateSync(data, { info: true, maxOutputLength: Math.max(1, max) }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    return { out: r.buffer, used: r.engine.bytesWritten };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      if (declared) throw new BadObjectError(`${what} inflates to more than the ${max} bytes it declares`);
      throw new ObjectTooBigError(`${what} inflates to more than ${mib(max)}`);
    }
    throw new BadObjectError(`${what} cannot be inflated (${(e as Error).message})`);
  }
}

/** A base-128 little-endian size (a delta's header). */
function deltaSize(d: Buffer, at: { p: number }): number {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    if (at.p >= d.length || shift > 49) throw new BadObjectError('a delta whose header is cut short');
    const c = d[at.p++]!;
    v += (c & 0x7f) * 2 ** shift;
    if (!(c & 0x80)) return v;
  }
}

/** A delta's result size, read from its header (checked against `max`). */
function deltaTarget(delta: Buffer, max: number, what: string): number {
  const at = { p: 0 };
  deltaSize(delta, at);
  const size = deltaSize(delta, at);
  if (size > max) throw new ObjectTooBigError(`${what} is a delta to ${size} bytes, over ${mib(max)}`);
  return size;
}

/** git's delta applied to `base`, every copy checked against both buffers. */
function applyDelta(delta: Buffer, base: Buffer, max: number, what: string): Buffer {
  const at = { p: 0 };
  if (deltaSize(delta, at) !== base.length) throw new BadObjectError(`${what}: a delta against a base of another size`);
  const size = deltaSize(delta, at);
  if (size > max) throw new ObjectTooBigError(`${what} is a delta to ${size} bytes, over ${mib(max)}`);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  const byte = (): number => {
    if (at.p >= delta.length) throw new BadObjectError(`${what}: a delta cut short`);
    return delta[at.p++]!;
  };
  while (at.p < delta.length) {
    const op = byte();
    if (op & 0x80) {
      let off = 0;
      let len = 0;
      for (let i = 0; i < 4; i++) if (op & (1 << i)) off += byte() * 2 ** (8 * i);
      for (let i = 0; i < 3; i++) if (op & (0x10 << i)) len += byte() * 2 ** (8 * i);
      if (len === 0) len = 0x10000;
      if (off + len > base.length || o + len > size) throw new BadObjectError(`${what}: a delta copies outside its base or result`);
      base.copy(out, o, off, off + len);
      o += len;
    } else if (op !== 0) {
      if (at.p + op > delta.length || o + op > size) throw new BadObjectError(`${what}: a delta inserts outside its result`);
      delta.copy(out, o, at.p, at.p + op);
      at.p += op;
      o += op;
    } else throw new BadObjectError(`${what}: a delta with a reserved instruction`);
  }
  if (o !== size) throw new BadObjectError(`${what}: a delta whose result is ${o} bytes, not the ${size} it declares`);
  return out;
}

const TYPES: Record<number, RawObject['type']> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };

interface Entry {
  /** 1-4: an object; 6: ofs-delta; 7: ref-delta. */
  kind: number;
  size: number;
  /** Where its zlib data starts. */
  data: number;
  /** ofs-delta: its base's offset; ref-delta: its base's id. */
  base?: number | string;
}

/** The header of the pack entry at `start` of `buf` (`buf` begins at the pack's offset `origin`). */
function entryAt(buf: Buffer, start: number, origin: number, what: string): Entry {
  let p = start;
  const byte = (): number => {
    if (p >= buf.length) throw new BadObjectError(`${what}: an entry header cut short`);
    return buf[p++]!;
  };
  let c = byte();
  const kind = (c >> 4) & 7;
  let size = c & 15;
  for (let shift = 4; c & 0x80; shift += 7) {
    if (shift > 49) throw new BadObjectError(`${what}: an entry size that does not end`);
    c = byte();
    size += (c & 0x7f) * 2 ** shift;
  }
  if (kind === 6) {
    c = byte();
    let ofs = c & 0x7f;
    for (let n = 0; c & 0x80; n++) {
      if (n > 7) throw new BadObjectError(`${what}: a delta base offset that does not end`);
      c = byte();
      ofs = (ofs + 1) * 128 + (c & 0x7f);
    }
    const base = origin + start - ofs;
    if (ofs === 0 || base < 12) throw new BadObjectError(`${what}: a delta whose base is outside the pack`);
    return { kind, size, data: p, base };
  }
  if (kind === 7) {
    if (p + 20 > buf.length) throw new BadObjectError(`${what}: an entry header cut short`);
    const base = buf.toString('hex', p, p + 20);
    return { kind, size, data: p + 20, base };
  }
  if (!TYPES[kind]) throw new BadObjectError(`${what}: an entry of unknown type ${kind}`);
  return { kind, size, data: p };
}

/**
 * Check every entry of `pack` (a whole pack, trailer included) against
 * `limits` before anything of it is written or given to isomorphic-git:
 * each inflates to exactly its declared size, no object or delta result
 * is over `limits.object`, all of them together not over `limits.total`.
 */
export function scanPack(pack: Buffer, limits: InflateLimits): void {
  if (pack.length < 32 || pack.toString('latin1', 0, 4) !== 'PACK' || ![2, 3].includes(pack.readUInt32BE(4))) throw new BadObjectError('not a version 2 pack');
  const count = pack.readUInt32BE(8);
  const end = pack.length - 20;
  const body = pack.subarray(0, end);
  let p = 12;
  let total = 0;
  // where each entry starts: an offset delta must name one of these (git's index-pack refuses any other
  // base; isomorphic-git would read an entry header wherever it points, inside another entry's data too)
  const starts = new Set<number>();
  for (let i = 0; i < count; i++) {
    const what = `pack entry ${i + 1} of ${count}`;
    const e = entryAt(body, p, 0, what);
    if (e.kind === 6 && !starts.has(e.base as number)) throw new BadObjectError(`${what}: a delta whose base is not an entry of the pack`);
    starts.add(p);
    if (e.size > limits.object) throw new ObjectTooBigError(`${what} declares ${e.size} bytes, over ${mib(limits.object)}`);
    const { out, used } = inflateAtMost(body.subarray(e.data), e.size, what, true);
    if (out.length !== e.size) throw new BadObjectError(`${what} inflates to ${out.length} bytes, not the ${e.size} it declares`);
    // a delta costs its own inflated bytes and its result: both count towards the total
    const size = e.kind >= 6 ? out.length + deltaTarget(out, limits.object, what) : e.size;
    total += size;
    if (total > limits.total) throw new ObjectTooBigError(`the pack's objects inflate to more than ${mib(limits.total)}`);
    p = e.data + used;
  }
  if (p !== end) throw new BadObjectError(`the pack holds ${end - p} bytes after its ${count} entries`);
}

/** A version 2 pack index, bounds-checked; ids and offsets read on demand. */
export interface PackIndex {
  count: number;
  oid(i: number): string;
  offset(i: number): number;
  /** The entry number of `oid`, or -1. */
  find(oid: string): number;
}

/** Parse a version 2 pack index: every count and offset is checked against the file's length (fail closed). */
export function parseIdx(idx: Buffer, file: string): PackIndex {
  const bad = (why: string): never => {
    throw new BadObjectError(`${file}: not a valid version 2 pack index (${why})`);
  };
  if (idx.length < 8 + 256 * 4 + 40 || idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) bad('no version 2 header');
  let prev = 0;
  for (let i = 0; i < 256; i++) {
    const f = idx.readUInt32BE(8 + i * 4);
    if (f < prev) bad('its fan-out table decreases');
    prev = f;
  }
  const n = prev;
  const ids = 8 + 256 * 4;
  const offs = ids + n * 24; // after the ids and the CRCs
  const large = offs + n * 4;
  const min = large + 40;
  if (idx.length < min) bad(`${idx.length} bytes cannot hold ${n} objects`);
  const nLarge = (idx.length - min) / 8;
  if (!Number.isInteger(nLarge) || (n === 0 ? nLarge !== 0 : nLarge > n - 1)) bad(`${idx.length} bytes is not the size of an index of ${n} objects`);
  const oid = (i: number): string => idx.toString('hex', ids + i * 20, ids + (i + 1) * 20);
  return {
    count: n,
    oid,
    offset(i: number): number {
      const v = idx.readUInt32BE(offs + i * 4);
      if (!(v & 0x80000000)) return v;
      const k = v & 0x7fffffff;
      if (k >= nLarge) bad('a large offset outside its table');
      return Number(idx.readBigUInt64BE(large + k * 8));
    },
    find(want: string): number {
      const first = parseInt(want.slice(0, 2), 16);
      let lo = first === 0 ? 0 : idx.readUInt32BE(8 + (first - 1) * 4);
      let hi = idx.readUInt32BE(8 + first * 4);
      const w = Buffer.from(want, 'hex');
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const c = idx.compare(w, 0, 20, ids + mid * 20, ids + mid * 20 + 20);
        if (c === 0) return mid;
        if (c > 0) hi = mid;
        else lo = mid + 1;
      }
      return -1;
    },
  };
}

/** Every id of a version 2 pack index (bounds-checked: a damaged index is a BadObjectError). */
export function idxOids(idx: Buffer, file: string): string[] {
  const x = parseIdx(idx, file);
  const out: string[] = [];
  for (let i = 0; i < x.count; i++) out.push(x.oid(i));
  return out;
}

interface OpenPack {
  file: string;
  idx: PackIndex;
  /** Entry starts, sorted: an entry ends where the next one starts. */
  starts: number[];
  size: number;
}

/**
 * A hub's objects (a file hub: a repository on this machine), read with
 * the caps of `limits` instead of through isomorphic-git: a loose object
 * is inflated to at most the cap, a packed one is read by its offsets
 * (only its own bytes), its deltas applied with bounds; each read object
 * must hash to its id. Everything one instance inflates counts against
 * `limits.total`.
 */
export class BoundedObjects extends IsoObjects {
  private packs: OpenPack[] | null = null;
  private inflated = 0;
  constructor(
    gitDir: string,
    readonly limits: InflateLimits = HUB_LIMITS,
  ) {
    super(gitDir);
  }

  private count(n: number): void {
    this.inflated += n;
    if (this.inflated > this.limits.total) throw new ObjectTooBigError(`the objects read from it inflate to more than ${mib(this.limits.total)}`);
  }

  /** Pack entries (and delta results) already counted towards the total: read again, they cost work, not total. */
  private readonly counted = new Set<string>();
  private work = 0;

  /**
   * Count what an entry at `key` inflated to: towards the total the first
   * time only (a history's delta chain read again for each version is the
   * same data), towards the work always, which may reach WORK_FACTOR times
   * the total (a hub that orders its history to re-derive long chains
   * without end is refused, not waited for).
   */
  private countOnce(key: string, n: number): void {
    this.work += n;
    if (this.work > this.limits.total * WORK_FACTOR) throw new ObjectTooBigError(`reading its objects takes more than ${WORK_FACTOR} times ${mib(this.limits.total)} of inflating and delta application`);
    if (this.counted.has(key)) return;
    this.counted.add(key);
    this.count(n);
  }

  private openPacks(): OpenPack[] {
    if (this.packs) return this.packs;
    const dir = join(this.gitDir, 'objects', 'pack');
    const out: OpenPack[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      /* no pack directory */
    }
    for (const f of names) {
      if (!f.endsWith('.idx')) continue;
      const pack = join(dir, `${f.slice(0, -4)}.pack`);
      if (!existsSync(pack)) continue; // git's order: a pack without its index is not read, an index without its pack neither
      const idx = parseIdx(readFileSync(join(dir, f)), join(dir, f));
      const starts: number[] = [];
      for (let i = 0; i < idx.count; i++) starts.push(idx.offset(i));
      starts.sort((a, b) => a - b);
      const fd = openSync(pack, 'r');
      let size: number;
      try {
        size = fstatSync(fd).size;
      } finally {
        closeSync(fd);
      }
      if (starts.length > 0 && (starts[0]! < 12 || starts[starts.length - 1]! >= size - 20)) throw new BadObjectError(`${join(dir, f)}: offsets outside its pack`);
      out.push({ file: pack, idx, starts, size });
    }
    this.packs = out;
    return out;
  }

  /** The bytes of the entry at `offset` of `pack` (up to where the next one starts). */
  private entryBytes(pack: OpenPack, offset: number): Buffer {
    let lo = 0;
    let hi = pack.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pack.starts[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0 || pack.starts[lo - 1] !== offset) throw new BadObjectError(`${pack.file}: a delta base at ${offset}, where no entry starts`);
    const end = lo < pack.starts.length ? pack.starts[lo]! : pack.size - 20;
    // deflate grows incompressible data by a few bytes per 16 KiB: more than that is not one capped object
    if (end - offset > this.limits.object + this.limits.object / 256 + 64) throw new ObjectTooBigError(`${pack.file}: an entry of ${end - offset} bytes at ${offset}, over ${mib(this.limits.object)}`);
    const buf = Buffer.allocUnsafe(end - offset);
    const fd = openSync(pack.file, 'r');
    try {
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, offset + got);
        if (n === 0) throw new BadObjectError(`${pack.file}: cut short at ${offset + got}`);
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    return buf;
  }

  /** Objects resolved at a pack offset (delta bases a walk reads again), up to BASE_CACHE_BYTES. */
  private readonly bases = new Map<string, RawObject>();
  private basesBytes = 0;

  /** The last large object resolved (over the cache's share): the base the next version of the same file is most likely a delta of. */
  private lastLarge: { key: string; o: RawObject } | null = null;

  private remember(pack: OpenPack, offset: number, o: RawObject): void {
    const key = `${pack.file}:${offset}`;
    if (o.body.length > BASE_CACHE_BYTES / 8) {
      this.lastLarge = { key, o };
      return;
    }
    if (this.bases.has(key)) return;
    this.bases.set(key, o);
    this.basesBytes += o.body.length;
    for (const [k, v] of this.bases) {
      if (this.basesBytes <= BASE_CACHE_BYTES) break;
      this.bases.delete(k);
      this.basesBytes -= v.body.length;
    }
  }

  /** The object at `offset` of `pack`, its delta chain followed and applied. */
  private async packed(pack: OpenPack, offset: number, oid: string, depth: number): Promise<RawObject> {
    const what = `${pack.file}: ${oid}`;
    const deltas: Array<{ at: number; data: Buffer }> = [];
    /** The chain applied on `base`, each result remembered as the object at its offset. */
    const resolve = (base: RawObject): RawObject => {
      let body = base.body;
      for (let i = deltas.length - 1; i >= 0; i--) {
        body = applyDelta(deltas[i]!.data, body, this.limits.object, what);
        this.countOnce(`${pack.file}:${deltas[i]!.at}:result`, body.length);
        this.remember(pack, deltas[i]!.at, { type: base.type, body });
      }
      return { type: base.type, body };
    };
    let at = offset;
    for (;;) {
      if (deltas.length > 10000) throw new BadObjectError(`${what}: a delta chain longer than 10000`);
      const key = `${pack.file}:${at}`;
      const known = this.bases.get(key) ?? (this.lastLarge?.key === key ? this.lastLarge.o : undefined);
      if (known) return resolve(known);
      const buf = this.entryBytes(pack, at);
      const e = entryAt(buf, 0, at, what);
      if (e.size > this.limits.object) throw new ObjectTooBigError(`${what} declares ${e.size} bytes, over ${mib(this.limits.object)}`);
      const { out } = inflateAtMost(buf.subarray(e.data), e.size, what, true);
      if (out.length !== e.size) throw new BadObjectError(`${what} inflates to ${out.length} bytes, not the ${e.size} it declares`);
      this.countOnce(`${pack.file}:${at}`, out.length);
      if (e.kind < 6) {
        const base = { type: TYPES[e.kind]!, body: out };
        if (deltas.length > 0) this.remember(pack, at, base);
        return resolve(base);
      }
      deltas.push({ at, data: out });
      if (typeof e.base === 'number') {
        at = e.base;
        continue;
      }
      // a ref-delta: its base may be anywhere here
      if (depth > 50) throw new BadObjectError(`${what}: ref-delta bases nested deeper than 50`);
      const base = await this.readAt(e.base!, depth + 1);
      if (!base) throw new BadObjectError(`${what}: its delta base ${e.base} is missing`);
      return resolve(base);
    }
  }

  private async readAt(oid: string, depth: number): Promise<RawObject | null> {
    if (!/^[0-9a-f]{40}$/.test(oid)) return null;
    let got: RawObject | null = null;
    const file = join(this.gitDir, 'objects', oid.slice(0, 2), oid.slice(2));
    let raw: Buffer | null = null;
    try {
      raw = readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (raw) {
      const what = `object ${oid}`;
      const { out } = inflateAtMost(raw, this.limits.object + 32, what);
      const nul = out.indexOf(0);
      const m = nul > 0 && nul < 32 ? /^(blob|tree|commit|tag) (0|[1-9][0-9]*)$/.exec(out.toString('latin1', 0, nul)) : null;
      if (!m) throw new BadObjectError(`${what} has no valid header`);
      if (Number(m[2]) > this.limits.object) throw new ObjectTooBigError(`${what} declares ${m[2]} bytes, over ${mib(this.limits.object)}`);
      if (Number(m[2]) !== out.length - nul - 1) throw new BadObjectError(`${what} holds ${out.length - nul - 1} bytes, not the ${m[2]} it declares`);
      this.count(out.length);
      got = { type: m[1] as RawObject['type'], body: out.subarray(nul + 1) };
    } else {
      for (const pack of this.openPacks()) {
        const i = pack.idx.find(oid);
        if (i >= 0) {
          got = await this.packed(pack, pack.idx.offset(i), oid, depth);
          break;
        }
      }
    }
    if (!got) return oid === EMPTY_TREE ? { type: 'tree', body: Buffer.alloc(0) } : null;
    const h = objectOid(got.type, got.body);
    if (h !== oid) throw new BadObjectError(`${got.type} ${oid} holds the content of ${h}`);
    return got;
  }

  override async read(oid: string): Promise<RawObject | null> {
    return this.readAt(oid, 0);
  }

  override async has(oid: string): Promise<boolean> {
    if (existsSync(join(this.gitDir, 'objects', oid.slice(0, 2), oid.slice(2)))) return true;
    return this.openPacks().some((p) => p.idx.find(oid) >= 0);
  }
}
