/**
 * `agentgit conflicts [--path GLOB] [--since DATE] [--json]`: the synced
 * record of concurrent writes that last-writer-wins resolved: a short ID,
 * the time (ISO 8601, UTC), path, key or hunk, both values in full, and
 * which instance wrote each. Nothing is lost: the losing value is here and
 * in history.
 *
 * `agentgit conflicts take ID` writes the losing value of record ID back
 * into the file (a JSON key path: that key; a text hunk: in place of the
 * winning text; a whole file: the file). It is a new write, committed (and
 * winning, with a newer clock) at the next sync.
 */
import { redactSecrets } from '../sync/secrets.js';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ignore from 'ignore';
import { UsageError } from '../sync/context.js';
import { openContext } from '../sync/context.js';
import { CONFLICTS_PATH } from '../sync/integrate.js';
import { FailedError } from '../errors.js';
import { printJson } from './output.js';

interface Rec {
  at: string;
  path: string;
  key: string;
  rule: string;
  winner: { value?: string; clock: string | null };
  loser: { value?: string; clock: string | null };
}

interface Side {
  value: string | null;
  clock: string | null;
  instance: string;
  time: string | null;
}

/** A record as shown (and as --json prints it: the stored fields, plus id, times and instances). */
export interface Shown {
  id: string;
  time: string | null;
  at: string;
  path: string;
  key: string;
  rule: string;
  winner: Side;
  loser: Side;
  winnerInstance: string;
  loserInstance: string;
}

const CUT = '…[cut; full text in history]';
const BINARY = /^<\d+ bytes, binary>$/;

/** `<wall ms>.<counter>.<instance>`: the instance, and the time in ISO 8601 UTC. */
const who = (clock: string | null): string => (clock ? clock.split('.').slice(2).join('.') || '?' : '?');
function timeOf(clock: string | null): string | null {
  const ms = clock ? Number(clock.split('.')[0]) : NaN;
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;
}

/** A stable short ID: the same record line gives the same ID on every instance. */
export function recordId(line: string): string {
  return createHash('sha256').update(line).digest('hex').slice(0, 8);
}

/** DATE for --since: ISO 8601; a date and time without a zone is UTC (results never depend on TZ). */
export function parseSince(s: string): number {
  const t = s.trim();
  // a space or a T between date and time, no zone: UTC (Date.parse would read the space form as local time)
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(:\d\d(\.\d+)?)?)$/.exec(t);
  const withZone = m ? `${m[1]}T${m[2]}Z` : t;
  const ms = /^\d{4}-\d\d-\d\d/.test(withZone) ? Date.parse(withZone) : NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`--since ${s}: not a date; use ISO 8601, e.g. 2026-12-01 or 2026-12-01T10:00Z`);
  return ms;
}

export async function readRecords(root: string): Promise<Shown[]> {
  const text = await readFile(join(root, CONFLICTS_PATH), 'utf8').catch(() => '');
  const out: Shown[] = [];
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l) continue;
    let r: Rec;
    try {
      r = JSON.parse(l) as Rec;
    } catch {
      continue; // a line that is not a record
    }
    if (!r || typeof r.path !== 'string' || !r.winner || !r.loser) continue;
    const side = (s: Rec['winner']): Side => ({ value: typeof s.value === 'string' ? s.value : null, clock: s.clock ?? null, instance: who(s.clock ?? null), time: timeOf(s.clock ?? null) });
    const [winner, loser] = [side(r.winner), side(r.loser)];
    out.push({ id: recordId(l), time: timeOf(r.at || r.winner.clock), at: r.at ?? '', path: r.path, key: r.key ?? '', rule: r.rule, winner, loser, winnerInstance: winner.instance, loserInstance: loser.instance });
  }
  return out;
}

function show(v: string | null): string {
  if (v === null) return '(absent: deleted)';
  if (!v.includes('\n')) return v;
  return '\n' + v.replace(/\n$/, '').split('\n').map((l) => `      | ${l}`).join('\n');
}

export async function conflictsCommand(a: { C: string; json: boolean; action?: string; id?: string; path?: string; since?: string }): Promise<void> {
  const since = a.since !== undefined ? parseSince(a.since) : null;
  if (a.action === 'take' && !a.id) throw new UsageError('conflicts take needs the record ID (`agentgit conflicts` lists them)');
  const { repo } = await openContext(a.C);
  try {
    let recs = await readRecords(repo.root);
    if (a.action === 'take') {
      const hits = recs.filter((r) => r.id.startsWith((a.id ?? '').toLowerCase()));
      if (hits.length !== 1) throw new FailedError(hits.length === 0 ? `no conflict record ${a.id} in ${CONFLICTS_PATH}; \`agentgit conflicts\` lists them` : `${a.id} names ${hits.length} records; give more of the ID`);
      const done = await take(repo.root, hits[0]!);
      if (a.json) printJson({ ok: true, id: hits[0]!.id, path: hits[0]!.path, key: hits[0]!.key, did: done });
      else process.stdout.write(`${done}; the next \`agentgit sync\` commits it\n`);
      return;
    }
    if (a.path) {
      const m = ignore().add(a.path);
      recs = recs.filter((r) => {
        try {
          return m.ignores(r.path);
        } catch {
          return false;
        }
      });
    }
    if (since !== null) recs = recs.filter((r) => r.time !== null && Date.parse(r.time) >= since);
    if (a.json) {
      printJson(recs);
      return;
    }
    if (recs.length === 0) process.stdout.write('no concurrent writes recorded\n');
    for (const r of recs) {
      process.stdout.write(
        redactSecrets([
          `${r.id}  ${r.time ?? '(no time)'}  ${r.path}${r.key ? ` ${r.key}` : ''}  (decided by ${r.rule})`,
          `  kept  ${r.winner.instance}${r.winner.time ? ` at ${r.winner.time}` : ''}: ${show(r.winner.value)}`,
          `  lost  ${r.loser.instance}${r.loser.time ? ` at ${r.loser.time}` : ''}: ${show(r.loser.value)}`,
          `  to restore the lost value: agentgit conflicts take ${r.id}`,
          '',
        ].join('\n')), // synced values: a token in one is never printed
      );
    }
  } finally {
    repo.close();
  }
}

