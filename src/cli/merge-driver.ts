/**
 * `agentgit merge-driver <kind> %O %A %B %L %P`: the merge core as a git
 * merge driver, so `git merge` and `git pull` by hand give the same results
 * as `agentgit sync`. Writes the result into %A and exits 0; exits 1 only
 * when it cannot write its output (git then keeps %A as it was).
 *
 * Limitations: clocks come from `.agentgit/clocks/` at HEAD and at the
 * merged commit (GITHEAD_<sha>, set by `git merge`); during a rebase or
 * cherry-pick git gives no such name, so races fall back to the items' own
 * timestamps and then to the rule over values, which never depends on sides.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { mergeFile } from '../merge/index.js';
import type { Kind, SideClocks } from '../merge/types.js';
import { Policy, POLICY_PATH } from '../policy/policy.js';
import { ObjectReader } from '../git/objects.js';
import { clockPathFor, parseClockFile, sideClocks } from '../sync/clocks.js';

const KINDS: Kind[] = ['log', 'json', 'text', 'binary'];

export async function runMergeDriver(args: string[]): Promise<number> {
  const [kindArg, o, a, b, _l, p] = args;
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
  for (const c of result.report.conflicts) {
    process.stderr.write(`agentgit: ${path}${c.key ? ` ${c.key}` : ''}: concurrent writes, kept ${short(c.winner.value)} over ${short(c.loser.value)} (${c.rule})\n`);
  }
  return 0;
}

function short(v: string): string {
  const s = v.replace(/\s+/g, ' ').trim();
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);
}

async function sideClocksFromGit(path: string): Promise<[SideClocks, SideClocks]> {
  const theirsName = Object.keys(process.env).find((k) => /^GITHEAD_[0-9a-f]{40}$/.test(k));
  if (!theirsName) return [{}, {}];
  const reader = new ObjectReader(process.cwd());
  try {
    const cp = clockPathFor(path);
    const [oc, tc] = await Promise.all([reader.read(`HEAD:${cp}`), reader.read(`${theirsName.slice(8)}:${cp}`)]);
    return [sideClocks(parseClockFile(oc), ''), sideClocks(parseClockFile(tc), '')];
  } catch {
    return [{}, {}];
  } finally {
    reader.close();
  }
}
