/**
 * Fetch over smart HTTP (protocol v1, stateless RPC), written here because
 * isomorphic-git's fetch takes branches and tags only and moves refs by
 * the remote's config: agentgit fetches its heartbeat refs
 * (`refs/agentgit/hub/*`) and probes into scratch refs by URL.
 *
 * 1. the hub's refs (GET info/refs?service=git-upload-pack);
 * 2. refspecs (`+src:dst`, `*` allowed) map them to local refs;
 * 3. one POST: `want` each id we lack, `have` every local ref tip, `done`;
 *    the answer's side band 1 is the pack (no thin pack asked);
 * 4. the pack is written as `tmp_pack_*`, indexed (isomorphic-git's
 *    indexer, which hashes every object), then renamed pack first, index
 *    second (git's order: a kill -9 leaves a pack without index, ignored);
 * 5. git's connectivity check (iso/connected.ts): every id a ref is to
 *    move to is here as a commit with everything it reaches, or nothing
 *    moves (an empty or partial pack from a hostile hub fails closed);
 * 6. the local refs move, forced as the refspecs say.
 *
 * The answer is held in memory up to MAX_PACK_BYTES; a bigger one is refused
 * with a line saying to use git. Before step 4, every entry of the pack is
 * inflated once with a cap (pack.ts scanPack): an object over
 * MAX_OBJECT_BYTES, or a pack inflating to over MAX_INFLATED_BYTES (a zip
 * bomb), is refused the same way, and nothing is written.
 */
import * as fs from 'node:fs';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { redactUrl } from '../url.js';
import { checkConnected, hubDataError, hubObjectError } from './connected.js';
import { loadIso } from './load.js';
import { IsoObjects } from './objects.js';
import { HUB_LIMITS, idxOids, scanPack, type InflateLimits } from './pack.js';
import { casRef, listRefs, readRef } from './refs.js';
import { httpFor, type TransportOptions } from './remote.js';

export interface Refspec {
  force: boolean;
  src: string;
  dst: string;
}

export function parseRefspec(spec: string): Refspec {
  const force = spec.startsWith('+');
  const body = force ? spec.slice(1) : spec;
  const i = body.indexOf(':');
  if (i < 0) return { force, src: body, dst: '' };
  return { force, src: body.slice(0, i), dst: body.slice(i + 1) };
}

/** Where `ref` goes under `spec` (null: not matched). */
export function mapRef(spec: Refspec, ref: string): string | null {
  const star = spec.src.indexOf('*');
  if (star < 0) return ref === spec.src ? spec.dst : null;
  const pre = spec.src.slice(0, star);
  const post = spec.src.slice(star + 1);
  if (!ref.startsWith(pre) || !ref.endsWith(post) || ref.length < pre.length + post.length) return null;
  return spec.dst.replace('*', ref.slice(pre.length, ref.length - post.length));
}

function pkt(line: string): Buffer {
  const b = Buffer.from(line);
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0')), b]);
}

/** The pack from an upload-pack answer: pkt-lines (NAK / ACK), then side band 1 (pack), 2 (progress), 3 (error). */
function packFromResponse(body: Buffer, url: string): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 4 <= body.length) {
    const len = parseInt(body.toString('latin1', i, i + 4), 16);
    if (Number.isNaN(len)) throw new Error(`${redactUrl(url)}: the hub's answer is not git's protocol`);
    if (len === 0) {
      i += 4;
      continue;
    }
    const data = body.subarray(i + 4, i + len);
    i += len;
    const text = data.toString('latin1');
    if (text.startsWith('NAK') || text.startsWith('ACK')) continue;
    if (text.startsWith('ERR ')) throw new Error(`${redactUrl(url)}: the hub says: ${text.slice(4).trim()}`);
    const band = data[0];
    if (band === 1) parts.push(data.subarray(1));
    else if (band === 3) throw new Error(`${redactUrl(url)}: the hub says: ${data.subarray(1).toString('utf8').trim()}`);
  }
  return Buffer.concat(parts);
}

/** The largest upload-pack answer this engine holds in memory (git streams; this engine does not). */
export const MAX_PACK_BYTES = 512 * 1024 * 1024;

