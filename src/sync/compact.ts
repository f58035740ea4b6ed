/**
 * Compaction (docs/compaction.md): history epochs and log compaction.
 *
 * History: `agentgit compact history` replaces the hub's branch by one
 * signed root commit, the EPOCH, with the hub head's tree and a trailer
 * `Agentgit-Epoch-Of: <archived head>`; the old history stays on the hub
 * under `refs/agentgit/archive/<epoch>`. Both refs move in one atomic push,
 * the branch by compare-and-swap (--force-with-lease on the head it read).
 *
 * Every other instance meets the epoch in its next round (crossEpoch): the
 * hub's branch shares no history with its own. It fetches the archive,
 * checks the epoch (its tree is the archived head's, signed by a key
 * admitted as of the archived head, never revoked), verifies the archived
 * and the new commits like any incoming commits, then carries its own
 * unpushed work over by a 3-way merge (base: where its history meets the
 * archived head's; ours: its head; theirs: the hub's head) committed on top
 * of the hub's head. Anything else refuses, writes nothing, exits 1.
 *
 * Logs: `agentgit compact logs` moves old daily logs (DIR/YYYY-MM-DD.EXT,
 * by the date in the name) into DIR/archive/YYYY-MM.EXT in one signed
 * commit; conservation (every byte that leaves a daily log is in its
 * archive, in the same commit) is checked before the commit is made and
 * again by `agentgit verify`.
 */
import { treeLimitsOf, treeRejections } from '../git/paths.js';
import { withInstanceTrailer } from '../git/trailers.js';
import type { IndexEntry, Repo } from '../git/repo.js';
import type { Policy } from '../policy/policy.js';
import type { ClockSource } from './hlc.js';
import { isClockPath } from './clocks.js';
import type { Context } from './context.js';
import type { PathPlan } from './integrate.js';
import { classifyGitError, TemporaryError } from '../errors.js';
import { GitError, gitFailure } from '../git/exec.js';

export const EPOCH_TRAILER = 'Agentgit-Epoch-Of';
/** On an epoch made with `--before`: the archived commit whose tree the epoch carries (the cut). */
export const CUT_TRAILER = 'Agentgit-Epoch-Cut';
/** On a commit replayed on top of an epoch: the archived commit it replays (same tree). */
export const REPLAY_TRAILER = 'Agentgit-Replay-Of';
export const ARCHIVE_PREFIX = 'refs/agentgit/archive/';
/** Our own head when it crossed into an epoch (its unpushed commits, for the local audit). */
export const CARRIED_PREFIX = 'refs/agentgit/carried/';
const MAX_EPOCHS = 16;

// ---------------------------------------------------------------- pure decisions

/** The object id a trailer `name` names in a raw commit's message (the last one: a replay of a replay keeps the older trailer above its own); null when it names none. */
export function trailerOid(raw: string, name: string): string | null {
  const body = raw.slice(raw.indexOf('\n\n') + 2);
  const all = [...body.matchAll(new RegExp(`^${name}: ([0-9a-f]{40}|[0-9a-f]{64})$`, 'gm'))];
  return all.length ? all[all.length - 1]![1]! : null;
}

/** The archived head an epoch commit names, from its raw object; null when it names none. */
export function epochOf(raw: string): string | null {
  return trailerOid(raw, EPOCH_TRAILER);
}

/** The message of an epoch commit; `cut`: the archived commit whose tree it carries when that is not the archived head (`--before`). */
export function epochMessage(archived: string, instance: string, commits: number, cut: { commit: string; replayed: number } | null = null): string {
  const after = cut ? `\nIts tree is that of ${cut.commit}; the ${cut.replayed} later commit${cut.replayed === 1 ? ' is' : 's are'} replayed on top of it, each naming its original.` : '';
  const text = `agentgit: new epoch (${commits} commit${commits === 1 ? '' : 's'} archived)\n\nThe history before this commit is kept on the hub under ${ARCHIVE_PREFIX}<this commit>.${after}`;
  return `${withInstanceTrailer(text, instance)}${EPOCH_TRAILER}: ${archived}\n${cut ? `${CUT_TRAILER}: ${cut.commit}\n` : ''}`;
}

/** A replayed commit's message: the original's, with a trailer naming the original (in the original's trailer block, or a new one). */
export function replayMessage(original: string, oid: string): string {
  const text = original.replace(/\n+$/, '');
  const last = text.slice(text.lastIndexOf('\n\n') + 2);
  const inBlock = text.includes('\n\n') && last.split('\n').every((l) => /^[A-Za-z0-9-]+: /.test(l));
  return `${text}${inBlock ? '\n' : '\n\n'}${REPLAY_TRAILER}: ${oid}\n`;
}

/**
 * A `--before` date: `YYYY-MM-DD` (00:00 UTC that day) or an ISO-8601 time
 * with a zone (`2026-08-01T12:00:00Z`, `…+02:00`); milliseconds since the
 * epoch, or null when it is neither. Never the host's time zone.
 */
export function parseCutDate(text: string): number | null {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (d) {
    const t = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]));
    return new Date(t).toISOString().slice(0, 10) === text ? t : null;
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.exec(text);
  if (!m) return null;
  // every field in range (Date.parse rolls 2026-02-30 over to March 2, and T24:00 to the next day)
  const [y, mo, da, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '00'].map(Number) as [number, number, number, number, number, number];
  const day = new Date(Date.UTC(y, mo - 1, da));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== da || h > 23 || mi > 59 || se > 59) return null;
  const t = Date.parse(text.replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isFinite(t) ? t : null;
}

const DAILY = /^(.*\/)?(\d{4})-(\d{2})-(\d{2})\.([A-Za-z0-9]+)$/;

/** The archive file a daily log moves into (`memory/2026-08-03.md` → `memory/archive/2026-08.md`); null for a path that is no daily log (or is archived already). */
export function archivePathFor(path: string): string | null {
  const m = DAILY.exec(path);
  if (!m || /(^|\/)archive\/$/.test(m[1] ?? '')) return null;
  return `${m[1] ?? ''}archive/${m[2]}-${m[3]}.${m[5]}`;
}

