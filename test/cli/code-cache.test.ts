/**
 * The bundle's code cache (src/cli/code-cache.ts), through the built CLI as
 * cron runs it: what a round finds and writes (AGENTGIT_TRACE=1 says it at
 * exit), where the files go and with which modes, files that must not be
 * given to V8 (damaged, made for another source, in a directory that is not
 * the user's alone), what is cleared away, and that it can be turned off.
 * Needs `npm run build` (as every test that runs the CLI).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheDirFor, decodeCache, encodeCache, HASHED_CHUNK } from '../../src/cli/code-cache.js';
import { Instance, ROOT, cleanupTemp, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const BUNDLE = join(ROOT, 'dist', 'bundle');

interface Traced {
  chunks: Record<string, string>;
  wrote: string[];
  unused?: string;
}

/** The trace line of a run: chunk name (without its hash) → what happened, what was written, why the cache was not used. */
function traced(stderr: string): Traced | null {
  const line = stderr.split('\n').find((l) => l.startsWith('[trace code-cache] '));
  if (!line) return null;
  const out: Traced = { chunks: {}, wrote: [] };
  for (const part of line.slice('[trace code-cache] '.length).split(', ')) {
    const [what = '', ...rest] = part.split(' ');
    if (what === 'wrote') out.wrote = rest.map(short).sort();
    else if (what === 'not') out.unused = rest.slice(1).join(' ');
    else if (what) out.chunks[short(rest.join(' '))] = what;
  }
  return out;
}
const short = (chunk: string): string => chunk.replace(/-[\w-]{8}\.cjs$/, '');

async function tracedSync(a: Instance, code = 0): Promise<Traced | null> {
  const r = await a.sync(['--quiet']);
  expect(r.code, r.stderr).toBe(code);
  return traced(r.stderr);
}

const syncCache = (a: Instance): string => cacheDirFor(join(a.env.AGENTGIT_HOME!, 'code-cache'), 'sync');
const commits = (a: Instance): number => Number(a.git(['rev-list', '--count', 'HEAD']));

