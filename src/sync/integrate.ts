/**
 * Integrating the hub's commits: a merge commit built in-process.
 *
 * Phases (named as in docs/sync.md):
 *   findBase        merge base; criss-cross histories get a virtual base
 *                   built by merging the bases the same way (recursively);
 *   planTreeMerge   per path: take one side, keep both-equal, or merge content
 *                   (pure, see below);
 *   mergeContents   read the three blobs through one cat-file process, run the
 *                   merge core, write blobs as loose objects: no process per file;
 *   recordConflicts append what lost a race to .agentgit/conflicts.jsonl;
 *   writeMergeCommit tree from a private index, then commit-tree.
 *
 * Invariant: nothing here touches the work tree, the index or a ref. The
 * caller moves the work tree (checkout.ts) only once the commit exists.
 */
import { mergeFile } from '../merge/index.js';
import type { Conflict, MergeReport } from '../merge/types.js';
import type { Policy } from '../policy/policy.js';
import { isZeroOid } from '../git/backend.js';
import { failpoint } from '../failpoint.js';
import { mapInOrder } from './pool.js';
import type { IndexEntry, Repo, TreeChange } from '../git/repo.js';
import { clockPathFor, isClockPath, parseClockFile, sideClocks } from './clocks.js';
import { clockFromTime } from './hlc.js';
import { appendConflicts, CONFLICTS_PATH } from './conflict-record.js';

export { CONFLICTS_PATH, conflictLine } from './conflict-record.js';

// ---------------------------------------------------------------- planning

export type PathPlan =
  | { action: 'take'; path: string; mode: string; oid: string } // set the path to this entry (mode '0' deletes)
  | { action: 'merge'; path: string; mode: string; baseOid: string | null; oursOid: string; theirsOid: string }
  | { action: 'keep-edit'; path: string; mode: string; oid: string; note: string }; // edit beats delete

const isRegular = (mode: string): boolean => mode === '100644' || mode === '100755';

/**
 * Decide each path changed on either side. Pure. Paths changed only on our
 * side need nothing: the merged tree starts from ours.
 */
export function planTreeMerge(ours: Map<string, TreeChange>, theirs: Map<string, TreeChange>, sideWins: (path: string) => 'ours' | 'theirs'): PathPlan[] {
  const plans: PathPlan[] = [];
  for (const [path, t] of theirs) {
    const o = ours.get(path);
    if (!o) {
      plans.push({ action: 'take', path, mode: t.status === 'D' ? '0' : t.newMode, oid: t.newOid }); // deleted: the zero id
      continue;
    }
    if (o.newOid === t.newOid && o.newMode === t.newMode) continue; // same change on both sides
    if (o.status === 'D') {
      plans.push({ action: 'keep-edit', path, mode: t.newMode, oid: t.newOid, note: `${path}: deleted here, changed on the hub: the change is kept` });
      continue;
    }
    if (t.status === 'D') {
      plans.push({ action: 'keep-edit', path, mode: o.newMode, oid: o.newOid, note: `${path}: deleted on the hub, changed here: the change is kept` });
      continue;
    }
    if (isRegular(o.newMode) && isRegular(t.newMode)) {
      const mode = o.newMode === t.newMode ? o.newMode : o.oldMode === o.newMode ? t.newMode : o.newMode;
      const baseOid = o.status === 'A' || isZeroOid(o.oldOid) || !isRegular(o.oldMode) ? null : o.oldOid;
      plans.push({ action: 'merge', path, mode, baseOid, oursOid: o.newOid, theirsOid: t.newOid });
      continue;
    }
    // symlinks, submodules, type changes: whole entry, later side wins
    const w = sideWins(path) === 'ours' ? o : t;
    plans.push({ action: 'take', path, mode: w.newMode, oid: w.newOid });
  }
  return plans;
}

// ---------------------------------------------------------------- execution

export interface IntegrateResult {
  commit: string;
  reports: MergeReport[];
  notes: string[];
  conflicts: Conflict[];
  /** Clocks seen in the hub's clock files (fed to the local HLC). */
  seenClocks: string[];
  changedFromHub: number;
}

interface Ctx {
  repo: Repo;
  policy: Policy;
  instance: string;
  sign: boolean;
}

async function findBase(ctx: Ctx, ours: string, theirs: string, depth: number, known?: string[]): Promise<string> {
  const bases = known ?? (await ctx.repo.mergeBases(ours, theirs));
  if (bases.length === 0) return ctx.repo.emptyTree;
  if (bases.length === 1 || depth >= 8) return bases[0]!;
  // criss-cross: merge the bases into a virtual ancestor (an unreferenced commit)
  let virtual = bases[0]!;
  for (const b of bases.slice(1)) {
    const r = await mergeCommits(ctx, { ours: virtual, theirs: b, message: 'agentgit: virtual merge base', depth: depth + 1, record: false });
    virtual = r.commit;
  }
  return virtual;
}

function byPath(changes: TreeChange[]): Map<string, TreeChange> {
  return new Map(changes.map((c) => [c.path, c]));
}

export interface MergeOptions {
  ours: string;
  theirs: string;
  /** The merge commit's message. */
  message: string;
  /** 0 for the merge itself (signed, failpoint 'merge'); more for a virtual base of a criss-cross merge. */
  depth?: number;
  /** Append what lost a race to .agentgit/conflicts.jsonl in the merged tree (default true). */
  record?: boolean;
  /** The merge bases when the caller already knows them (else git's merge-base). */
  bases?: string[];
}

