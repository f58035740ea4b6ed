/**
 * Packs written in-process (git/pack.ts) and the round's object batch
 * (git/objects.ts batchObjects):
 * - the .idx is byte for byte what `git index-pack` writes for the same pack,
 *   and the pack's name is the one git gives it, over random object sets
 *   (sizes across the entry header's size steps, empty blobs, trees, commits);
 * - git reads every object back (cat-file, verify-pack, fsck --strict);
 * - a batch reaches the disk before any git process starts, before the
 *   object reader asks git for one of its objects, and on close; as loose
 *   objects when few, as one pack when many.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BATCH_MIN_PACK, objectOid, writeObject, type ObjectType } from '../../src/git/objects.js';
import { buildPack, crc32, crc32Table, writePackSync, type PackObject } from '../../src/git/pack.js';
import { Repo } from '../../src/git/repo.js';
import { cleanupTemp, git, tempDir, testEnv } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

function bareRepo(): { gitDir: string; env: NodeJS.ProcessEnv } {
  const env = testEnv(tempDir());
  const gitDir = join(tempDir(), 'r.git');
  git(tempDir(), ['init', '-q', '--bare', gitDir], env);
  return { gitDir, env };
}

const obj = (type: ObjectType, bytes: Uint8Array): PackObject => ({ oid: objectOid(type, bytes), type, bytes });

/** A tree and a commit git accepts (fsck --strict), naming `blob`. */
function treeAndCommit(blob: string): PackObject[] {
  const tree = obj('tree', Buffer.concat([Buffer.from('100644 f.md\0'), Buffer.from(blob, 'hex')]));
  const commit = obj('commit', Buffer.from(`tree ${tree.oid}\nauthor a <a@x> 1700000000 +0000\ncommitter a <a@x> 1700000000 +0000\n\nm\n`));
  return [tree, commit];
}

/** A fresh work tree opened as agentgit opens one (the git CLI engine: its objects are batched). */
async function repo(): Promise<{ repo: Repo; dir: string; env: NodeJS.ProcessEnv }> {
  const env = testEnv(tempDir());
  const dir = join(tempDir(), 'repo');
  git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
  mkdirSync(join(dir, '.git', 'agentgit'), { recursive: true });
  return { repo: (await Repo.openAt(dir))!, dir, env };
}

function packsIn(gitDir: string): string[] {
  return readdirSync(join(gitDir, 'objects', 'pack')).sort();
}

describe('in-process packs', () => {
  it('crc32 is zlib\'s, with zlib.crc32 and with the table alike', () => {
    for (const f of [crc32, crc32Table]) {
      expect(f([Buffer.from('123456789')])).toBe(0xcbf43926);
      expect(f([Buffer.from('1234'), Buffer.from('56789')])).toBe(0xcbf43926);
      expect(f([])).toBe(0);
    }
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }), (parts) => crc32(parts) === crc32Table(parts)));
  });

  it('the .idx and the name are what git index-pack gives the same pack; git reads every object', () => {
    const sizes = fc.oneof(fc.constantFrom(0, 1, 15, 16, 17, 2047, 2048, 2049, 262143, 262144), fc.integer({ min: 0, max: 5000 }));
    const blob = sizes.chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
    fc.assert(
      fc.property(fc.uniqueArray(blob, { minLength: 1, maxLength: 12, selector: (b) => Buffer.from(b).toString('hex') }), fc.boolean(), (blobs, withCommit) => {
        const { gitDir, env } = bareRepo();
        const objects = blobs.map((b) => obj('blob', b));
        if (withCommit) objects.push(...treeAndCommit(objects[0]!.oid));
        const name = writePackSync(gitDir, objects);
        const pack = join(gitDir, 'objects', 'pack', `pack-${name}`);
        expect(packsIn(gitDir)).toEqual([`pack-${name}.idx`, `pack-${name}.pack`]);
        const theirIdx = join(tempDir(), 'git.idx');
        const out = spawnSync('git', ['index-pack', '-o', theirIdx, `${pack}.pack`], { cwd: gitDir, env, encoding: 'utf8' });
        expect(out.status, out.stderr).toBe(0);
        expect(out.stdout.trim()).toBe(name);
        expect(readFileSync(`${pack}.idx`).equals(readFileSync(theirIdx))).toBe(true);
        const listed = git(gitDir, ['verify-pack', '-v', `${pack}.idx`], env);
        for (const o of objects) {
          expect(listed).toContain(`${o.oid} ${o.type}`);
          const back = spawnSync('git', ['cat-file', o.type, o.oid], { cwd: gitDir, env });
          expect(back.stdout.equals(Buffer.from(o.bytes))).toBe(true);
        }
        if (withCommit) git(gitDir, ['fsck', '--strict', '--no-dangling'], env);
      }),
      { numRuns: 20 },
    );
  });

  it('buildPack refuses nothing it cannot index and sorts the index by id', () => {
    const objects = Array.from({ length: 300 }, (_, i) => obj('blob', Buffer.from(`entry ${i}\n`)));
    const { idx } = buildPack(objects);
    const n = idx.readUInt32BE(8 + 255 * 4);
    expect(n).toBe(300);
    const ids = Array.from({ length: n }, (_, i) => idx.subarray(8 + 1024 + i * 20, 8 + 1024 + (i + 1) * 20).toString('hex'));
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids)).toEqual(new Set(objects.map((o) => o.oid)));
  });
});

