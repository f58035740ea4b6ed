/**
 * Writing a pack of whole objects and its index in-process: what
 * `git index-pack` would write for the same pack, byte for byte (version 2
 * pack, version 2 .idx; test/git/pack.test.ts compares them).
 *
 * Why: creating a file costs 100 to 600 µs on the machines measured, and a
 * round that merges 100 files wrote about 300 loose objects
 * (docs/performance.md). One pack is four files.
 *
 * Order, as git's finish_tmp_packfile: pack and index written to temp
 * names (`tmp_pack_*`, `tmp_idx_*`: names fsck ignores and prune clears),
 * each fsynced (git's default core.fsync covers packs), then the pack
 * renamed into place, then the index. Git finds packs by their index, so a
 * kill -9 at any step leaves either no pack git sees or a complete one.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ObjectType } from './objects.js';

let zlib: typeof import('node:zlib') | undefined;
/**
 * zlib deflate at level 1, git's own default for loose objects
 * (core.looseCompression) and fast packs. zlib is loaded on first use: a
 * no-op round compresses nothing, and every module loaded costs start-up
 * time (docs/performance.md, "Start-up of a cron round").
 */
export function deflateLevel1(data: Uint8Array): Buffer {
  return lazyZlib().deflateSync(data, { level: 1 });
}

/** node:zlib, loaded on first use (see deflateLevel1). */
export function lazyZlib(): typeof import('node:zlib') {
  zlib ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
  return zlib;
}

/** An object to pack: its id (already computed by the caller), type and content. */
export interface PackObject {
  oid: string;
  type: ObjectType;
  bytes: Uint8Array;
}

const TYPE_CODE: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3 };

/** A pack entry's header: type and size, 4 bits then 7 bits a byte, low bits first. */
function entryHeader(type: ObjectType, size: number): Buffer {
  const head: number[] = [];
  let c = (TYPE_CODE[type] << 4) | (size & 15);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    head.push(c | 0x80);
    c = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  head.push(c);
  return Buffer.from(head);
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (zlib's), as the .idx stores it for each entry's packed bytes: zlib's own where Node has it (20.15 and later). */
export function crc32(parts: Uint8Array[]): number {
  const native = (lazyZlib() as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (native) return parts.reduce((c, p) => native(p, c), 0) >>> 0;
  return crc32Table(parts);
}

/** CRC-32 from a table, for a Node without zlib.crc32 (exported for the test that compares the two). */
export function crc32Table(parts: Uint8Array[]): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = crcTable[(c ^ p[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The largest pack this writer makes: its offsets fit the .idx's 31-bit table (no large-offset table needed). */
export const PACK_MAX_OFFSET = 0x7fffffff;

/**
 * A pack of `objects` (distinct ids) and its .idx, in memory. Throws when
 * the pack would pass PACK_MAX_OFFSET (the caller flushes well before).
 */
export function buildPack(objects: PackObject[]): { name: string; pack: Buffer[]; idx: Buffer } {
  const head = Buffer.alloc(12);
  head.write('PACK', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(objects.length, 8);
  const sha = createHash('sha1').update(head);
  const pack: Buffer[] = [head];
  const entries: { oid: Buffer; crc: number; offset: number }[] = [];
  let offset = head.length;
  for (const o of objects) {
    const h = entryHeader(o.type, o.bytes.length);
    const z = deflateLevel1(o.bytes);
    if (offset > PACK_MAX_OFFSET) throw new Error('pack too large for one index table');
    entries.push({ oid: Buffer.from(o.oid, 'hex'), crc: crc32([h, z]), offset });
    sha.update(h).update(z);
    pack.push(h, z);
    offset += h.length + z.length;
  }
  const trailer = sha.digest();
  pack.push(trailer);
  entries.sort((a, b) => Buffer.compare(a.oid, b.oid));
  const n = entries.length;
  const idx = Buffer.alloc(8 + 256 * 4 + n * 28 + 40);
  idx.writeUInt32BE(0xff744f63, 0);
  idx.writeUInt32BE(2, 4);
  let count = 0;
  for (let b = 0, i = 0; b < 256; b++) {
    while (i < n && entries[i]!.oid[0] === b) {
      i++;
      count++;
    }
    idx.writeUInt32BE(count, 8 + b * 4);
  }
  let at = 8 + 256 * 4;
  for (const e of entries) at += e.oid.copy(idx, at);
  for (const e of entries) at = idx.writeUInt32BE(e.crc, at);
  for (const e of entries) at = idx.writeUInt32BE(e.offset, at);
  at += trailer.copy(idx, at);
  createHash('sha1').update(idx.subarray(0, at)).digest().copy(idx, at);
  return { name: trailer.toString('hex'), pack, idx };
}

function writeDurably(file: string, parts: Uint8Array[]): void {
  const fd = openSync(file, 'wx', 0o444);
  try {
    for (const p of parts) {
      let done = 0;
      while (done < p.length) done += writeSync(fd, p, done, p.length - done);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write `objects` as one pack in `gitDir` (see the header for the order).
 * Returns the pack's name (its checksum, as git names packs).
 */
export function writePackSync(gitDir: string, objects: PackObject[]): string {
  const { name, pack, idx } = buildPack(objects);
  const dir = join(gitDir, 'objects', 'pack');
  try {
    mkdirSync(dir); // not recursive: a repository whose objects/ is gone is not made again
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const tag = `${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const tmpPack = join(dir, `tmp_pack_${tag}`);
  const tmpIdx = join(dir, `tmp_idx_${tag}`);
  try {
    writeDurably(tmpPack, pack);
    writeDurably(tmpIdx, [idx]);
    renameSync(tmpPack, join(dir, `pack-${name}.pack`));
    renameSync(tmpIdx, join(dir, `pack-${name}.idx`));
  } catch (e) {
    for (const f of [tmpPack, tmpIdx]) {
      try {
        unlinkSync(f);
      } catch {
        /* not created, or already renamed */
      }
    }
    throw e;
  }
  return name;
}