/** Build the merge commit of `ours` and `theirs`. Touches no ref, index or file. */
export async function mergeCommits(ctx: Ctx, o: MergeOptions): Promise<IntegrateResult> {
  const { ours, theirs, message, depth = 0, record = true, bases } = o;
  const { repo, policy } = ctx;
  const base = await findBase(ctx, ours, theirs, depth, bases);
  const [oc, tc] = await Promise.all([repo.diffTree(base, ours), repo.diffTree(base, theirs)]);
  const oursCh = byPath(oc);
  const theirsCh = byPath(tc);
  const [oursTime, theirsTime] = await Promise.all([repo.committerTime(ours), repo.committerTime(theirs)]);
  const oursWhen = clockFromTime(oursTime, 'commit');
  const theirsWhen = clockFromTime(theirsTime, 'commit');
  const later = oursWhen === theirsWhen ? (ours > theirs ? 'ours' : 'theirs') : oursWhen > theirsWhen ? 'ours' : 'theirs';
  // a lagging append to a compacted daily log goes to its archive (docs/compaction.md)
  const plans = await (await import('./compact.js')).routeCompactedLogs(repo, policy, planTreeMerge(oursCh, theirsCh, () => later), { base, ours, theirs }, theirsCh);

  const entries: IndexEntry[] = [];
  const reports: MergeReport[] = [];
  const notes: string[] = [];
  const conflicts: Conflict[] = [];
  const seenClocks: string[] = [];
  const read = (spec: string | null): Promise<Buffer | null> => (spec ? repo.objects.read(spec) : Promise.resolve(null));

  // Clocks the hub side wrote: fed to our HLC so our next writes sort after them.
  // Asked for 64 at a time: one round trip to cat-file per 64 clock files, not one each, and a bounded
  // number of the hub's blobs in memory at once (a clock file from the hub may be any size).
  const hubClocks = [...theirsCh].filter(([path, t]) => isClockPath(path) && t.status !== 'D');
  const clockValues = await mapInOrder(hubClocks, async ([, t]) => Object.values(parseClockFile(await read(t.newOid))), 64);
  for (const values of clockValues) seenClocks.push(...values);

  const merged = await mapInOrder(plans, async (p) => {
    if (p.action === 'take') return { entry: { path: p.path, mode: p.mode, oid: p.oid } };
    if (p.action === 'keep-edit') return { entry: { path: p.path, mode: p.mode, oid: p.oid }, note: p.note };
    // the three versions and both sides' clocks of the file: asked for together (one round trip)
    const clocksOf = (commit: string): Promise<Buffer | null> => (isClockPath(p.path) ? Promise.resolve(null) : read(`${commit}:${clockPathFor(p.path)}`));
    const [b, o, t, ockBytes, tckBytes] = await Promise.all([read(p.baseOid), read(p.oursOid), read(p.theirsOid), clocksOf(ours), clocksOf(theirs)]);
    if (!o || !t) throw new Error(`object missing while merging ${p.path}; run \`git fsck\``);
    const c = policy.classify(p.path);
    const kind = c.kind === 'local' ? 'binary' : c.kind;
    const [ock, tck] = [parseClockFile(ockBytes), parseClockFile(tckBytes)];
    const result = mergeFile(
      {
        path: p.path,
        kind,
        base: b,
        ours: o,
        theirs: t,
        oursClock: sideClocks(ock, oursWhen),
        theirsClock: sideClocks(tck, theirsWhen),
        json: kind === 'json' ? policy.jsonOptions(p.path) : undefined,
      },
      policy.config.maxMergeBytes,
    );
    const oid = await repo.writeBlob(result.bytes);
    return { entry: { path: p.path, mode: p.mode, oid }, report: result.report };
  });
  // gathered in plan order: the same tree, record and notes as one file at a time
  for (const m of merged) {
    entries.push(m.entry);
    if ('note' in m && m.note) notes.push(m.note);
    if ('report' in m && m.report) {
      reports.push(m.report);
      conflicts.push(...m.report.conflicts);
      notes.push(...m.report.collisions.map((x) => `${x.path}: ${x.key}: two instances created different items with the same id; ${x.resolution}`));
    }
  }

  if (record && conflicts.length > 0) {
    const recordEntry = await recordConflicts(ctx, ours, entries, conflicts);
    if (recordEntry) entries.push(recordEntry);
  }

  const tree = await repo.buildTree(ours, entries);
  const commit = await repo.commitTree(tree, [ours, theirs], message, { sign: ctx.sign && depth === 0 });
  if (depth === 0) await failpoint('merge'); // the merge commit exists, no ref points at it yet
  return { commit, reports, notes, conflicts, seenClocks, changedFromHub: theirsCh.size };
}

/** Appends to the planned or current record; returns a new entry only when the record was not already planned. */
async function recordConflicts(ctx: Ctx, ours: string, entries: IndexEntry[], conflicts: Conflict[]): Promise<IndexEntry | null> {
  const planned = entries.find((e) => e.path === CONFLICTS_PATH);
  const current = planned
    ? planned.mode === '0' ? null : await ctx.repo.objects.read(planned.oid)
    : await ctx.repo.objects.read(`${ours}:${CONFLICTS_PATH}`);
  const text = appendConflicts(current ? current.toString('utf8') : '', conflicts);
  const oid = await ctx.repo.writeBlob(Buffer.from(text, 'utf8'));
  if (planned) {
    planned.oid = oid;
    planned.mode = '100644';
    return null;
  }
  return { path: CONFLICTS_PATH, mode: '100644', oid };
}
