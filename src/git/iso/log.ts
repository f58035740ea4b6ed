/**
 * `git log -z --raw --no-renames --format=...` in-process for the
 * isomorphic-git engine (`agentgit log`, `agentgit verify`): the format
 * fields agentgit asks for, each as git prints it. A field outside this
 * list is refused with a clear error rather than printed differently.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type * as Git from '../backend.js';
import { diffTreesInProcess } from '../tree.js';
import type { IsoObjects } from './objects.js';
import type { History } from './revs.js';
import { signatureStatusOfRaw } from './signatures.js';

const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

interface Parsed {
  header: Map<string, string>;
  message: string;
}

function parse(raw: Buffer): Parsed {
  const text = raw.toString('utf8');
  const end = text.indexOf('\n\n');
  const header = new Map<string, string>();
  for (const line of (end < 0 ? text : text.slice(0, end)).split('\n')) {
    if (line.startsWith(' ')) continue; // a continuation (gpgsig)
    const sp = line.indexOf(' ');
    if (sp > 0 && !header.has(line.slice(0, sp))) header.set(line.slice(0, sp), line.slice(sp + 1));
  }
  return { header, message: end < 0 ? '' : text.slice(end + 2) };
}

/** `Name <email> 1700000000 +0100` → its parts. */
function ident(line: string): { name: string; email: string; time: number; tz: string } {
  const m = /^(.*?) ?<([^>]*)> (\d+) ([+-]\d{4})$/.exec(line) ?? [];
  return { name: m[1] ?? '', email: m[2] ?? '', time: Number(m[3] ?? 0), tz: m[4] ?? '+0000' };
}

/** git's %cI / %aI: strict ISO 8601 in the commit's own time zone. */
function isoStrict(time: number, tz: string): string {
  const sign = tz[0] === '-' ? -1 : 1;
  const offMin = sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(3, 5)));
  const d = new Date((time + offMin * 60) * 1000).toISOString().slice(0, 19);
  return `${d}${tz.slice(0, 3)}:${tz.slice(3)}`;
}

function trailers(message: string, key: string, separator: string): string {
  const paras = message.replace(/\n+$/, '').split(/\n\n/);
  const last = paras.at(-1) ?? '';
  const values: string[] = [];
  for (const line of last.split('\n')) {
    const m = /^([A-Za-z0-9-]+): ?(.*)$/.exec(line);
    if (m && m[1]!.toLowerCase() === key.toLowerCase()) values.push(m[2]!.trim());
  }
  return values.join(separator);
}

/** The principal of an allowed-signers text whose key has this fingerprint ('' when none). */
function principalOf(allowed: string, fp: string): string {
  for (const line of allowed.split('\n')) {
    const m = /^(\S+)\s+(?:\S*=\S*\s+)*ssh-\S+\s+(\S+)/.exec(line.trim());
    if (!m) continue;
    const f = 'SHA256:' + createHash('sha256').update(Buffer.from(m[2]!, 'base64')).digest('base64').replace(/=+$/, '');
    if (f === fp) return m[1]!;
  }
  return '';
}

export async function logWithChanges(h: History, objs: IsoObjects, q: Git.LogQuery, oids: string[], allowedSignersFile: string | null): Promise<Git.LoggedCommitEntry[]> {
  let allowed: string | null = null;
  const allowedText = (): string => {
    if (allowed === null) {
      try {
        allowed = allowedSignersFile ? readFileSync(allowedSignersFile, 'utf8') : '';
      } catch {
        allowed = '';
      }
    }
    return allowed;
  };
  const authorRe = q.author ? new RegExp(q.author) : null;
  const out: Git.LoggedCommitEntry[] = [];
  for (const oid of oids) {
    const raw = (await objs.read(oid))!.body;
    const c = await h.commit(oid);
    if (q.noMerges && c.parents.length > 1) continue;
    const p = parse(raw);
    const a = ident(p.header.get('author') ?? '');
    const cm = ident(p.header.get('committer') ?? '');
    if (authorRe && !authorRe.test(`${a.name} <${a.email}>`)) continue;
    let sig: Git.SignatureStatus | null = null;
    const sigOf = (): Git.SignatureStatus => (sig ??= signatureStatusOfRaw(raw, allowedText()));
    const fields = q.fields.map((f) => {
      switch (f) {
        case '%H':
          return oid;
        case '%an':
          return a.name;
        case '%ae':
          return a.email;
        case '%at':
          return String(a.time);
        case '%ct':
          return String(cm.time);
        case '%aI':
          return isoStrict(a.time, a.tz);
        case '%cI':
          return isoStrict(cm.time, cm.tz);
        case '%s':
          return p.message.split('\n\n')[0]!.replace(/\n/g, ' ').trim();
        case '%B':
          return p.message;
        case '%G?':
          return sigOf().g;
        case '%GK':
          return sigOf().fp;
        case '%GS':
          return sigOf().fp && sigOf().g === 'G' ? principalOf(allowedText(), sigOf().fp) : '';
      }
      const t = /^%\(trailers:key=([^,)]+),valueonly(?:,separator=%x2C)?\)$/.exec(f);
      if (t) return trailers(p.message, t[1]!, f.includes('separator=%x2C') ? ',' : '\n');
      throw new Error(`log format field ${f} is not supported by the isomorphic-git engine; install git`);
    });
    const parentTree = c.parents[0] ? (await h.commit(c.parents[0])).tree : EMPTY_TREE;
    const changes = c.parents.length > 1 && !q.firstParent ? [] : await diffTreesInProcess((o) => objs.content(o), parentTree, c.tree);
    out.push({ fields, changes });
    if (q.maxCount !== undefined && out.length >= q.maxCount) break;
  }
  return out;
}