/** The day of a daily log's file name (YYYY-MM-DD), or null. */
export function dayOf(path: string): string | null {
  const m = DAILY.exec(path);
  return m ? `${m[2]}-${m[3]}-${m[4]}` : null;
}

/** Whether a daily log named for `day` is older than `days` days before `today` (both YYYY-MM-DD, UTC dates: no clock, no zone). */
export function olderThan(day: string, today: string, days: number): boolean {
  const t = (d: string): number => Date.UTC(Number(d.slice(0, 4)), Number(d.slice(5, 7)) - 1, Number(d.slice(8, 10)));
  return (t(today) - t(day)) / 86_400_000 > days;
}

/** What a day's block in its archive looks like: markdown gets the day as a heading (its entries may carry a time of day only). */
export function archiveBlock(path: string, bytes: string): string {
  const body = bytes === '' || bytes.endsWith('\n') ? bytes : `${bytes}\n`;
  return path.endsWith('.md') ? `# ${dayOf(path)}\n\n${body}${body.endsWith('\n\n') || body === '' ? '' : '\n'}` : body;
}

export interface FileChange {
  path: string;
  /** null: the file did not exist before / does not exist after. */
  before: string | null;
  after: string | null;
}

/**
 * Conservation of a log compaction: every daily log the commit removes (or
 * shrinks) has its whole former content in its archive file, byte for
 * byte, in the same commit, and the archive only grew (its former content
 * is a prefix of the new). Returns the problems; [] when it conserves.
 * Changes to paths that are no daily log are not judged here.
 */
export function conservationProblems(changes: FileChange[]): string[] {
  const by = new Map(changes.map((c) => [c.path, c]));
  const problems: string[] = [];
  for (const c of changes) {
    const archive = archivePathFor(c.path);
    if (!archive || c.before === null || (c.after !== null && c.after.startsWith(c.before))) continue;
    const a = by.get(archive);
    if (!a || a.after === null) {
      problems.push(`${c.path} lost entries and its archive ${archive} is not written in the same commit`);
      continue;
    }
    const old = a.before ?? '';
    if (!a.after.startsWith(old)) problems.push(`${archive} lost part of its former content`);
    else if (!a.after.slice(old.length).includes(c.before)) problems.push(`${c.path}: its content does not appear byte for byte in ${archive}`);
  }
  return problems;
}

// ---------------------------------------------------------------- crossing an epoch (sync)

export interface CrossingOutcome {
  mergedFromHub: number;
  mergedByKind: Record<string, number>;
  conflicts: number;
  notes: string[];
}

export interface Crossing {
  repo: Repo;
  policy: Policy;
  settings: Context['settings'];
  ref: string;
  ours: string;
  theirs: string;
  clocks: ClockSource;
  out: CrossingOutcome;
  timeoutMs: () => number;
}

interface Level {
  epoch: string;
  archived: string;
  /** The archived commit whose tree the epoch carries: the archived head, or the cut of `--before`. */
  cut: string;
}

const short = (oid: string): string => oid.slice(0, 10);

/** Reads the epoch chain from `tip` down to where our history meets it; null when `tip` does not start with an epoch commit. */
async function epochChain(x: Crossing): Promise<{ levels: Level[]; bases: string[] } | null> {
  const { repo } = x;
  const levels: Level[] = [];
  let tip = x.theirs;
  for (let i = 0; i < MAX_EPOCHS; i++) {
    // a history git cannot even walk is no epoch: the caller's verification refuses it with its reasons
    const roots = await repo.rootsOf(tip).catch((): string[] => []);
    if (roots.length !== 1) return i === 0 ? null : fail(`the archived history ${short(tip)} cannot be read back to one root commit`);
    const epoch = roots[0]!;
    const raw = (await repo.objects.read(epoch))?.toString('utf8');
    const archived = raw ? epochOf(raw) : null;
    if (!archived) return i === 0 ? null : fail(`the archived history ${short(tip)} does not lead back to this instance's history (its root ${short(epoch)} is no epoch commit)`);
    const local = `${ARCHIVE_PREFIX}${epoch}`;
    if (repo.readRef(local) !== archived) {
      const r = await repo.fetch(x.settings.remote, [`+${local}:${local}`], { timeoutMs: x.timeoutMs() });
      if (!r.ok && !r.missingRemoteRef) {
        if (r.code !== 128) throw gitFailure(['fetch'], r.code, r.stderr);
        throw new GitError(`git fetch of ${local} failed: ${r.stderr.split('\n')[0]}`, ['fetch'], 128, r.stderr, false);
      }
    }
    const at = await repo.revParse(local);
    if (at !== archived) {
      fail(`the hub's branch starts a new epoch ${short(epoch)} naming ${short(archived)} as the archived head, but the hub's ${local} ${at ? `points to ${short(at)}` : 'is missing'}, so the epoch cannot be checked`);
    }
    levels.push({ epoch, archived, cut: trailerOid(raw!, CUT_TRAILER) ?? archived });
    const bases = await repo.mergeBases(x.ours, archived);
    if (bases.length > 0) return { levels: levels.reverse(), bases };
    tip = archived;
  }
  return fail(`more than ${MAX_EPOCHS} epochs lie between this instance's history and the hub's`);
}

function fail(why: string): never {
  throw new Error(`refused the hub's new epoch: ${why}. Nothing from the hub was merged; local work is committed and kept. If the compaction was not yours, restore the hub's branch from its ${ARCHIVE_PREFIX}* ref`);
}

