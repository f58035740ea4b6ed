/**
 * The conflict record, `.agentgit/conflicts.jsonl`: one JSON line per value
 * that lost a last-writer-wins race (synced, merged as a log, listed by
 * `agentgit conflicts`). Written by sync's merge commit (integrate.ts) and by
 * `agentgit merge-driver` under plain `git merge`/`git pull`, with the same
 * line format and the same rule: a line already in the record is not added
 * again, so two instances that resolve the same race write the same line.
 *
 * The merge driver cannot always write the work-tree record: when the merge
 * itself updates the record (or during a rebase, which checks out commit
 * after commit), git would overwrite the appended lines without a word. It
 * then appends to a pending file under .git/agentgit/ instead, and the next
 * commit of local changes (sync, init) folds it into the record first.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Conflict } from '../merge/types.js';

export const CONFLICTS_PATH = '.agentgit/conflicts.jsonl';
/** Under .git/agentgit/: records the merge driver could not write into the work tree yet. */
export const PENDING_CONFLICTS = 'conflicts-pending.jsonl';
/** Values longer than this are cut in the conflict record (the full text stays in history). */
const MAX_RECORD_VALUE = 64 * 1024;

/** One JSON line per lost race; deterministic, so two instances that resolve the same race write the same line. */
export function conflictLine(c: Conflict): string {
  const cut = (v: string): string => (v.length > MAX_RECORD_VALUE ? v.slice(0, MAX_RECORD_VALUE) + '…[cut; full text in history]' : v);
  return JSON.stringify({
    at: c.winner.clock || '',
    path: c.path,
    key: c.key,
    rule: c.rule,
    winner: { value: cut(c.winner.value), clock: c.winner.clock || null },
    loser: { value: cut(c.loser.value), clock: c.loser.clock || null },
  });
}

/** The record text with the lines appended that it does not have yet. */
export function appendRecordLines(text: string, lines: string[]): string {
  let out = text;
  if (out && !out.endsWith('\n')) out += '\n';
  const have = new Set(out.split('\n'));
  for (const line of lines) {
    if (line === '' || have.has(line)) continue;
    out += line + '\n';
    have.add(line);
  }
  return out;
}

/** The record text with the conflicts appended (see appendRecordLines). */
export function appendConflicts(text: string, conflicts: Conflict[]): string {
  return appendRecordLines(text, conflicts.map(conflictLine));
}

/**
 * Append lines to a record file on disk: read, append, write a temporary
 * file in `tmpDir` and rename it over the file, so a kill -9 leaves the old
 * or the new record, never half a line.
 */
export async function appendToFile(file: string, lines: string[], tmpDir: string): Promise<void> {
  const current = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw e;
  });
  const next = appendRecordLines(current, lines);
  if (next === current) return;
  await mkdir(dirname(file), { recursive: true });
  await mkdir(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `.record-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, next);
    await rename(tmp, file).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EXDEV') throw e;
      await writeFile(file, next); // another file system: in place (appending only)
    });
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Fold the merge driver's pending records into the work-tree record (before
 * local changes are committed). Returns how many pending lines there were.
 * The pending file goes only after the record is written: a kill -9 between
 * the two folds the same lines again next time, which adds nothing.
 */
export async function foldPendingConflicts(root: string, pendingFile: string): Promise<number> {
  let pending: string;
  try {
    pending = readFileSync(pendingFile, 'utf8'); // synchronous: asked every round, almost always absent
  } catch {
    return 0;
  }
  const lines = pending.split('\n').filter((l) => l !== '' && isRecordLine(l));
  if (lines.length > 0) await appendToFile(join(root, CONFLICTS_PATH), lines, dirname(pendingFile));
  await rm(pendingFile, { force: true });
  return lines.length;
}

/** A complete JSON object line (a pending file cut by kill -9 may end in half a line). */
function isRecordLine(l: string): boolean {
  try {
    const v: unknown = JSON.parse(l);
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}