async function readAll(body: AsyncIterable<Uint8Array> | undefined, url: string, max = MAX_PACK_BYTES): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  if (body)
    for await (const c of body) {
      size += c.byteLength;
      if (size > max) throw hubDataError(url, `the hub's pack is over ${max >= 1048576 ? `${Math.floor(max / 1048576)} MiB` : `${max} bytes`}, more than the isomorphic-git engine holds in memory; fetch once with git (AGENTGIT_ENGINE=git)`);
      parts.push(Buffer.from(c));
    }
  return Buffer.concat(parts);
}

export interface FetchedRefs {
  /** remote ref -> id, for the refs the refspecs matched. */
  matched: Map<string, string>;
  /** Refspecs without `*` whose source the hub does not have. */
  missing: string[];
}

/** Fetch `refspecs` from an https hub into the repository at `gitDir`. */
export async function fetchHttpsRefspecs(gitDir: string, url: string, refspecs: string[], o: Omit<TransportOptions, 'gitDir'> & { prune?: boolean; maxPackBytes?: number; limits?: InflateLimits } = {}): Promise<FetchedRefs> {
  // Smart HTTP v1 is stateless: the refs are advertised by one request and
  // wanted by the next. When another instance pushes in between, the hub no
  // longer advertises the id we want and answers "not our ref" (git itself
  // speaks protocol v2, which has no such window). Nothing was fetched:
  // ask again, with the new advertisement (found by the reliability suite's
  // busy-agent scenario on a mixed fleet).
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchOnce(gitDir, url, refspecs, o);
    } catch (e) {
      if (attempt >= 4 || !/not our ref/.test((e as Error).message ?? '')) throw e;
    }
  }
}

async function fetchOnce(gitDir: string, url: string, refspecs: string[], o: Omit<TransportOptions, 'gitDir'> & { prune?: boolean; maxPackBytes?: number; limits?: InflateLimits }): Promise<FetchedRefs> {
  const git = await loadIso();
  const http = httpFor(url, { ...o, gitDir });
  const specs = refspecs.map(parseRefspec);
  const server = await git.listServerRefs({ http, url, protocolVersion: 1 });
  const updates = new Map<string, { oid: string; force: boolean }>();
  const matched = new Map<string, string>();
  for (const r of server) {
    if (r.ref.endsWith('^{}')) continue;
    for (const s of specs) {
      const dst = mapRef(s, r.ref);
      if (dst === null) continue;
      matched.set(r.ref, r.oid);
      if (dst) updates.set(dst, { oid: r.oid, force: s.force });
    }
  }
  const missing = specs.filter((s) => !s.src.includes('*') && !matched.has(s.src)).map((s) => s.src);
  dropUncheckedPacks(gitDir); // a pack a failed or killed fetch left is never trusted
  const objs = new IsoObjects(gitDir);
  const wants: string[] = [];
  const fresh = new Set<string>();
  for (const oid of new Set(matched.values())) if (!(await objs.has(oid))) wants.push(oid);
  if (wants.length > 0) {
    const haves = [...new Set(listRefs(gitDir).values())];
    const lines: Buffer[] = wants.map((w, i) => pkt(`want ${w}${i === 0 ? ' side-band-64k ofs-delta no-progress agent=agentgit' : ''}\n`));
    lines.push(Buffer.from('0000'));
    for (const h of haves) lines.push(pkt(`have ${h}\n`));
    lines.push(pkt('done\n'));
    const body = Buffer.concat(lines);
    const res = await http.request({
      url: `${url.replace(/\/+$/, '')}/git-upload-pack`,
      method: 'POST',
      headers: { 'Content-Type': 'application/x-git-upload-pack-request', Accept: 'application/x-git-upload-pack-result' },
      body: (async function* () {
        yield new Uint8Array(body);
      })(),
    });
    const answer = await readAll(res.body, url, o.maxPackBytes);
    if (res.statusCode !== 200) throw new Error(`${redactUrl(url)}: the hub answered HTTP ${res.statusCode} ${res.statusMessage} to git-upload-pack`);
    const pack = packFromResponse(answer, url);
    if (pack.length < 32 || pack.toString('latin1', 0, 4) !== 'PACK') throw new Error(`${redactUrl(url)}: the hub sent no pack`);
    // every entry inflated once with a cap, before anything is written (isomorphic-git's indexer has none: a zip bomb)
    try {
      scanPack(pack, o.limits ?? HUB_LIMITS);
    } catch (e) {
      throw hubObjectError(url, e) ?? e;
    }
    for (const oid of await storePack(gitDir, pack, { unchecked: true })) fresh.add(oid);
  }
  try {
    await checkConnected(objs, [...updates.values()].map((u) => u.oid), fresh, url);
  } catch (e) {
    dropUncheckedPacks(gitDir);
    throw e;
  }
  acceptPacks(gitDir);
  for (const [dst, { oid, force }] of updates) {
    const before = readRef(gitDir, dst);
    if (before === oid) continue;
    if (!force && before !== null) throw new Error(`${dst}: refusing a non-forced update of an existing ref (refspec without +)`);
    casRef(gitDir, dst, before, oid);
  }
  if (o.prune) {
    for (const s of specs) {
      if (!s.dst.includes('*')) continue;
      const [pre] = s.dst.split('*') as [string];
      for (const [local] of listRefs(gitDir, pre)) {
        if (![...updates.keys()].includes(local)) {
          const file = join(gitDir, local);
          if (existsSync(file)) rmSync(file);
        }
      }
    }
  }
  return { matched, missing };
}