describe('a round\'s object batch', () => {
  const loose = (gitDir: string, oid: string): boolean => existsSync(join(gitDir, 'objects', oid.slice(0, 2), oid.slice(2)));

  it('many objects: nothing on disk until git is run, then one pack git reads', async () => {
    const { repo: r, dir, env } = await repo();
    try {
      const oids: string[] = [];
      for (let i = 0; i < BATCH_MIN_PACK + 10; i++) oids.push(await writeObject(r.gitDir, 'blob', Buffer.from(`entry ${i}\n`)));
      expect(packsIn(r.gitDir)).toEqual([]);
      expect(oids.some((o) => loose(r.gitDir, o))).toBe(false);
      // any git process (here through src/git) finds them
      const tree = await r.buildTree(null, oids.map((oid, i) => ({ path: `f${i}.md`, mode: '100644', oid })));
      expect((await r.objectInfo([tree])).get(tree)?.type).toBe('tree');
      expect(packsIn(r.gitDir).filter((f) => f.endsWith('.pack'))).toHaveLength(1);
      expect(oids.some((o) => loose(r.gitDir, o))).toBe(false);
      for (const [i, oid] of oids.entries()) expect(git(dir, ['cat-file', 'blob', oid], env)).toBe(`entry ${i}\n`);
      git(dir, ['fsck', '--strict', '--no-dangling'], env);
    } finally {
      r.close();
    }
  });

  it('few objects: written loose, on close', async () => {
    const { repo: r, dir, env } = await repo();
    const oid = await writeObject(r.gitDir, 'blob', Buffer.from('one\n'));
    expect(loose(r.gitDir, oid)).toBe(false);
    r.close();
    expect(loose(r.gitDir, oid)).toBe(true);
    expect(git(dir, ['cat-file', 'blob', oid], env)).toBe('one\n');
  });

  it('the object reader asks git for a batched tree only once it is on disk', async () => {
    const { repo: r } = await repo();
    try {
      const blob = await writeObject(r.gitDir, 'blob', Buffer.from('inside\n'));
      const tree = await writeObject(r.gitDir, 'tree', Buffer.concat([Buffer.from('100644 a.md\0'), Buffer.from(blob, 'hex')]));
      expect(loose(r.gitDir, tree)).toBe(false);
      expect((await r.objects.read(`${tree}:a.md`))?.toString()).toBe('inside\n');
      expect((await r.objects.read(tree))?.length).toBeGreaterThan(0);
      expect(loose(r.gitDir, tree)).toBe(true);
    } finally {
      r.close();
    }
  });
});