/** Checks one epoch commit against its archived head: same tree, signed by a key admitted (and never revoked) as of that head, authored as that key's principal. */
async function checkEpoch(repo: Repo, l: Level, ours: string): Promise<string | null> {
  const [{ parseCommitHeader }, { signersAt }, { revokedIn, signatureStatus }] = await Promise.all([import('../git/objects.js'), import('../identity/admission.js'), import('../identity/verify.js')]);
  const raw = await repo.objects.read(l.epoch);
  const header = raw ? parseCommitHeader(raw) : null;
  if (!header) return 'its header is not one git and agentgit read alike';
  if (header.parents.length !== 0) return 'it has parents';
  if (header.tree !== (await repo.treeOf(l.cut))) return `its tree differs from the ${l.cut === l.archived ? 'archived head' : 'cut'} ${short(l.cut)}'s (a compaction never changes content)`;
  const revoked = await revokedIn(repo, [l.archived, ours]);
  const allowed = (await signersAt(repo, l.archived)).filter((s) => !revoked.has(s.fingerprint));
  const s = await signatureStatus(repo, l.epoch, allowed);
  if (s.g === 'N') return 'it is not signed';
  if (s.g !== 'G') return `it is not signed by a key admitted as of the archived head (${s.g === 'B' ? 'bad signature' : s.fp || 'unknown key'})`;
  const principals = allowed.filter((a) => a.fingerprint === s.fp).map((a) => a.principal);
  if (!principals.includes(header.author)) return `it is authored as "${header.author}" but signed by the key of ${principals.join(', ')}`;
  return null;
}

/**
 * An epoch with a cut (`--before`): the commits on top of it, along the
 * first parent from `tip`, replay the archived commits after the cut one
 * for one and in order (one parent each, the same tree, the trailer naming
 * the original). Null when they do; else what is wrong.
 */
async function checkReplays(repo: Repo, l: Level, tip: string): Promise<string | null> {
  if (l.cut === l.archived) return null;
  const { parseCommitHeader } = await import('../git/objects.js');
  const firstParents = async (tip: string, reverse: boolean): Promise<string[]> => (await repo.walk({ include: [tip] }, { firstParent: true, reverse })).map((c) => c.oid);
  const old = await firstParents(l.archived, false);
  const at = old.indexOf(l.cut);
  if (at <= 0) return `its cut ${short(l.cut)} is not an earlier commit on the first-parent line of the archived head ${short(l.archived)}`;
  const originals = old.slice(0, at).reverse();
  const line = await firstParents(tip, true);
  if (line[0] !== l.epoch) return `the hub's branch does not lead back to it along the first parent`;
  for (const [i, orig] of originals.entries()) {
    const r = line[i + 1];
    if (!r) return `the replay of the archived ${short(orig)} is missing on the hub's branch`;
    const raw = await repo.objects.read(r);
    const header = raw ? parseCommitHeader(raw) : null;
    if (!header || header.parents.join(' ') !== line[i]) return `the commit ${short(r)} after it is not a replay with one parent`;
    if (trailerOid(raw!.toString('utf8'), REPLAY_TRAILER) !== orig) return `the commit ${short(r)} does not name the archived ${short(orig)} it should replay (${REPLAY_TRAILER})`;
    if (header.tree !== (await repo.treeOf(orig))) return `the replayed commit ${short(r)} has another tree than the archived ${short(orig)} it names (a compaction never changes content)`;
  }
  return null;
}

/**
 * The hub's branch shares no history with ours: if it starts with an epoch
 * commit that checks out, carry our work over and return the new head (the
 * branch and work tree moved to it); null when it is no epoch (the caller
 * refuses it as an unrelated history). Throws when an epoch fails a check.
 */
export async function crossEpoch(x: Crossing): Promise<string | null> {
  const { repo, policy, settings, ours, theirs } = x;
  const chain = await epochChain(x);
  if (!chain) return null;
  const { verifyRange } = await import('../identity/verify.js');
  // bottom up: the archived commits we lack, each epoch, the commits after it
  const trusted = [ours];
  const range = async (tip: string): Promise<void> => {
    const bad = [
      ...(await verifyRange(repo, { exclude: trusted, tip, allowBootstrap: false })),
      ...(await treeRejections(repo, { exclude: trusted, tip, limits: treeLimitsOf(policy.config), timeoutMs: x.timeoutMs() })),
    ];
    if (bad.length > 0) fail(`${bad.length} commit${bad.length === 1 ? '' : 's'} failed verification (${bad.slice(0, 3).map((b) => `${short(b.commit)} by "${b.author}": ${b.reason}`).join('; ')})`);
  };
  for (const [i, l] of chain.levels.entries()) {
    await range(l.archived);
    trusted.push(l.archived);
    const why = (await checkEpoch(repo, l, ours)) ?? (await checkReplays(repo, l, chain.levels[i + 1]?.archived ?? theirs));
    if (why) fail(`the epoch commit ${short(l.epoch)} is forged: ${why}`);
    trusted.push(l.epoch);
  }
  await range(theirs);

  const { mergeCommits } = await import('./integrate.js');
  const last = chain.levels[chain.levels.length - 1]!;
  // base: where our history meets the archived one (our last synced hub commit); this merge commit is never published
  const mergeCtx = { repo, policy, instance: settings.instance, sign: false };
  const m = await mergeCommits(mergeCtx, { ours, theirs, message: `agentgit: carry ${settings.instance} into a new epoch\n`, bases: chain.bases });
  m.seenClocks.forEach((s) => x.clocks.see(s));
  await x.clocks.save();
  // the merge's tree on top of the hub's head alone: the old history stays archived, not linked back in
  const tree = await repo.treeOf(m.commit);
  const head =
    tree === (await repo.treeOf(theirs))
      ? theirs
      : await repo.commitTree(tree!, [theirs], withInstanceTrailer(`agentgit: carry the work of ${settings.instance} into epoch ${short(last.epoch)}`, settings.instance), { sign: settings.sign });
  await repo.updateRef(`${CARRIED_PREFIX}${last.epoch}`, ours, null, 'agentgit: head before crossing into a new epoch').catch(() => undefined);
  const co = await (await import('./checkout.js')).checkout(repo, policy, x.ref, ours, head);
  x.out.mergedFromHub += m.changedFromHub;
  for (const r of m.reports) if (!isClockPath(r.path)) x.out.mergedByKind[r.kind] = (x.out.mergedByKind[r.kind] ?? 0) + 1;
  x.out.conflicts += m.conflicts.length;
  x.out.notes.push(...m.notes, `crossed into the hub's new epoch ${short(last.epoch)} (the history before it is archived under ${ARCHIVE_PREFIX}${last.epoch})`);
  if (co.keptLocal.length) x.out.notes.push(`kept the agent's writes made during the sync: ${co.keptLocal.join(', ')} (committed next round)`);
  return head;
}

