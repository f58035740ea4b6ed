/**
 * What the isomorphic-git engine inflates from a hub is capped (a zip bomb
 * cannot blow its memory): a pack from an https hub is scanned entry by
 * entry before anything is written (iso/pack.ts scanPack), a file hub's
 * objects are read by BoundedObjects (loose and packed, deltas applied with
 * bounds), and a pack index is checked against its length (parseIdx).
 * Every refusal is one line naming the hub, and nothing is written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyObjects } from '../../../src/git/iso/file-transport.js';
import { BadObjectError, BoundedObjects, HUB_LIMITS, idxOids, ObjectTooBigError, parseIdx, scanPack } from '../../../src/git/iso/pack.js';
import { IsoGitEngine } from '../../../src/git/iso/iso-git.js';
import { fetchHttpsRefspecs } from '../../../src/git/iso/upload-pack.js';
import { cleanupTemp, git, makeBareHub, plainRepo, tempDir, testEnv } from '../../helpers/agents.js';
import { gitEnv, hubsAvailable, startHttpsHub, type HttpsHub } from '../../helpers/hubs.js';

const avail = hubsAvailable();
let hub: HttpsHub | undefined;
const env = testEnv(tempDir());
beforeAll(async () => {
  if (avail.https) hub = await startHttpsHub({});
}, 60_000);
afterAll(async () => {
  await hub?.stop();
  cleanupTemp();
});

const ident = ['-c', 'user.name=t', '-c', 'user.email=t@x'];

/** A pack entry header: type and size as git encodes them. */
function entryHeader(type: number, size: number): Buffer {
  const out = [((type & 7) << 4) | (size & 15) | (size >= 16 ? 0x80 : 0)];
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    out.push((rest & 0x7f) | (rest >= 128 ? 0x80 : 0));
    rest = Math.floor(rest / 128);
  }
  return Buffer.from(out);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.from(out);
}

/** A whole pack (header, entries, SHA-1 trailer). */
/** An offset delta's base offset as git encodes it. */
function ofsBytes(n: number): Buffer {
  const out = [n & 0x7f];
  let rest = Math.floor(n / 128);
  while (rest > 0) {
    rest -= 1;
    out.unshift(0x80 | (rest & 0x7f));
    rest = Math.floor(rest / 128);
  }
  return Buffer.from(out);
}

