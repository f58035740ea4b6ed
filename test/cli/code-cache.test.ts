/**
 * The bundle's code cache (src/cli/code-cache.ts), through the built CLI as
 * cron runs it: what a round finds and writes (AGENTGIT_TRACE=1 says it at
 * exit), where the files go and with which modes, a cache V8 refuses, a cache
 * directory that cannot be made, what is cleared away, and that it can be
 * turned off. Needs `npm run build` (as every test that runs the CLI).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HASHED_CHUNK } from '../../src/cli/code-cache.js';
import { Instance, ROOT, cleanupTemp, makeBareHub } from '../helpers/agents.js';

afterAll(() => cleanupTemp());

const BUNDLE = join(ROOT, 'dist', 'bundle');
const VERSION_DIR = `${process.version}-${process.arch}`;

/** The trace line of a run, as chunk name (without its hash) → what happened. */
function traced(stderr: string): { chunks: Record<string, string>; wrote: string[] } | null {
  const line = stderr.split('\n').find((l) => l.startsWith('[trace code-cache] '));
  if (!line) return null;
  const chunks: Record<string, string> = {};
  let wrote: string[] = [];
  for (const part of line.slice('[trace code-cache] '.length).split(', ')) {
    const [what = '', ...names] = part.split(' ');
    if (what === 'wrote') wrote = names.map(short).sort();
    else chunks[short(names.join(' '))] = what;
  }
  return { chunks, wrote };
}
const short = (chunk: string): string => chunk.replace(/-[\w-]{8}\.cjs$/, '');

async function tracedSync(a: Instance): Promise<{ chunks: Record<string, string>; wrote: string[] } | null> {
  const r = await a.sync(['--quiet']);
  expect(r.code, r.stderr).toBe(0);
  return traced(r.stderr);
}

describe('the code cache of the bundle', () => {
  it('a first round writes the cache of the chunks it compiled; the next finds them; a round with a new chunk adds it and rewrites the others', async () => {
    const a = await Instance.init(makeBareHub(), 'a', { files: { 'notes.md': 'hello\n' }, extraEnv: { AGENTGIT_TRACE: '1' } });
    const cache = join(a.env.AGENTGIT_HOME!, 'code-cache', VERSION_DIR, 'sync');
    expect(existsSync(cache)).toBe(false); // init used the other profile

    a.append('notes.md', 'a line\n'); // the first round commits: it loads the change chunk
    const first = await tracedSync(a);
    expect(first?.chunks).toEqual({ core: 'miss', round: 'miss', change: 'miss' });
    expect(first?.wrote).toEqual(['change', 'core', 'round']);
    const files = readdirSync(cache).sort();
    expect(files.map(short)).toEqual(['change', 'core', 'round']);
    for (const f of files) {
      expect(HASHED_CHUNK.test(f)).toBe(true);
      expect(existsSync(join(BUNDLE, f))).toBe(true); // named as the chunk it caches
      expect(statSync(join(cache, f)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(cache).mode & 0o777).toBe(0o700);

    const noop = await tracedSync(a); // nothing to commit: no change chunk; everything found, nothing written
    expect(noop).toEqual({ chunks: { core: 'hit', round: 'hit' }, wrote: [] });

    a.append('notes.md', 'another line\n');
    expect(await tracedSync(a)).toEqual({ chunks: { core: 'hit', round: 'hit', change: 'hit' }, wrote: [] });
    expect(a.git(['log', '-1', '--format=%s', '--', 'notes.md'])).not.toBe('');

    // a fresh cache made by a no-op round lacks the change chunk: the first round with a change adds it and rewrites the others
    rmSync(cache, { recursive: true });
    expect((await tracedSync(a))?.wrote).toEqual(['core', 'round']);
    a.append('notes.md', 'a third line\n');
    const grown = await tracedSync(a);
    expect(grown?.chunks).toEqual({ core: 'hit', round: 'hit', change: 'miss' });
    expect(grown?.wrote).toEqual(['change', 'core', 'round']);
  });

  it('a cache V8 refuses is not used and is written again; stale caches, a dead writer\'s temp file and other Node versions are cleared', async () => {
    const a = await Instance.init(makeBareHub(), 'a', { files: { 'notes.md': 'hello\n' }, extraEnv: { AGENTGIT_TRACE: '1' } });
    await tracedSync(a);
    const base = join(a.env.AGENTGIT_HOME!, 'code-cache');
    const cache = join(base, VERSION_DIR, 'sync');
    const round = readdirSync(cache).find((f) => short(f) === 'round')!;
    const good = readFileSync(join(cache, round));
    writeFileSync(join(cache, round), Buffer.alloc(good.length, 0x5a)); // garbage of the right length
    writeFileSync(join(cache, 'round-AAAAAAAA.cjs'), good); // the chunk of an older build
    writeFileSync(join(cache, `.${round}.999999999.tmp`), 'torn'); // a writer killed mid-write (no such pid)
    mkdirSync(join(base, 'v0.0.0-x64', 'sync'), { recursive: true });
    writeFileSync(join(base, 'v0.0.0-x64', 'sync', round), good);

    const refused = await tracedSync(a);
    expect(refused?.chunks).toEqual({ core: 'hit', round: 'rejected' });
    expect(refused?.wrote).toEqual(['core', 'round']);
    expect(readFileSync(join(cache, round)).equals(Buffer.alloc(good.length, 0x5a))).toBe(false);
    expect(readdirSync(cache).map(short).sort()).toEqual(['core', 'round']);
    expect(readdirSync(base)).toEqual([VERSION_DIR]);
    expect((await tracedSync(a))?.chunks).toEqual({ core: 'hit', round: 'hit' });
  });

  it('a cache directory that cannot be made costs nothing but the cache; AGENTGIT_CODE_CACHE=0 turns it off', async () => {
    const a = await Instance.init(makeBareHub(), 'a', { files: { 'notes.md': 'hello\n' }, extraEnv: { AGENTGIT_TRACE: '1' } });
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

  it('the chunks of a round hold no import() (a chunk with one is compiled without the cache)', () => {
    const chunks = readdirSync(BUNDLE).filter((f) => ['core', 'round', 'change'].includes(short(f)));
    expect(chunks.map(short).sort()).toEqual(['change', 'core', 'round']);
    for (const f of chunks) expect(readFileSync(join(BUNDLE, f), 'utf8').includes('import('), f).toBe(false);
  });
});