/** Write the losing value back; returns what was done, for the operator. */
async function take(root: string, r: Shown): Promise<string> {
  const lost = r.loser.value;
  const file = join(root, r.path);
  const where = `${r.path}${r.key ? ` ${r.key}` : ''}`;
  if (lost !== null && lost.endsWith(CUT)) throw new FailedError(`the lost value of ${where} was too long to record in full; find it in history (\`git log -p -- ${r.path}\`) and restore it by hand`);
  if (lost !== null && BINARY.test(lost)) throw new FailedError(`the lost version of ${r.path} is binary; restore it from history (\`git log -- ${r.path}\`, then \`git show COMMIT:${r.path} > ${r.path}\`)`);
  const current = await readFile(file, 'utf8').catch(() => null);
  if (r.key === '') {
    // a whole file: the file
    if (lost === null) throw new FailedError(`the lost side of ${r.path} deleted the file; delete it by hand if that is what you want`);
    await writeFile(file, lost);
    return `wrote the lost version of ${r.path} (by ${r.loser.instance}) back to the file`;
  }
  if (current === null) throw new FailedError(`${r.path} is not there any more (or cannot be read); nothing was written`);
  if (/^hunk@\d+$/.test(r.key)) {
    const won = r.winner.value ?? '';
    const at = won === '' ? -1 : current.indexOf(won);
    if (at < 0) throw new FailedError(`${r.path} no longer holds the text that won at ${r.key} (it changed since); nothing was written. The lost text was:\n${lost ?? ''}`);
    await writeFile(file, current.slice(0, at) + (lost ?? '') + current.slice(at + won.length));
    return `put the lost text of ${where} (by ${r.loser.instance}) back in place of the winning text`;
  }
  if (r.key.startsWith('/')) {
    let doc: unknown;
    try {
      doc = JSON.parse(current.replace(/^\uFEFF/, ''));
    } catch {
      throw new FailedError(`${r.path} is not valid JSON now; fix it, then take ${r.id} again`);
    }
    let value: unknown;
    if (lost !== null) {
      try {
        value = JSON.parse(lost);
      } catch {
        throw new FailedError(`the recorded lost value of ${where} is not JSON; nothing was written`);
      }
    }
    setAt(doc, r.key, value, lost === null, r.path);
    const indent = /^[[{]\r?\n([ \t]+)/.exec(current)?.[1] ?? (current.trimEnd().includes('\n') ? '  ' : '');
    const nl = current.includes('\r\n') ? '\r\n' : '\n';
    let out = JSON.stringify(doc, null, indent);
    if (nl !== '\n') out = out.replace(/\n/g, nl);
    await writeFile(file, out + (/\r?\n$/.test(current) ? nl : ''));
    return `set ${where} back to the lost value ${lost === null ? '(removed the key)' : lost} (by ${r.loser.instance})`;
  }
  throw new FailedError(`records of kind "${r.key}" cannot be taken back automatically; the lost value was:\n${lost ?? '(absent)'}`);
}

const unescape = (s: string): string => s.replace(/~1/g, '/').replace(/~0/g, '~');
const ID_KEYS = ['id', '_id', 'uuid', 'key', 'name', 'slug'];

/** Set (or delete) the value at a merge key path: `/a/b` object keys, `/0` array indexes, `/@ID` array items by id. */
function setAt(doc: unknown, key: string, value: unknown, remove: boolean, path: string): void {
  const segs = key.slice(1).split('/').map(unescape);
  let node = doc as Record<string, unknown> | unknown[];
  const fail = (): never => {
    throw new FailedError(`${path} no longer has ${key} (it changed since); nothing was written`);
  };
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    const last = i === segs.length - 1;
    if (node === null || typeof node !== 'object') fail();
    let slot: string | number;
    if (Array.isArray(node)) {
      if (seg.startsWith('@')) {
        const id = seg.slice(1);
        const at = node.findIndex((it) => it !== null && typeof it === 'object' && !Array.isArray(it) && ID_KEYS.some((k) => String((it as Record<string, unknown>)[k]) === id));
        if (at < 0) {
          if (last && !remove) {
            node.push(value);
            return;
          }
          fail();
        }
        slot = at;
      } else if (/^\d+$/.test(seg) && Number(seg) <= node.length) slot = Number(seg);
      else return fail();
      if (last) {
        if (remove) node.splice(slot, 1);
        else node[slot] = value;
        return;
      }
      node = node[slot] as Record<string, unknown>;
    } else {
      if (last) {
        if (remove) delete node[seg];
        else node[seg] = value;
        return;
      }
      if (!(seg in node)) fail();
      node = node[seg] as Record<string, unknown>;
    }
  }
  // key '/' alone: the whole document is not a key path
  fail();
}