/** For `agentgit verify`: whether a commit's loss of entries from `path` is a log compaction that conserves them (its archive holds them, in the same commit). */
export async function compactionConserves(repo: Repo, commit: string, path: string): Promise<boolean> {
  const archive = archivePathFor(path);
  if (!archive) return false;
  const parent = (await repo.parentsOf(commit))[0];
  if (!parent) return false;
  const text = async (spec: string): Promise<string | null> => (await repo.objects.read(spec))?.toString('utf8') ?? null;
  const [before, after, aBefore, aAfter] = await Promise.all([text(`${parent}:${path}`), text(`${commit}:${path}`), text(`${parent}:${archive}`), text(`${commit}:${archive}`)]);
  return conservationProblems([
    { path, before, after },
    { path: archive, before: aBefore, after: aAfter },
  ]).length === 0;
}

/**
 * For the commit guard: a daily log deleted by hand whose whole content is
 * in its archive, staged in the same commit, is a compaction, not a loss
 * (conservationProblems). Such holds are released and `drop` stages the
 * deletion; every other hold stays.
 */
export async function releaseConservedLogs(repo: Repo, held: { path: string; reason: string }[], stage: IndexEntry[], drop: (path: string, before: Uint8Array) => void): Promise<void> {
  for (const h of [...held]) {
    const archive = archivePathFor(h.path);
    const staged = archive ? stage.find((e) => e.path === archive && e.mode !== '0') : undefined;
    if (h.reason !== 'log-deleted' || !archive || !staged) continue;
    const [before, aBefore, aAfter] = await Promise.all([repo.objects.read(`HEAD:${h.path}`), repo.objects.read(`HEAD:${archive}`), repo.objects.read(staged.oid)]);
    if (!before || !aAfter) continue;
    const text = (b: Buffer | null): string | null => b?.toString('utf8') ?? null;
    if (conservationProblems([{ path: h.path, before: text(before), after: null }, { path: archive, before: text(aBefore), after: text(aAfter) }]).length > 0) continue;
    held.splice(held.indexOf(h), 1);
    drop(h.path, before);
  }
}

// ---------------------------------------------------------------- a lagging append to a compacted log (merge)

/**
 * A daily log one side compacted (deleted, its content in the archive) and
 * the other side appended to: the appended bytes go to the archive, after
 * what is there, and the daily log stays deleted, so each entry is kept
 * exactly once. Only a pure append is routed; anything else keeps the
 * edited daily log as the merge does for any edit against a delete
 * (nothing lost; the next `compact logs` moves it). Returns the plans to apply.
 */
export async function routeCompactedLogs(repo: Repo, policy: Policy, plans: PathPlan[], sides: { base: string; ours: string; theirs: string }, theirsChanged: Map<string, { status: string }>): Promise<PathPlan[]> {
  const daily = (p: PathPlan): boolean => p.action === 'keep-edit' && archivePathFor(p.path) !== null && policy.kindOf(p.path) === 'log';
  if (!plans.some(daily)) return plans;
  const out = [...plans];
  for (const [i, p] of plans.entries()) {
    const archive = archivePathFor(p.path);
    if (p.action !== 'keep-edit' || !archive || !daily(p) || policy.kindOf(archive) !== 'log') continue;
    const deletedBy = theirsChanged.get(p.path)?.status === 'D' ? 'theirs' : 'ours';
    const text = async (spec: string): Promise<string | null> => (await repo.objects.read(spec))?.toString('utf8') ?? null;
    const [base, edited] = await Promise.all([text(`${sides.base}:${p.path}`), text(p.oid)]);
    if (base === null || edited === null || !edited.startsWith(base)) continue;
    const j = out.findIndex((q) => q.path === archive);
    const plan = j >= 0 ? out[j]! : null;
    if (plan && plan.action !== 'take') continue; // both sides wrote the archive: the merge keeps the daily log instead
    if (!plan && deletedBy === 'theirs') continue; // the archive did not come with the deletion
    const current = plan ? (plan.mode === '0' ? null : await text(plan.oid)) : await text(`${sides.ours}:${archive}`);
    if (current === null) continue;
    const extra = edited.slice(base.length);
    const next = `${current}${current === '' || current.endsWith('\n') ? '' : '\n'}${archiveBlock(p.path, extra)}`;
    const entry: PathPlan = { action: 'keep-edit', path: archive, mode: '100644', oid: await repo.writeBlob(Buffer.from(next, 'utf8')), note: `${p.path}: compacted ${deletedBy === 'theirs' ? 'on the hub' : 'here'} and appended to ${deletedBy === 'theirs' ? 'here' : 'on the hub'}: the new entries went to ${archive}` };
    if (j >= 0) out[j] = entry;
    else out.push(entry);
    out[i] = { action: 'take', path: p.path, mode: '0', oid: repo.zeroOid };
  }
  return out;
}

/**
 * A work-tree update (sync/checkout.ts) that deletes a daily log because a
 * compaction moved it, while the agent appended to it: the checkout keeps
 * the agent's file, which still holds the moved entries. When the archive
 * grew in the same update and holds every line of the moved content, and
 * the agent's file is that content plus new bytes, the file is cut down to
 * the new bytes alone (the rule: new entries stay in the daily file; the
 * next round commits them there and the next compaction moves them). Any
 * other shape (an edit, not an append) keeps the file as the agent left it.
 */
