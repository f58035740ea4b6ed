/**
 * `agentgit conflicts [--json]`: the synced record of concurrent writes
 * that last-writer-wins resolved: path, key or hunk, both values, and the
 * clocks (each names the instance that wrote it). Nothing is lost: the
 * losing value is here and in history.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openContext } from '../sync/context.js';
import { CONFLICTS_PATH } from '../sync/integrate.js';
import { printJson } from './output.js';

interface Rec {
  at: string;
  path: string;
  key: string;
  rule: string;
  winner: { value: string; clock: string | null };
  loser: { value: string; clock: string | null };
}

const who = (clock: string | null): string => (clock ? clock.split('.').slice(2).join('.') || '?' : '?');

export async function conflictsCommand(a: { C: string; json: boolean }): Promise<void> {
  const { repo } = await openContext(a.C);
  try {
    const text = await readFile(join(repo.root, CONFLICTS_PATH), 'utf8').catch(() => '');
    const recs: Rec[] = [];
    for (const l of text.split('\n')) {
      if (!l.trim()) continue;
      try {
        recs.push(JSON.parse(l) as Rec);
      } catch {
        /* a line that is not a record: skip */
      }
    }
    if (a.json) {
      printJson(recs.map((r) => ({ ...r, winnerInstance: who(r.winner.clock), loserInstance: who(r.loser.clock) })));
      return;
    }
    if (recs.length === 0) process.stdout.write('no concurrent writes recorded\n');
    const short = (v: string): string => JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v);
    for (const r of recs) {
      process.stdout.write(`${r.path}${r.key ? ` ${r.key}` : ''}: kept ${short(r.winner.value)} (${who(r.winner.clock)}) over ${short(r.loser.value)} (${who(r.loser.clock)}), by ${r.rule}\n`);
    }
  } finally {
    repo.close();
  }
}