describe('the code cache of the bundle', () => {
  it('a first round writes the cache of the chunks it compiled; the next finds them; a round with a new chunk adds it and rewrites the others', async () => {
    const a = await Instance.init(makeBareHub(), 'a', { files: { 'notes.md': 'hello\n' }, extraEnv: { AGENTGIT_TRACE: '1' } });
    const cache = syncCache(a);
    expect(existsSync(cache)).toBe(false); // init used the other profile
    expect(readdirSync(dirname(cache))).toEqual(['other']);

    a.append('notes.md', 'a line\n'); // the first round commits: it loads the change chunk
    const first = await tracedSync(a);
    expect(first?.chunks).toEqual({ core: 'miss', round: 'miss', change: 'miss' });
    expect(first?.wrote).toEqual(['change', 'core', 'round']);
    const files = readdirSync(cache).sort();
    expect(files.map(short)).toEqual(['change', 'core', 'round']);
    for (const f of files) {
      expect(HASHED_CHUNK.test(f)).toBe(true);
      expect(decodeCache(readFileSync(join(cache, f)), readFileSync(join(BUNDLE, f), 'utf8'))?.complete).toBe(true); // the chunk it is named after
      expect(statSync(join(cache, f)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(cache).mode & 0o777).toBe(0o700);

    const noop = await tracedSync(a); // nothing to commit: no change chunk; everything found, nothing written
    expect(noop).toEqual({ chunks: { core: 'hit', round: 'hit' }, wrote: [] });

    a.append('notes.md', 'another line\n');
    const before = commits(a);
    expect(await tracedSync(a)).toEqual({ chunks: { core: 'hit', round: 'hit', change: 'hit' }, wrote: [] });
    expect(commits(a)).toBe(before + 1); // the round run from the cache committed the line
    expect(a.git(['status', '--porcelain'])).toBe('');

    // a fresh cache made by a no-op round lacks the change chunk: the first round with a change adds it and rewrites the others
    rmSync(cache, { recursive: true });
    expect((await tracedSync(a))?.wrote).toEqual(['core', 'round']);
    a.append('notes.md', 'a third line\n');
    const grown = await tracedSync(a);
    expect(grown?.chunks).toEqual({ core: 'hit', round: 'hit', change: 'miss' });
    expect(grown?.wrote).toEqual(['change', 'core', 'round']);
  });

  it('a cache written by a round that failed is written again by the next that ends well', async () => {
    const hub = makeBareHub();
    const a = await Instance.init(hub, 'a', { files: { 'notes.md': 'hello\n' }, extraEnv: { AGENTGIT_TRACE: '1' } });
    renameSync(hub, `${hub}.away`);
    const failed = await tracedSync(a, 1); // the hub is gone
    expect(failed?.wrote).toEqual(['core', 'round']);
    const round = readdirSync(syncCache(a)).find((f) => short(f) === 'round')!;
    expect(decodeCache(readFileSync(join(syncCache(a), round)), readFileSync(join(BUNDLE, round), 'utf8'))?.complete).toBe(false);
    renameSync(`${hub}.away`, hub);
    expect(await tracedSync(a)).toEqual({ chunks: { core: 'hit', round: 'hit' }, wrote: ['core', 'round'] });
    expect(decodeCache(readFileSync(join(syncCache(a), round)), readFileSync(join(BUNDLE, round), 'utf8'))?.complete).toBe(true);
    expect((await tracedSync(a))?.wrote).toEqual([]);
  });

  it('a damaged file is never given to V8: it is refused and written again; old leftovers are cleared, recent ones kept', async () => {
    const a = await Instance.init(makeBareHub(), 'a', { files: { 'notes.md': 'hello\n' }, extraEnv: { AGENTGIT_TRACE: '1' } });
    await tracedSync(a);
    const cache = syncCache(a);
    const versions = dirname(dirname(cache));
    const round = readdirSync(cache).find((f) => short(f) === 'round')!;
    const good = readFileSync(join(cache, round));
    const zeroed = Buffer.concat([good.subarray(0, 4096), Buffer.alloc(good.length - 4096)]); // a power loss: the tail never reached the disk
    writeFileSync(join(cache, round), zeroed);
    const monthAgo = new Date(Date.now() - 31 * 24 * 3600_000);
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    const leftovers = {
      oldChunk: join(cache, 'round-AAAAAAAA.cjs'), // an older build's, untouched for a month
      newChunk: join(cache, 'round-BBBBBBBB.cjs'), // another install's, written recently
      oldTemp: join(cache, `.${round}.0123456789ab.tmp`), // a writer killed mid-write
      newTemp: join(cache, `.${round}.ba9876543210.tmp`), // a writer at work
      oldNode: join(versions, 'v0.0.0-x64-1', 'sync'),
      newNode: join(versions, 'v0.0.1-x64-1', 'sync'),
    };
    for (const p of [leftovers.oldNode, leftovers.newNode]) mkdirSync(p, { recursive: true });
    for (const p of [leftovers.oldChunk, leftovers.newChunk, leftovers.oldTemp, leftovers.newTemp]) writeFileSync(p, good);
    utimesSync(leftovers.oldChunk, monthAgo, monthAgo);
    utimesSync(leftovers.oldTemp, hourAgo, hourAgo);
    utimesSync(dirname(leftovers.oldNode), monthAgo, monthAgo);

    const refused = await tracedSync(a);
    expect(refused?.chunks).toEqual({ core: 'hit', round: 'refused' });
    expect(refused?.wrote).toEqual(['core', 'round']);
    expect(readFileSync(join(cache, round)).equals(good)).toBe(false); // written again (this run compiled other functions: not byte-equal to the first)
    expect(decodeCache(readFileSync(join(cache, round)), readFileSync(join(BUNDLE, round), 'utf8'))).not.toBeNull();
    expect(Object.entries(leftovers).filter(([, p]) => existsSync(p)).map(([k]) => k).sort()).toEqual(['newChunk', 'newNode', 'newTemp']);
    expect((await tracedSync(a))?.chunks).toEqual({ core: 'hit', round: 'hit' });
  });

  it('a file made for another source of the same length, or whose data changed, does not decode', () => {
    const source = 'module.exports = 1;\n';
    const data = Buffer.from('not really V8 data, but the header is what is checked');
    const file = encodeCache(source, data, true);
    expect(decodeCache(file, source)).toEqual({ data, complete: true });
    expect(decodeCache(file, 'module.exports = 2;\n')).toBeNull(); // same length, other code
    const flipped = Buffer.from(file);
    flipped[flipped.length - 1]! ^= 1;
    expect(decodeCache(flipped, source)).toBeNull();
    expect(decodeCache(file.subarray(0, file.length - 1), source)).toBeNull(); // cut short
    expect(decodeCache(Buffer.concat([Buffer.from('x'), file.subarray(1)]), source)).toBeNull(); // not our magic
    expect(decodeCache(encodeCache(source, data, false), source)?.complete).toBe(false);
  });

  it('a cache directory writable by others, or a symbolic link, is neither read nor written; one that cannot be made costs nothing but the cache', async () => {
    const a = await Instance.init(makeBareHub(), 'a', { files: { 'notes.md': 'hello\n' }, extraEnv: { AGENTGIT_TRACE: '1' } });
    await tracedSync(a);
    const cache = syncCache(a);
    const before = new Map(readdirSync(cache).map((f) => [f, readFileSync(join(cache, f))]));
    chmodSync(cache, 0o777);
    rmSync(join(cache, [...before.keys()].find((f) => short(f) === 'core')!)); // a miss would write it, were the directory used
    const open = await tracedSync(a);
    expect(open).toEqual({ chunks: {}, wrote: [], unused: `${cache} is writable by others` });
    expect(readdirSync(cache).length).toBe(before.size - 1);

    chmodSync(cache, 0o700);
    const elsewhere = join(dirname(cache), 'elsewhere');
    renameSync(cache, elsewhere);
    symlinkSync(elsewhere, cache);
    expect((await tracedSync(a))?.unused).toBe(`${cache} is not a directory`);
    rmSync(cache);

    const base = join(a.env.AGENTGIT_HOME!, 'code-cache');
    rmSync(base, { recursive: true, force: true });
    writeFileSync(base, 'not a directory\n');
    a.append('notes.md', 'a line\n');
    const blocked = await tracedSync(a);
    expect(blocked?.chunks).toEqual({ core: 'miss', round: 'miss', change: 'miss' });
    expect(blocked?.wrote).toEqual([]);
    expect(readFileSync(base, 'utf8')).toBe('not a directory\n');
    rmSync(base);

    a.append('notes.md', 'another line\n');
    const off = await new Instance(a.dir, 'a', a.env.HOME!, { AGENTGIT_TRACE: '1', AGENTGIT_CODE_CACHE: '0' }).sync(['--quiet']);
    expect(off.code, off.stderr).toBe(0);
    expect(traced(off.stderr)).toBeNull();
    expect(existsSync(base)).toBe(false);
    expect(a.git(['status', '--porcelain'])).toBe(''); // the round ran: its change is committed
  });

  it('the chunks of a round hold no import() (a chunk with one is compiled without the cache), and the merge driver\'s chunk is one the cache takes', () => {
    const chunks = readdirSync(BUNDLE).filter((f) => ['core', 'round', 'change'].includes(short(f)));
    expect(chunks.map(short).sort()).toEqual(['change', 'core', 'round']);
    for (const f of chunks) expect(/\bimport\s*\(/.test(readFileSync(join(BUNDLE, f), 'utf8')), f).toBe(false);
    const driver = readdirSync(BUNDLE).find((f) => f.startsWith('merge-driver-'));
    expect(driver && HASHED_CHUNK.test(driver)).toBe(true);
    expect(HASHED_CHUNK.test('launch.cjs')).toBe(false); // the entry, a fixed name, is never cached
  });
});