export async function trimRevivedLog(repo: Repo, policy: Policy, j: { from: string; to: string }, path: string, base: Buffer): Promise<void> {
  const archive = archivePathFor(path);
  if (!archive || policy.kindOf(path) !== 'log' || base.length === 0) return;
  const text = async (spec: string): Promise<string | null> => (await repo.objects.read(spec))?.toString('utf8') ?? null;
  const [was, now] = await Promise.all([text(`${j.from}:${archive}`), text(`${j.to}:${archive}`)]);
  if (now === null || !now.startsWith(was ?? '')) return;
  const added = new Set(now.slice((was ?? '').length).split('\n'));
  if (!base.toString('utf8').split('\n').every((l) => l === '' || added.has(l))) return; // not this update's compaction
  const [{ lstat, readFile }, { join }] = await Promise.all([import('node:fs/promises'), import('node:path')]);
  const abs = join(repo.root, path);
  if (!(await lstat(abs).catch(() => null))?.isFile()) return; // gone, or a link: the agent's version stands
  const cur = await readFile(abs).catch(() => null);
  if (!cur || cur.length <= base.length || !cur.subarray(0, base.length).equals(base)) return;
  const { putWorkFile } = await import('./checkout.js');
  await putWorkFile(abs, path, cur, cur.subarray(base.length), '100644', policy);
}

/** The newest commit of HEAD's history that deleted PATH (git log -1 --diff-filter=D), or null. */
async function lastDeletion(repo: Repo, path: string): Promise<string | null> {
  for (const c of await repo.walk({ include: ['HEAD'], path })) {
    if (c.parents.length === 0 || (await repo.objects.read(`${c.oid}:${path}`)) !== null) continue;
    for (const p of c.parents) if ((await repo.objects.read(`${p}:${path}`)) !== null) return c.oid;
  }
  return null;
}

/**
 * For the commit phase: a daily log new to HEAD whose last deletion was a
 * compaction (its archive in HEAD holds every line of what was moved), that
 * the agent wrote back whole: the moved content, then new entries (a
 * read-modify-write agent racing the update that deleted it). Same rule as
 * trimRevivedLog: the daily file keeps the new entries only; the work tree
 * is cut down to them too. Returns the bytes to commit; null: as they are.
 */
export async function trimRevivedOnCommit(repo: Repo, policy: Policy, path: string, work: Buffer): Promise<Buffer | null> {
  const archive = archivePathFor(path);
  if (!archive || policy.kindOf(path) !== 'log') return null;
  const held = await repo.objects.read(`HEAD:${archive}`);
  if (!held) return null;
  const gone = await lastDeletion(repo, path).catch(() => null);
  const parent = gone ? (await repo.parentsOf(gone))[0] : undefined;
  const moved = parent ? await repo.objects.read(`${parent}:${path}`) : null;
  if (!moved || moved.length === 0 || work.length <= moved.length || !work.subarray(0, moved.length).equals(moved)) return null;
  const lines = new Set(held.toString('utf8').split('\n'));
  if (!moved.toString('utf8').split('\n').every((l) => l === '' || lines.has(l))) return null;
  const rest = work.subarray(moved.length);
  const [{ putWorkFile }, { join }] = await Promise.all([import('./checkout.js'), import('node:path')]);
  await putWorkFile(join(repo.root, path), path, work, rest, '100644', policy); // an append made meanwhile is merged in and committed next round
  return rest;
}

// ---------------------------------------------------------------- status

export interface HistoryInfo {
  /** Commits reachable from the head (the epoch commit and what came after it). */
  length: number;
  /** The last compaction: the epoch the head's history starts with. */
  epoch: { commit: string; archived: string; at: string } | null;
}

export async function historyInfo(repo: Repo, head: string | null): Promise<HistoryInfo> {
  if (!head) return { length: 0, epoch: null };
  const length = await repo.countCommits({ include: [head] });
  const roots = await repo.rootsOf(head);
  for (const r of roots) {
    const raw = await repo.objects.read(r);
    const archived = raw ? epochOf(raw.toString('utf8')) : null;
    if (archived) {
      const t = await repo.committerTime(r);
      return { length, epoch: { commit: r, archived, at: new Date(t).toISOString() } };
    }
  }
  return { length, epoch: null };
}

// ---------------------------------------------------------------- compact history (the command)

export interface CompactHistoryResult {
  /** The new epoch commit; null when the hub's history is one commit already. */
  epoch: string | null;
  archived: string | null;
  archivedCommits: number;
  exported: string | null;
  notes: string[];
}

/**
 * Start a new epoch on the hub: build the epoch commit from the hub's head,
 * push it and the archive ref in one atomic push (the branch by
 * compare-and-swap). The caller then runs a sync round, which carries this
 * instance's own work over like any other instance's.
 */
