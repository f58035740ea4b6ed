/**
 * `agentgit log [--instance ID] [--since DATE] [--path GLOB] [--json]`:
 * the audit trail. Per commit: time, instance, signature status and signer
 * (the principal of the key that signed it, not the author line), files by
 * layer, log entries added and JSON keys changed. The same facts come from
 * plain `git log` (see README, "Auditing with plain git").
 */
import ignore from 'ignore';
import { changedKeyPaths } from '../merge/json.js';
import { lostEntries } from '../merge/log.js';
import { openContext } from '../sync/context.js';
import { isClockPath } from '../sync/clocks.js';
import { printJson } from './output.js';
import { INSTANCE_TRAILER } from '../git/trailers.js';
import type { LogQuery } from '../git/backend.js';

const SIG: Record<string, string> = { G: 'good', U: 'unknown key', N: 'unsigned', B: 'bad', E: 'cannot check', X: 'expired', Y: 'expired key', R: 'revoked key' };

export async function logCommand(a: { C: string; json: boolean; instance?: string; since?: string; path?: string; max: number; archive?: boolean }): Promise<void> {
  const { repo, policy } = await openContext(a.C);
  try {
    const fields = ['%H', '%cI', '%an', '%G?', `%(trailers:key=${INSTANCE_TRAILER},valueonly,separator=%x2C)`, '%GS', '%GK', '%s'];
    const query: LogQuery = { fields, include: [], firstParent: true, maxCount: a.max };
    if (a.archive) query.glob = 'refs/agentgit/archive/*'; // the history before each epoch (docs/compaction.md)
    if (a.since) query.since = a.since;
    // authors are `AGENT/INSTANCE <INSTANCE@…>`; git matches the pattern against name and email
    if (a.instance) query.author = `/${a.instance.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} <`;
    const match = a.path ? ignore().add(a.path) : null;
    const rows = [];
    for (const { fields: [oid, time, author, sig, trailer, principal, key, subject], changes } of await repo.logWithChanges(query)) {
      const files: { path: string; kind: string; status: string; entriesAdded?: number; keysChanged?: string[] }[] = [];
      for (const { path, status, oldOid, newOid } of changes) {
        if (isClockPath(path)) continue;
        if (match && !safe(() => match.ignores(path))) continue;
        const kind = policy.kindOf(path);
        const f: (typeof files)[number] = { path, kind, status };
        const before = status === 'A' ? '' : ((await repo.objects.read(oldOid))?.toString('utf8') ?? '');
        const after = status === 'D' ? '' : ((await repo.objects.read(newOid))?.toString('utf8') ?? '');
        if (kind === 'log') f.entriesAdded = lostEntries(path, before.replace(/\r\n/g, '\n'), after.replace(/\r\n/g, '\n')).added.length; // CRLF as LF, as verify and the guard compare
        if (kind === 'json') f.keysChanged = changedKeyPaths(before || null, after, policy.jsonOptions(path));
        files.push(f);
      }
      if (match && files.length === 0) continue;
      // the signer comes from the signature (the principal its key is admitted under, else the key), never from the author line
      rows.push({ commit: oid!, time: time!, instance: trailer || author!.split('/')[1] || author!, author: author!, signer: principal || key || null, signature: SIG[sig!] ?? sig!, subject: subject!.trim(), files });
    }
    if (a.json) {
      printJson(rows);
      return;
    }
    if (a.archive && rows.length === 0) process.stdout.write('no archived history here: `agentgit compact history` archives it, and a sync that crosses into a new epoch fetches it\n');
    for (const r of rows) {
      process.stdout.write(`${r.commit.slice(0, 10)} ${r.time} ${r.instance} [${r.signature}${r.signer ? `, signed by ${r.signer}` : ''}${r.signer && r.signer !== r.author ? ` (authored as ${r.author})` : ''}] ${r.subject}\n`);
      const byKind = new Map<string, string[]>();
      for (const f of r.files) {
        const desc = `${f.path}${f.entriesAdded ? ` +${f.entriesAdded} entr${f.entriesAdded === 1 ? 'y' : 'ies'}` : ''}${f.keysChanged?.length ? ` keys ${f.keysChanged.slice(0, 5).join(' ')}${f.keysChanged.length > 5 ? ' …' : ''}` : ''}`;
        byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), desc]);
      }
      for (const [k, v] of byKind) process.stdout.write(`    ${k}: ${v.join(', ')}\n`);
    }
  } finally {
    repo.close();
  }
}

function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}