/**
 * Store a complete pack and its index under objects/pack, in git's
 * crash-safe order; returns the ids it holds. The pack's name is its
 * trailer, which must be the SHA-1 of the rest (else a hub could name a
 * pack after one we hold and replace it). `unchecked` (a pack from a hub):
 * a `pack-NAME.unchecked` marker is written before the pack is moved into
 * place, and stays until acceptPacks, after the connectivity check; a pack
 * that still has its marker (the check failed, or a kill -9 came first) is
 * removed by dropUncheckedPacks before the next fetch, so nothing it holds
 * is ever taken as "here before the fetch" (connected.ts).
 */
export async function storePack(gitDir: string, pack: Buffer, o: { unchecked?: boolean } = {}): Promise<string[]> {
  const git = await loadIso();
  const dir = join(gitDir, 'objects', 'pack');
  fs.mkdirSync(dir, { recursive: true });
  const trailer = pack.subarray(pack.length - 20);
  if (pack.length < 32 || !createHash('sha1').update(pack.subarray(0, pack.length - 20)).digest().equals(trailer)) {
    throw hubDataError(gitDir, 'a pack whose trailer is not the SHA-1 of its content');
  }
  const tmp = `tmp_pack_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  writeFileSync(join(dir, `${tmp}.pack`), pack);
  try {
    await git.indexPack({ fs, dir, gitdir: gitDir, filepath: `${tmp}.pack` });
    const ids = idxOids(readFileSync(join(dir, `${tmp}.idx`)), join(dir, `${tmp}.idx`));
    const name = `pack-${trailer.toString('hex')}`;
    if (o.unchecked && !existsSync(join(dir, `${name}.idx`))) writeFileSync(join(dir, `${name}.unchecked`), '');
    renameSync(join(dir, `${tmp}.pack`), join(dir, `${name}.pack`));
    renameSync(join(dir, `${tmp}.idx`), join(dir, `${name}.idx`));
    return ids;
  } finally {
    rmSync(join(dir, `${tmp}.pack`), { force: true });
    rmSync(join(dir, `${tmp}.idx`), { force: true });
  }
}

/** The connectivity check passed: the packs this fetch stored are ordinary packs from now on. */
export function acceptPacks(gitDir: string): void {
  const dir = join(gitDir, 'objects', 'pack');
  for (const f of packDirEntries(dir)) if (f.endsWith('.unchecked')) rmSync(join(dir, f), { force: true });
}

/**
 * Remove what no check vouches for: every pack that still has its
 * `.unchecked` marker (the pack, its index, then the marker), and the
 * temporary files of a storePack whose process is gone.
 */
export function dropUncheckedPacks(gitDir: string): void {
  const dir = join(gitDir, 'objects', 'pack');
  for (const f of packDirEntries(dir)) {
    if (f.endsWith('.unchecked')) {
      const name = f.slice(0, -'.unchecked'.length);
      rmSync(join(dir, `${name}.idx`), { force: true }); // the index first: without it the pack is not read
      rmSync(join(dir, `${name}.pack`), { force: true });
      rmSync(join(dir, f), { force: true });
    } else {
      const m = /^tmp_pack_(\d+)_/.exec(f);
      if (m && !alive(Number(m[1]))) rmSync(join(dir, f), { force: true });
    }
  }
}

function packDirEntries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