export async function compactHistory(o: { dir: string; exportFile?: string; timeoutSec: number; waitSec: number; before?: number }): Promise<CompactHistoryResult> {
  const [{ openContext }, { SyncLock }, { Deadline, fetchHub }, { failpoint, armFailpoints }] = await Promise.all([
    import('./context.js'),
    import('../lock.js'),
    import('./round.js'),
    import('../failpoint.js'),
  ]);
  armFailpoints();
  const ctx = await openContext(o.dir);
  const { repo, settings } = ctx;
  const lock = new SyncLock(repo.stateFile('sync.lock'));
  let locked = false;
  try {
    if (!ctx.config.get(`remote.${settings.remote}.url`)) throw new Error('no hub configured: compaction rewrites the hub\'s branch (`agentgit init --remote URL` sets one)');
    if (!settings.sign) throw new Error('commit signing is off in this clone (commit.gpgsign): an epoch commit must be signed; run `agentgit init` again to repair the setup');
    await lock.acquire(o.waitSec * 1000);
    locked = true;
    const dl = new Deadline(o.timeoutSec);
    if (!(await fetchHub(repo, settings.remote, settings.branch, dl))) throw new Error(`the hub has no branch ${settings.branch} yet: nothing to compact`);
    const track = `refs/remotes/${settings.remote}/${settings.branch}`;
    const hubHead = await repo.revParse(track);
    if (!hubHead) throw new Error(`could not read ${track} after the fetch; run \`agentgit sync\` first`);
    const settled = await settlePending(repo, settings.remote, settings.branch, hubHead, dl.left());
    const count = await repo.countCommits({ include: [hubHead] });
    const local = repo.headBranchFromFile() ?? (await repo.currentBranch());
    const ours = local ? await repo.revParse(`refs/heads/${local}`) : null;
    if (ours && (await repo.mergeBases(ours, hubHead)).length === 0) throw new Error(`this instance has not crossed into the hub's current epoch yet; run \`agentgit sync\` first, then compact again`);
    if ((await repo.parentsOf(hubHead)).length === 0) return { epoch: null, archived: null, archivedCommits: 0, exported: null, notes: [...settled, 'the hub\'s history is one commit already: nothing to compact'] };
    // --before: the cut is the last first-parent commit committed at or before the date; the commits after it are replayed
    let cut = hubHead;
    let originals: string[] = [];
    if (o.before !== undefined) {
      const line: Array<[string, number]> = [];
      for (const c of await repo.walk({ include: [hubHead] }, { firstParent: true })) line.push([c.oid, await repo.committerTime(c.oid)]);
      const at = line.findIndex(([, t]) => t <= o.before!);
      const when = new Date(o.before).toISOString();
      if (at < 0) return { epoch: null, archived: null, archivedCommits: 0, exported: null, notes: [...settled, `no commit on the hub's branch was committed at or before ${when}: nothing to compact`] };
      cut = line[at]![0];
      if ((await repo.parentsOf(cut)).length === 0) return { epoch: null, archived: null, archivedCommits: 0, exported: null, notes: [...settled, `the history up to ${when} is one commit: nothing to compact`] };
      originals = line.slice(0, at).map(([c]) => c).reverse();
    }
    // what we archive must verify like anything we merge
    const { verifyRange } = await import('../identity/verify.js');
    const bad = await verifyRange(repo, { exclude: ours ? [ours] : [], tip: hubHead, allowBootstrap: false });
    if (bad.length > 0) throw new Error(`the hub's history does not verify (${bad.slice(0, 3).map((b) => `${short(b.commit)}: ${b.reason}`).join('; ')}); run \`agentgit sync\` and fix that first, nothing was compacted`);
    const { readFile } = await import('node:fs/promises');
    const publicKey = await readFile(`${settings.signingKey}.pub`, 'utf8').catch(() => '');
    const { isAdmitted } = await import('../identity/admission.js');
    if (!publicKey || !(await isAdmitted(repo, hubHead, publicKey)) || !(await isAdmitted(repo, cut, publicKey))) throw new Error(`this instance is not admitted on the hub's branch${cut === hubHead ? '' : ` (as of the cut ${short(cut)} and of the head)`}: only an admitted key may start an epoch; run the compaction on an admitted instance`);
    const tree = await repo.treeOf(cut);
    const epoch = await repo.commitTree(tree!, [], epochMessage(hubHead, settings.instance, count, cut === hubHead ? null : { commit: cut, replayed: originals.length }), { sign: true });
    const tip = await replay(repo, epoch, originals);
    const level = { epoch, archived: hubHead, cut };
    const why = (await checkEpoch(repo, level, hubHead)) ?? (await checkReplays(repo, level, tip));
    const unsigned = why ? [] : await verifyRange(repo, { exclude: [epoch], tip, allowBootstrap: false });
    if (why || unsigned.length > 0) throw new Error(`the epoch this instance built does not check out (${why ?? unsigned.slice(0, 3).map((b) => `${short(b.commit)}: ${b.reason}`).join('; ')}); nothing was pushed`);
    const archiveRef = `${ARCHIVE_PREFIX}${epoch}`;
    // pending from before the archive ref exists until the hub's answer is known: a push that throws (the deadline,
    // a dropped connection) or a kill -9 may have moved the hub, so the local archive ref stays (settlePending decides)
    repo.flushObjects(); // the pending file names the epoch: it is on disk first (git/objects.ts)
    await markPending(repo, { add: { epoch, archived: hubHead } });
    await repo.updateRef(archiveRef, hubHead, null, 'agentgit: archive of the history before an epoch');
    let exported: string | null = null;
    if (o.exportFile) {
      await repo.bundleCreate(o.exportFile, [archiveRef]);
      exported = o.exportFile;
    }
    const branch = `refs/heads/${settings.branch}`;
    // a push that failed in a way that says the hub took nothing (credentials refused, no such repository, an
    // engine that sends nothing) is settled now, as a refusal; any other failure leaves the outcome unknown
    const failed = async (cause: unknown): Promise<never> => {
      if (cause instanceof GitError && tookNothing(cause)) {
        await repo.deleteRef(archiveRef, hubHead).catch(() => undefined);
        await markPending(repo, { remove: epoch });
        throw cause;
      }
      throw outcomeUnknown(cause, archiveRef);
    };
    const r = await repo.push({ remote: settings.remote, refspecs: [`${tip}:${branch}`, `${hubHead}:${archiveRef}`], leases: [{ ref: branch, expected: hubHead }], atomic: true, timeoutMs: dl.left() }).catch(failed);
    if (r.code !== 0 && !refusedByHub(r)) await failed(gitFailure(['push'], r.code, r.stderr));
    if (r.code !== 0) {
      await repo.deleteRef(archiveRef, hubHead).catch(() => undefined);
      await markPending(repo, { remove: epoch });
      const all = r.stdout + r.stderr;
      if (/\[rejected\]|stale info|fetch first|non-fast-forward|failed to update ref|atomic/i.test(all)) {
        throw new TemporaryError('the hub\'s branch moved while compacting (another instance pushed): nothing was changed on the hub; run `agentgit compact history` again');
      }
      throw new Error(`git push of the new epoch failed: ${r.stderr.split('\n').find((l) => l.trim()) ?? 'no message'}; nothing was changed on the hub`);
    }
    await markPending(repo, { remove: epoch });
    await failpoint('compact'); // the hub has the epoch; this instance crosses into it in its next round
    return { epoch, archived: hubHead, archivedCommits: count, exported, notes: [...settled, ...(originals.length ? [`${originals.length} commit${originals.length === 1 ? '' : 's'} after the cut ${short(cut)} replayed on top of the epoch`] : [])] };
  } finally {
    if (locked) await lock.release();
    repo.close();
  }
}

// ---------------------------------------------------------------- a push whose outcome is unknown

/** An epoch push in flight (`.git/agentgit/compact-pending.json`, a list): added before the push, removed once the hub's answer is known. */
interface Pending {
  epoch: string;
  archived: string;
}

const PENDING = 'compact-pending.json';

