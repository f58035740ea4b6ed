/**
 * `agentgit merge-driver <kind> %O %A %B %L %P`: the merge core as a git
 * merge driver, so `git merge` and `git pull` by hand give the same results
 * as `agentgit sync`. Writes the result into %A and exits 0; exits 1 only
 * when it cannot write its output (git then keeps %A as it was). Values
 * that lost a race go to the conflict record (sync/conflict-record.ts) and
 * are named on stderr, with the merge's notes.
 *
 * Limitations: clocks come from `.agentgit/clocks/` at HEAD and at the
 * merged commit (GITHEAD_<sha>, set by `git merge`); during a rebase or
 * cherry-pick git gives no such name, so races fall back to the items' own
 * timestamps and then to the rule over values, which never depends on sides.
 */
import { redactSecrets } from '../sync/secrets.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeFile } from '../merge/index.js';
import type { Conflict, Kind, SideClocks } from '../merge/types.js';
import { Policy, POLICY_PATH } from '../policy/policy.js';
import { Repo } from '../git/repo.js';
import { appendToFile, conflictLine, CONFLICTS_PATH, PENDING_CONFLICTS } from '../sync/conflict-record.js';
import { clockPathFor, parseClockFile, sideClocks } from '../sync/clocks.js';

const KINDS: Kind[] = ['log', 'json', 'text', 'binary'];

export async function runMergeDriver(args: string[]): Promise<number> {
  const [kindArg, o, a, b, markerSize, p] = args;
  if (!kindArg || !o || !a || !b) {
    process.stderr.write('usage: agentgit merge-driver <log|json|text|binary> %O %A %B %L %P\n');
    return 2;
  }
  const path = p ?? a;
  const kind: Kind = KINDS.includes(kindArg as Kind) ? (kindArg as Kind) : 'text';
  let base: Buffer | null;
  let ours: Buffer;
  let theirs: Buffer;
  try {
    [base, ours, theirs] = await Promise.all([readFile(o).catch(() => null), readFile(a), readFile(b)]);
  } catch (e) {
    process.stderr.write(`agentgit merge-driver: cannot read the versions of ${path}: ${(e as Error).message}\n`);
    return 1;
  }
  if (base && base.length === 0) base = null;
  let policy: Policy;
  try {
    policy = Policy.fromText(await readFile(POLICY_PATH, 'utf8').catch(() => null));
  } catch {
    policy = Policy.fromText(null);
  }
  const [oc, tc] = await sideClocksFromGit(path);
  const result = mergeFile({ path, kind, base, ours, theirs, oursClock: oc, theirsClock: tc, json: kind === 'json' ? policy.jsonOptions(path) : undefined }, policy.config.maxMergeBytes);
  try {
    await writeFile(a, result.bytes);
  } catch (e) {
    process.stderr.write(`agentgit merge-driver: cannot write the merged ${path}: ${(e as Error).message}\n`);
    return 1;
  }
  for (const n of result.report.notes) process.stderr.write(`agentgit: ${path}: ${n}\n`);
  for (const x of result.report.collisions) process.stderr.write(`agentgit: ${path}: ${x.key}: two instances created different items with the same id; ${x.resolution}\n`);
  for (const c of result.report.conflicts) {
    process.stderr.write(redactSecrets(`agentgit: ${path}${c.key ? ` ${c.key}` : ''}: concurrent writes, kept ${short(c.winner.value)} over ${short(c.loser.value)} (${c.rule})\n`));
  }
  // git merges the bases of a criss-cross history into a virtual ancestor first, with a
  // marker size raised by 2 (9): races there are not the merge's own, so not recorded
  if (result.report.conflicts.length > 0 && !(Number(markerSize) >= 9)) await record(path, result.report.conflicts);
  return 0;
}

/**
 * The losing values go to the conflict record, as sync writes them. Into
 * the work-tree record when this merge leaves the record as it is (HEAD and
 * the merged commit hold the same one); else (the merge updates the record
 * and would overwrite the lines, or a rebase, which gives no merged commit)
 * into the pending file that the next sync folds into the record.
 */
async function record(path: string, conflicts: Conflict[]): Promise<void> {
  const lines = conflicts.map(conflictLine);
  try {
    const gitDir = await Repo.gitDirOf(process.cwd());
    const stateDir = join(gitDir, 'agentgit');
    if (path !== CONFLICTS_PATH && (await recordUntouched())) {
      await appendToFile(join(process.cwd(), CONFLICTS_PATH), lines, stateDir);
      process.stderr.write(`agentgit: ${path}: the losing value${lines.length === 1 ? ' is' : 's are'} in ${CONFLICTS_PATH} (commit it, or let \`agentgit sync\` do it)\n`);
    } else {
      await appendToFile(join(stateDir, PENDING_CONFLICTS), lines, stateDir);
      process.stderr.write(`agentgit: ${path}: the losing value${lines.length === 1 ? ' goes' : 's go'} to ${CONFLICTS_PATH} at the next \`agentgit sync\` (held in .git/agentgit/${PENDING_CONFLICTS}: this merge updates the record itself)\n`);
    }
  } catch (e) {
    process.stderr.write(`agentgit: ${path}: could not write the conflict record (${(e as Error).message}); the losing values above stay in the history of both commits\n`);
  }
}

/** True when this is a `git merge` (GITHEAD_<sha> names the merged commit) and both sides hold the same record. */
async function recordUntouched(): Promise<boolean> {
  const theirsName = Object.keys(process.env).find((k) => /^GITHEAD_(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(k));
  if (!theirsName) return false;
  const [o, t] = await readHere([`HEAD:${CONFLICTS_PATH}`, `${theirsName.slice(8)}:${CONFLICTS_PATH}`]);
  return o === null ? t === null : t !== null && o.equals(t);
}

function short(v: string): string {
  const s = v.replace(/\s+/g, ' ').trim();
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);
}

async function sideClocksFromGit(path: string): Promise<[SideClocks, SideClocks]> {
  const theirsName = Object.keys(process.env).find((k) => /^GITHEAD_(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(k));
  if (!theirsName) return [{}, {}];
  try {
    const cp = clockPathFor(path);
    const [oc, tc] = await readHere([`HEAD:${cp}`, `${theirsName.slice(8)}:${cp}`]);
    return [sideClocks(parseClockFile(oc), ''), sideClocks(parseClockFile(tc), '')];
  } catch {
    return [{}, {}];
  }
}

/** Objects read from the repository git runs the driver in (its work tree's top: no process to find it). */
async function readHere(specs: [string, string]): Promise<[Buffer | null, Buffer | null]> {
  const repo = (await Repo.openAt(process.cwd())) ?? (await Repo.open(process.cwd()));
  if (!repo) throw new Error(`${process.cwd()} is not in a git repository`);
  try {
    return await Promise.all([repo.objects.read(specs[0]), repo.objects.read(specs[1])]);
  } finally {
    repo.close();
  }
}