describe('kill -9 while packs are written', () => {
  it('leaves complete packs and temp files only: fsck is clean, every pack reported written is read back', async () => {
    const { gitDir, env } = bareRepo();
    const mod = new URL('../../dist/git/pack.js', import.meta.url).href;
    // a child that writes packs of 200 blobs without end, and says which after each
    const script = `
      const { writePackSync } = await import(${JSON.stringify(mod)});
      const { createHash } = await import('node:crypto');
      for (let n = 0; ; n++) {
        const objects = [];
        for (let i = 0; i < 200; i++) {
          const bytes = Buffer.from('pack ' + n + ' entry ' + i + ' ' + 'x'.repeat(i * 37));
          objects.push({ oid: createHash('sha1').update('blob ' + bytes.length + '\\0').update(bytes).digest('hex'), type: 'blob', bytes });
        }
        const name = writePackSync(process.argv[1], objects);
        process.stdout.write(name + ' ' + objects[199].oid + '\\n');
      }`;
    const reported: string[] = [];
    for (let trial = 0; trial < 6; trial++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, gitDir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      // once it has written its first pack (however slow the machine), kill it at a random moment of a later one
      const first = new Promise<void>((r) => child.stdout.once('data', () => r()));
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      await first;
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 200)));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      reported.push(...out.split('\n').filter((l) => /^[0-9a-f]{40} [0-9a-f]{40}$/.test(l)));
    }
    const fsck = spawnSync('git', ['fsck', '--strict', '--no-dangling'], { cwd: gitDir, env, encoding: 'utf8' });
    expect(fsck.status, fsck.stderr).toBe(0);
    const files = packsIn(gitDir);
    for (const f of files.filter((x) => x.endsWith('.idx'))) expect(files).toContain(f.replace(/\.idx$/, '.pack'));
    for (const f of files.filter((x) => !x.startsWith('tmp_'))) expect(f).toMatch(/^pack-[0-9a-f]{40}\.(pack|idx)$/);
    expect(reported.length).toBeGreaterThan(0);
    for (const line of reported) {
      const [name, last] = line.split(' ') as [string, string];
      expect(files).toContain(`pack-${name}.idx`);
      expect(spawnSync('git', ['cat-file', '-e', last], { cwd: gitDir, env }).status).toBe(0);
    }
  });
});

describe('a batch that cannot be written', () => {
  it('fails the git process that needed it with one line naming the directory, keeps the objects, and writes them once it can', async () => {
    const { repo: r, dir, env } = await repo();
    const packDir = join(r.gitDir, 'objects', 'pack');
    try {
      const oids: string[] = [];
      for (let i = 0; i < BATCH_MIN_PACK + 10; i++) oids.push(await writeObject(r.gitDir, 'blob', Buffer.from(`entry ${i}\n`)));
      // objects/pack made a file: the pack cannot be written there (as root too, unlike a permission)
      rmSync(packDir, { recursive: true, force: true });
      writeFileSync(packDir, 'not a directory\n');
      const failed = await r.objectInfo([oids[0]!]).then(() => null, (e: Error) => e.message);
      const line = new RegExp(`^cannot write ${BATCH_MIN_PACK + 10} objects into ${r.gitDir}/objects \\(ENOTDIR.*\\); fix that \\(disk space, permissions\\) and sync again`);
      expect(failed).toMatch(line);
      // still batched: the next git process tries again (and fails the same way), nothing is taken for written
      expect(await r.objectInfo([oids[0]!]).then(() => null, (e: Error) => e.message)).toMatch(line);
      rmSync(packDir);
      mkdirSync(packDir);
      expect((await r.objectInfo(oids)).size).toBe(oids.length);
      for (const [i, oid] of oids.entries()) expect(git(dir, ['cat-file', 'blob', oid], env)).toBe(`entry ${i}\n`);
    } finally {
      r.close();
    }
  });

  it('close never throws, and stops batching: later writes are loose', async () => {
    const { repo: r } = await repo();
    for (let i = 0; i < BATCH_MIN_PACK; i++) await writeObject(r.gitDir, 'blob', Buffer.from(`x ${i}\n`));
    const packDir = join(r.gitDir, 'objects', 'pack');
    rmSync(packDir, { recursive: true, force: true });
    writeFileSync(packDir, 'not a directory\n');
    expect(() => r.close()).not.toThrow();
    rmSync(packDir);
    mkdirSync(packDir);
    const oid = await writeObject(r.gitDir, 'blob', Buffer.from('after close\n'));
    expect(existsSync(join(r.gitDir, 'objects', oid.slice(0, 2), oid.slice(2)))).toBe(true);
  });
});