async function readPending(repo: Repo): Promise<Pending[]> {
  const { readFile } = await import('node:fs/promises');
  const oid = (v: unknown): v is string => typeof v === 'string' && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(v);
  try {
    const list = JSON.parse(await readFile(repo.stateFile(PENDING), 'utf8')) as unknown;
    return Array.isArray(list) ? list.filter((p: Partial<Pending>): p is Pending => oid(p?.epoch) && oid(p?.archived)).map((p) => ({ epoch: p.epoch, archived: p.archived })) : [];
  } catch {
    return [];
  }
}

/** Adds `add` to the pending pushes, or removes the epoch `remove` from them (whole by a rename: a kill -9 leaves the old list or the new). */
async function markPending(repo: Repo, change: { add: Pending } | { remove: string }): Promise<void> {
  const { rename, rm, writeFile } = await import('node:fs/promises');
  const file = repo.stateFile(PENDING);
  const list = (await readPending(repo)).filter((p) => p.epoch !== ('add' in change ? change.add.epoch : change.remove));
  if ('add' in change) list.push(change.add);
  if (list.length === 0) return rm(file, { force: true });
  await writeFile(`${file}.tmp`, JSON.stringify(list) + '\n');
  await rename(`${file}.tmp`, file);
}

/** A push answer that says the hub applied nothing: a ref refused (`!`) with a reason, not `[remote failure]` (no status came back). With --atomic, one refused ref means none moved. */
function refusedByHub(r: { refs: Array<{ flag: string; summary: string }>; stdout: string; stderr: string }): boolean {
  if (r.refs.length > 0) return r.refs.some((x) => x.flag === '!' && !/remote failure/i.test(x.summary));
  return /\[(remote )?rejected\]|stale info|fetch first|non-fast-forward/i.test(r.stdout + r.stderr);
}

/**
 * Whether a failed push certainly moved nothing on the hub: a failure git's
 * classification calls permanent (credentials refused, no such repository,
 * an unknown host alias, an engine that cannot push atomically), with no
 * sign the hub got as far as updating refs (`[remote failure]`, a
 * connection that dropped).
 */
function tookNothing(e: GitError): boolean {
  return !classifyGitError(e).temporary && !e.timedOut && !/\[remote failure\]|hung up|connection reset|broken pipe/i.test(e.stderr);
}

/** The error of a push whose outcome is unknown (the hub may have taken it): temporary, the next run finds out. */
function outcomeUnknown(cause: unknown, archiveRef: string): TemporaryError {
  const why = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
  return new TemporaryError(`the push of the new epoch got no answer from the hub (${why}): the hub may or may not have taken it; the local ${archiveRef} is kept, and the next \`agentgit compact history\` asks the hub which`);
}

/**
 * Earlier compactions whose push got no answer (it threw, or was killed):
 * ask the hub. Taken (the hub's branch or ours descends from the epoch, or
 * the hub holds its archive ref): the local archive ref is the archive,
 * kept. Never taken (the hub's branch moved away from the archived head, so
 * the compare-and-swap can no longer succeed, and none of the above): the
 * local archive ref is removed (it named the hub's own history, which the
 * hub still holds). The hub still at the archived head, or unreachable:
 * nothing decided, asked again next time. Returns notes for the operator.
 */
async function settlePending(repo: Repo, remote: string, branch: string, hubHead: string, timeoutMs: number): Promise<string[]> {
  const notes: string[] = [];
  const local = repo.headBranchFromFile() ?? (await repo.currentBranch());
  const head = local ? await repo.revParse(`refs/heads/${local}`) : null;
  for (const p of await readPending(repo)) {
    const ref = `${ARCHIVE_PREFIX}${p.epoch}`;
    const has = async (tip: string | null): Promise<boolean> => !!tip && (await repo.isAncestor(p.epoch, tip).catch(() => false));
    if ((await has(hubHead)) || (await has(head))) {
      await markPending(repo, { remove: p.epoch });
      continue;
    }
    const hub = await repo.lsRemote(remote, [ref, `refs/heads/${branch}`], { timeoutMs });
    if (!hub.ok) continue;
    if (hub.refs.get(ref) === p.archived) {
      await markPending(repo, { remove: p.epoch });
    } else if (hub.refs.get(`refs/heads/${branch}`) === p.archived) {
      notes.push(`the hub has not taken the earlier epoch ${short(p.epoch)} (yet): its local ${ref} is kept until that is certain`);
    } else {
      await repo.deleteRef(ref, p.archived).catch(() => undefined);
      await markPending(repo, { remove: p.epoch });
      notes.push(`the earlier epoch ${short(p.epoch)}, whose push got no answer, never reached the hub: its local ${ref} is removed`);
    }
  }
  return notes;
}

/**
 * Replays `originals` (oldest first) on top of `onto`, one commit each: the
 * original's tree, message (plus the trailer naming it), author and
 * committer dates (so a later `--before` cuts them where it cut the originals),
 * signed by this instance (a commit is authored by the key that signs it;
 * the original author is in the archived commit the trailer names).
 * Returns the last commit (`onto` when there is nothing to replay).
 */
async function replay(repo: Repo, onto: string, originals: string[]): Promise<string> {
  let tip = onto;
  for (const c of originals) {
    const raw = (await repo.objects.read(c))?.toString('utf8') ?? '';
    const header = raw.slice(0, raw.indexOf('\n\n'));
    const date = (who: string): string | undefined => new RegExp(`^${who} .* (\\d+ [+-]\\d{4})$`, 'm').exec(header)?.[1];
    const env = Object.fromEntries(Object.entries({ GIT_AUTHOR_DATE: date('author'), GIT_COMMITTER_DATE: date('committer') }).filter((e): e is [string, string] => e[1] !== undefined));
    const message = replayMessage(raw.slice(raw.indexOf('\n\n') + 2), c);
    tip = await repo.commitTree((await repo.treeOf(c))!, [tip], message, { sign: true, env });
  }
  return tip;
}

// ---------------------------------------------------------------- compact auto (what is due)