function pack(entries: Buffer[], count = entries.length): Buffer {
  const head = Buffer.alloc(12);
  head.write('PACK', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(count, 8);
  const body = Buffer.concat([head, ...entries]);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

function blobEntry(bytes: Buffer, declared = bytes.length): Buffer {
  return Buffer.concat([entryHeader(3, declared), deflateSync(bytes)]);
}

const small = { object: 64 * 1024, total: 256 * 1024 };

describe('scanPack: every entry of a hub pack, before anything is written', () => {
  it('a well-formed pack passes; git\'s own pack (with deltas) passes', () => {
    expect(() => scanPack(pack([blobEntry(Buffer.from('hello\n'))]), HUB_LIMITS)).not.toThrow();
    const dir = join(tempDir(), 'r');
    const commit = plainRepo(dir, env);
    let text = randomBytes(4096).toString('base64');
    for (let i = 0; i < 5; i++) commit('f', (text += `line ${i}\n`));
    git(dir, ['repack', '-adq', '--depth=10'], env);
    const packDir = join(dir, '.git', 'objects', 'pack');
    const file = readdirSync(packDir).find((f) => f.endsWith('.pack'))!;
    expect(git(dir, ['verify-pack', '-v', join(packDir, file)], env)).toMatch(/chain length = [1-9]/);
    expect(() => scanPack(readFileSync(join(packDir, file)), HUB_LIMITS)).not.toThrow();
  });

  it('a zip bomb: an entry that declares 10 bytes and inflates to 64 MiB is refused before it is inflated', () => {
    const bomb = pack([blobEntry(Buffer.alloc(64 * 1024 * 1024), 10)]);
    expect(bomb.length).toBeLessThan(256 * 1024);
    expect(() => scanPack(bomb, HUB_LIMITS)).toThrow(BadObjectError);
    expect(() => scanPack(bomb, HUB_LIMITS)).toThrow(/pack entry 1 of 1 inflates to more than the 10 bytes it declares/);
  });

  it('an object over the cap, a delta to an object over the cap, a pack over the total', () => {
    expect(() => scanPack(pack([blobEntry(Buffer.alloc(100 * 1024))]), small)).toThrow(ObjectTooBigError);
    expect(() => scanPack(pack([blobEntry(Buffer.alloc(100 * 1024))]), small)).toThrow(/declares 102400 bytes, over 65536 bytes/);
    // an ofs-delta whose header asks for a 1 GiB result (a few bytes of delta)
    const base = blobEntry(Buffer.from('base'));
    const delta = Buffer.concat([varint(4), varint(1024 * 1024 * 1024), Buffer.from([0x90, 0x04])]);
    const deltaEntry = Buffer.concat([entryHeader(6, delta.length), Buffer.from([base.length]), deflateSync(delta)]);
    expect(() => scanPack(pack([base, deltaEntry]), HUB_LIMITS)).toThrow(/is a delta to 1073741824 bytes, over 100 MiB/);
    const five = Array.from({ length: 5 }, (_, i) => blobEntry(Buffer.alloc(60 * 1024, i)));
    expect(() => scanPack(pack(five), small)).toThrow(/the pack's objects inflate to more than 262144 bytes/);
  });

  it('an offset delta whose base is not where an entry starts (inside a stored blob that holds a fake entry and a bomb) is refused', () => {
    // a blob stored without compression carries an entry header and a bomb in its bytes; a delta points into it
    const inner = Buffer.concat([entryHeader(3, 10), deflateSync(Buffer.alloc(1024 * 1024))]);
    const stored = deflateSync(inner, { level: 0 });
    const base = Buffer.concat([entryHeader(3, inner.length), stored]);
    const innerAt = 12 + base.indexOf(inner); // where the fake entry starts in the pack
    const delta = Buffer.concat([varint(10), varint(4), Buffer.from([0x90, 0x04])]);
    const deltaAt = 12 + base.length;
    const deltaEntry = Buffer.concat([entryHeader(6, delta.length), ofsBytes(deltaAt - innerAt), deflateSync(delta)]);
    expect(() => scanPack(pack([base, deltaEntry]), HUB_LIMITS)).toThrow(/pack entry 2 of 2: a delta whose base is not an entry of the pack/);
    // the same delta against the entry's real start passes the scan
    const good = Buffer.concat([entryHeader(6, delta.length), ofsBytes(deltaAt - 12), deflateSync(delta)]);
    expect(() => scanPack(pack([base, good]), HUB_LIMITS)).not.toThrow();
  });

  it('a delta counts its own inflated bytes towards the total, not only its result', () => {
    const base = blobEntry(Buffer.from('base'));
    const entries = [base];
    let at = 12 + base.length;
    for (let i = 0; i < 5; i++) {
      // a 4-byte result, 60 KiB of delta data (nothing reads past the copy: the scan reads the header)
      const delta = Buffer.concat([varint(4), varint(4), Buffer.from([0x90, 0x04]), Buffer.alloc(60 * 1024)]);
      const e = Buffer.concat([entryHeader(6, delta.length), ofsBytes(at - 12), deflateSync(delta)]);
      entries.push(e);
      at += e.length;
    }
    expect(() => scanPack(pack(entries), small)).toThrow(/the pack's objects inflate to more than 262144 bytes/);
    expect(() => scanPack(pack(entries.slice(0, 4)), small)).not.toThrow();
  });

  it('malformed: a size that disagrees, a truncated entry, bytes after the last entry', () => {
    expect(() => scanPack(pack([blobEntry(Buffer.from('hello\n'), 9)]), HUB_LIMITS)).toThrow(/inflates to 6 bytes, not the 9 it declares/);
    const e = blobEntry(Buffer.from('hello\n'));
    expect(() => scanPack(pack([e.subarray(0, e.length - 3)]), HUB_LIMITS)).toThrow(BadObjectError);
    expect(() => scanPack(pack([e, Buffer.from('junk')], 1), HUB_LIMITS)).toThrow(/4 bytes after its 1 entries/);
  });
});

describe.skipIf(!avail.https)('an https fetch over the caps', () => {
  it('is refused with one line naming the hub; nothing is written, no ref moves', async () => {
    const repo = await hub!.createRepo('bomb.git');
    const cenv = gitEnv(env, hub!.clientEnv, { GIT_TERMINAL_PROMPT: '0' });
    const src = join(tempDir(), 'src');
    git(tempDir(), ['init', '-q', '-b', 'main', src], cenv);
    // compressible: the pack is small, the blob is not
    writeFileSync(join(src, 'big.txt'), 'x'.repeat(200 * 1024));
    git(src, ['add', '-A'], cenv);
    git(src, [...ident, 'commit', '-qm', 'big'], cenv);
    git(src, ['push', '-q', repo.url, 'main'], cenv);
    const dst = join(tempDir(), 'dst');
    git(tempDir(), ['init', '-q', '-b', 'main', dst], cenv);
    const e = await fetchHttpsRefspecs(join(dst, '.git'), repo.url, ['+refs/heads/main:refs/agentgit/probe'], { env: cenv, limits: small }).then(
      () => null,
      (x: Error) => x,
    );
    expect(e?.message).toMatch(/^fetch: https:\/\/[^ ]*bomb\.git: pack entry \d of \d declares 204800 bytes, over 65536 bytes, more than the isomorphic-git engine inflates from a hub; fetch once with git \(AGENTGIT_ENGINE=git\); no ref was moved/);
    expect(e?.message).not.toMatch(/\n/);
    expect(readdirSync(join(dst, '.git', 'objects', 'pack'))).toEqual([]);
    expect(git(dst, ['for-each-ref'], cenv)).toBe('');
    // within the caps, the same fetch goes through
    await fetchHttpsRefspecs(join(dst, '.git'), repo.url, ['+refs/heads/main:refs/agentgit/probe'], { env: cenv });
    expect(git(dst, ['rev-parse', 'refs/agentgit/probe'], cenv).trim()).toBe(git(src, ['rev-parse', 'HEAD'], cenv).trim());
  });
});

describe('a file hub read with caps (BoundedObjects)', () => {
  function hubWithBlob(text: string): { hub: string; blob: string; head: string } {
    const hubDir = makeBareHub();
    const w = join(tempDir(), 'w');
    git(tempDir(), ['init', '-q', '-b', 'main', w], env);
    writeFileSync(join(w, 'f'), text);
    git(w, ['add', 'f'], env);
    git(w, [...ident, 'commit', '-qm', 'c'], env);
    git(w, ['push', '-q', hubDir, 'main'], env);
    return { hub: hubDir, blob: git(w, ['rev-parse', 'HEAD:f'], env).trim(), head: git(w, ['rev-parse', 'HEAD'], env).trim() };
  }
  function emptyRepo(): string {
    const d = join(tempDir(), 'l');
    git(tempDir(), ['init', '-q', '-b', 'main', d], env);
    return join(d, '.git');
  }
  const loose = (gitDir: string): string[] => readdirSync(join(gitDir, 'objects')).filter((d) => /^[0-9a-f]{2}$/.test(d));

  it('a loose zip bomb in the hub (declares 10 bytes, inflates past the cap) fails the fetch naming the hub; nothing written', async () => {
    const { hub: h, blob, head } = hubWithBlob('the entry\n');
    const file = join(h, 'objects', blob.slice(0, 2), blob.slice(2));
    chmodSync(file, 0o644);
    writeFileSync(file, deflateSync(Buffer.concat([Buffer.from('blob 10\0'), Buffer.alloc(1024 * 1024)])));
    const dst = emptyRepo();
    const e = await copyObjects(h, dst, [head], { hub: 'src', limits: small }).then(
      () => null,
      (x: Error) => x,
    );
    expect(e?.message).toBe(
      `fetch: ${h}: object ${blob} inflates to more than 65568 bytes, more than the isomorphic-git engine inflates from a hub; fetch once with git (AGENTGIT_ENGINE=git); no ref was moved (too large for this engine, not a sign of damage)`,
    );
    expect(loose(dst)).toEqual([]);
  });

  it('every version of a large file in a deep delta chain is read, each entry counted once towards the total (a repacked hub is not refused)', async () => {
    let text = randomBytes(2 * 1024 * 1024).toString('hex'); // 4 MiB: over the base cache's share, as a real large file would be
    const { hub: h } = hubWithBlob(text);
    const w = join(tempDir(), 'deep');
    git(tempDir(), ['clone', '-q', h, w], env);
    for (let i = 0; i < 8; i++) {
      text += `line ${i}\n`;
      writeFileSync(join(w, 'f'), text);
      git(w, [...ident, 'commit', '-qam', `c${i}`], env);
    }
    git(w, ['push', '-q', 'origin', 'main'], env);
    git(h, ['repack', '-adfq', '--depth=50', '--window=10'], env);
    const blobs = git(h, ['rev-list', '--objects', 'main'], env).split('\n').filter((l) => l.endsWith(' f')).map((l) => l.split(' ')[0]!);
    expect(blobs).toHaveLength(9);
    // 9 versions of 4 MiB: 36 MiB of distinct data; re-deriving each version's chain would be 9 × 4 + 8 × 7 / 2 × 4 = 148 MiB
    const objs = new BoundedObjects(h, { object: 8 * 1024 * 1024, total: 64 * 1024 * 1024 });
    for (const b of blobs) {
      const o = (await objs.read(b))!;
      expect(createHash('sha1').update(`blob ${o.body.length}\0`).update(o.body).digest('hex')).toBe(b);
    }
  }, 60_000);

  it('packed objects with deltas read as git reads them; a packed object over the cap is refused', async () => {
    let text = randomBytes(30 * 1024).toString('hex');
    const { hub: h } = hubWithBlob(text);
    const w = join(tempDir(), 'w2');
    git(tempDir(), ['clone', '-q', h, w], env);
    for (let i = 0; i < 6; i++) {
      text = `${i}\n${text}`;
      writeFileSync(join(w, 'f'), text);
      git(w, [...ident, 'commit', '-qam', `c${i}`], env);
    }
    git(w, ['push', '-q', 'origin', 'main'], env);
    git(h, ['repack', '-adq', '--depth=10'], env);
    const packDir = join(h, 'objects', 'pack');
    const p = readdirSync(packDir).find((f) => f.endsWith('.pack'))!;
    expect(git(h, ['verify-pack', '-v', join(packDir, p)], env)).toMatch(/chain length = [1-9]/);
    const objs = new BoundedObjects(h);
    const ids = idxOids(readFileSync(join(packDir, p.replace(/\.pack$/, '.idx'))), p);
    for (const oid of ids) {
      const o = (await objs.read(oid))!;
      expect(o.type).toBe(git(h, ['cat-file', '-t', oid], env).trim());
      expect(createHash('sha1').update(`${o.type} ${o.body.length}\0`).update(o.body).digest('hex')).toBe(oid);
    }
    // the whole history copied out of the packed hub, fsck clean
    const dst = emptyRepo();
    const tip = git(h, ['rev-parse', 'main'], env).trim();
    await copyObjects(h, dst, [tip], { hub: 'src' });
    git(dst, ['update-ref', 'refs/heads/main', tip], env);
    git(dst, ['fsck', '--strict'], env);
    // the 60 KiB blob (a delta base or result) is over a 16 KiB cap
    const e = await copyObjects(h, emptyRepo(), [tip], { hub: 'src', limits: { object: 16 * 1024, total: 1 << 30 } }).then(
      () => null,
      (x: Error) => x,
    );
    expect(e?.message).toMatch(new RegExp(`^fetch: ${h}: .* over 16384 bytes, more than the isomorphic-git engine inflates from a hub; fetch once with git`));
  });
});

describe('parseIdx: a pack index checked against its length', () => {
  it("git's index parses; a truncated one, a short one and a decreasing fan-out are refused naming the file", async () => {
    const dir = join(tempDir(), 'r');
    plainRepo(dir, env)('f', 'x\n');
    git(dir, ['repack', '-adq'], env);
    const packDir = join(dir, '.git', 'objects', 'pack');
    const idx = readFileSync(join(packDir, readdirSync(packDir).find((f) => f.endsWith('.idx'))!));
    expect(idxOids(idx, 'x.idx').sort()).toEqual(git(dir, ['rev-list', '--all', '--objects'], env).trim().split('\n').map((l) => l.slice(0, 40)).sort());
    // counts that the bytes cannot hold: the old parser read past the end and returned empty ids
    expect(() => idxOids(idx.subarray(0, idx.length - 30), 'x.idx')).toThrow(/x\.idx: not a valid version 2 pack index/);
    const huge = Buffer.from(idx);
    for (let i = 0; i < 256; i++) huge.writeUInt32BE(1_000_000, 8 + i * 4);
    expect(() => parseIdx(huge, 'h.idx')).toThrow(/h\.idx: not a valid version 2 pack index \(\d+ bytes cannot hold 1000000 objects\)/);
    const dec = Buffer.from(idx);
    dec.writeUInt32BE(0xffff, 8);
    expect(() => parseIdx(dec, 'd.idx')).toThrow(/fan-out table decreases/);
    // count-objects reads the count through the same check
    const engine = new IsoGitEngine(env);
    const gitDir = join(dir, '.git');
    const iso = engine.open(dir, gitDir, await engine.detect(gitDir, dir));
    expect((await iso.countObjects())['in-pack']).toBe(Number(/in-pack: (\d+)/.exec(git(dir, ['count-objects', '-v'], env))![1]));
    const idxFile = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.idx'))!);
    chmodSync(idxFile, 0o644);
    writeFileSync(idxFile, idx.subarray(0, idx.length - 30));
    await expect(iso.countObjects()).rejects.toThrow(/not a valid version 2 pack index/);
  });
});