/** Daily logs in `head` whose file-name date is more than `days` days before `today` (YYYY-MM-DD). */
export async function dueLogs(repo: Repo, policy: Policy, head: string, today: string, days: number): Promise<string[]> {
  const paths = await repo.listFiles(head);
  return paths.filter((p) => archivePathFor(p) !== null && policy.kindOf(p) === 'log' && !policy.allowsLogRewrite(p) && olderThan(dayOf(p)!, today, days));
}

/**
 * Whether a new epoch is due: the history has more than one commit and its
 * start (the last epoch, else the root commit) was committed more than
 * `everyMs` before `nowMs`, by the commit date recorded in the history.
 */
export async function historyDue(repo: Repo, head: string, everyMs: number, nowMs: number): Promise<{ due: boolean; since: string; length: number }> {
  const info = await historyInfo(repo, head);
  const start = info.epoch?.commit ?? (await repo.rootsOf(head)).sort()[0]!;
  const at = await repo.committerTime(start);
  return { due: info.length > 1 && nowMs - at > everyMs, since: new Date(at).toISOString(), length: info.length };
}

/**
 * The size of the hub's object store when the hub is a repository on this
 * disk (a path or file:// URL), else of this clone's (`git count-objects`).
 */
export async function storeSize(repo: Repo, hubUrl: string | null): Promise<{ bytes: number; of: 'hub' | 'clone'; path: string }> {
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const local = hubUrl && (hubUrl.startsWith('file://') ? decodeURIComponent(hubUrl.slice(7)) : hubUrl.startsWith('/') ? hubUrl : null);
  const objects = local ? [join(local, 'objects'), join(local, '.git', 'objects')].find((d) => existsSync(d)) : undefined;
  if (objects) return { bytes: await dirBytes(objects), of: 'hub', path: objects };
  const counts = await repo.countObjects();
  const kib = (k: string): number => counts[k] ?? 0;
  return { bytes: (kib('size') + kib('size-pack') + kib('size-garbage')) * 1024, of: 'clone', path: join(repo.gitDir, 'objects') };
}

async function dirBytes(dir: string): Promise<number> {
  const { readdir, lstat } = await import('node:fs/promises');
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += (await lstat(p).catch(() => null))?.size ?? 0;
  }
  return total;
}

// ---------------------------------------------------------------- compact logs (the command)

export interface CompactLogsResult {
  commit: string | null;
  moved: string[];
  archives: string[];
  notes: string[];
}

/**
 * Move daily logs older than `olderThanDays` (by the date in the file name,
 * counted from `today`, default the UTC date now) into their monthly
 * archives, in one signed commit on the local branch; the next sync
 * publishes it. A daily log with uncommitted writes is left for next time.
 */
export async function compactLogs(o: { dir: string; olderThanDays: number; today?: string }): Promise<CompactLogsResult> {
  const [{ openContext }, { SyncLock }] = await Promise.all([import('./context.js'), import('../lock.js')]);
  const ctx = await openContext(o.dir);
  const { repo, policy, settings } = ctx;
  const today = o.today ?? new Date().toISOString().slice(0, 10);
  const lock = new SyncLock(repo.stateFile('sync.lock'));
  let locked = false;
  try {
    await lock.acquire(0);
    locked = true;
    const local = repo.headBranchFromFile() ?? (await repo.currentBranch());
    if (!local) throw new Error(`HEAD is detached in ${repo.root}; check out the branch you sync, then compact again`);
    const ref = `refs/heads/${local}`;
    const head = await repo.revParse(ref);
    if (!head) return { commit: null, moved: [], archives: [], notes: ['nothing committed yet'] };
    const dirty = new Set((await repo.status()).map((s) => s.path));
    const notes: string[] = [];
    const due = (await dueLogs(repo, policy, head, today, o.olderThanDays))
      .filter((p) => (dirty.has(p) ? (notes.push(`${p} has uncommitted writes: left for the next compaction`), false) : true))
      .sort();
    if (due.length === 0) return { commit: null, moved: [], archives: [], notes };
    const read = async (spec: string): Promise<string | null> => (await repo.objects.read(spec))?.toString('utf8') ?? null;
    const changes = new Map<string, FileChange>();
    for (const p of due) {
      const archive = archivePathFor(p)!;
      if (dirty.has(archive)) throw new Error(`${archive} has uncommitted writes; run \`agentgit sync\` first, then compact again`);
      const bytes = (await read(`${head}:${p}`)) ?? '';
      const a = changes.get(archive) ?? { path: archive, before: await read(`${head}:${archive}`), after: await read(`${head}:${archive}`) };
      const cur = a.after ?? '';
      a.after = `${cur}${cur === '' || cur.endsWith('\n') ? '' : '\n'}${archiveBlock(p, bytes)}`;
      changes.set(archive, a);
      changes.set(p, { path: p, before: bytes, after: null });
    }
    const all = [...changes.values()];
    const problems = conservationProblems(all);
    if (problems.length > 0) throw new Error(`the compaction would not conserve every entry (${problems.join('; ')}); nothing was changed`);
    const entries: IndexEntry[] = [];
    for (const c of all) entries.push(c.after === null ? { path: c.path, mode: '0', oid: repo.zeroOid } : { path: c.path, mode: '100644', oid: await repo.writeBlob(Buffer.from(c.after, 'utf8')) });
    const tree = await repo.buildTree(head, entries);
    const archives = all.filter((c) => c.after !== null).map((c) => c.path);
    const text = `agentgit: compact ${due.length} daily log${due.length === 1 ? '' : 's'} older than ${o.olderThanDays} days\n\n${archives.map((a) => `- ${a}`).join('\n')}`;
    const message = `${withInstanceTrailer(text, settings.instance)}Agentgit-Compact-Logs: ${due.length}\n`;
    const commit = await repo.commitTree(tree, [head], message, { sign: settings.sign });
    const co = await (await import('./checkout.js')).checkout(repo, policy, ref, head, commit);
    if (co.keptLocal.length) notes.push(`kept the agent's writes made meanwhile: ${co.keptLocal.join(', ')} (committed next round)`);
    return { commit, moved: due, archives, notes };
  } finally {
    if (locked) await lock.release();
    repo.close();
  }
}
