/**
 * Structural three-way merge for JSON files (the `json` kind).
 *
 * Pure and total: text in, text and a report out; it never throws and never
 * writes conflict markers. Every decision depends on the values and clocks,
 * never on which side is "ours" (during a rebase git swaps the sides; see
 * git-facts.md).
 *
 * Invariants (test/merge/json.laws.test.ts checks each):
 *  - commutative: swapping the sides and their clocks gives the same bytes;
 *  - idempotent and identity: merge(o, a, a) = a, merge(o, o, b) = b;
 *  - nothing written is lost: a value either side wrote survives unless the
 *    other side wrote the same place and won a race, which is reported;
 *  - no item is doubled by a move; ids repeat only in reported collisions;
 *  - when both sides parse, the output parses;
 *  - three replicas merged in any order hold the same content, given
 *    per-key clocks (changedKeyPaths at each write, mergeClocks). Limits:
 *    item timestamps and file clocks speak for a whole item or file, not
 *    for the key that raced, so with them the result can depend on the
 *    merge order; so can a same-id collision, a type change raced against a
 *    structure merged meanwhile, and an item kept against a delete only by
 *    a change that later loses a race (a subtask moved into a deleted task,
 *    then moved elsewhere by a later writer). The ORDER of new entries can
 *    also differ (content cannot) when a removal or a move took away the
 *    entry they were placed after: a state-based merge cannot know where
 *    that entry was. Without removals and moves the bytes agree.
 *
 * Rules, applied at every node (b = base, o/t = the sides, undefined =
 * absent):
 *  1. o equals b -> t. t equals b -> o. o equals t -> o. (Exact equality,
 *     key order included, so the output never depends on the side.)
 *  2. Deleted on one side, unchanged on the other -> deleted. Deleted on one
 *     side, changed on the other -> the change is kept (an edit beats a
 *     delete) and a note says so.
 *  3. Both objects -> merged key by key (a missing or non-object base counts
 *     as `{}`). Both arrays -> merged as below. Otherwise, both changed:
 *     counters (opts.counters) add both deltas, o + t - b (a missing base
 *     counts as 0; both sides making the same change made two increments,
 *     so rule 1's "o equals t" does not apply to them); volatile keys
 *     (opts.volatile) take the maximum, silently; anything else is a
 *     last-writer-wins race.
 *  4. A race is decided by, in order: the timestamp field (opts.timestampKeys,
 *     ISO text or epoch s/ms; the later wins) of the nearest enclosing object
 *     whose two sides both carry one; the two sides' clocks for the key (see
 *     Clocks); the values (the greater canonical JSON text wins). Every race
 *     is reported in `conflicts` with both values and clocks.
 *
 * Arrays:
 *  - Id-keyed arrays: the first id key (opts.idKeys, tried in order) that
 *    any element of the array's versions carries, with a string or number
 *    value (numbers by exact value: a bigint beyond doubles). Items merge
 *    item by item with the rules above, addressed as `@<id>` in key paths.
 *    Elements without the id are value entries: kept as a multiset like
 *    set arrays, inside the keyed merge. An id repeated within one version
 *    is noted; its occurrences pair up, the n-th with the n-th, and merge as
 *    items when the id occurs equally often in every version and no side
 *    reordered them (pairedIds); otherwise (which one is "the" item cannot
 *    be told) they are value entries too. Two sides creating different items with the same
 *    id (absent from base) is a collision: reported, and BOTH items are kept,
 *    next to each other in canonical-JSON order (later merges then treat
 *    that id's occurrences as values until someone renames one).
 *  - Moves (documentScope): one scope, the whole document. An item whose
 *    identity occurs once per version in the document and that sits in
 *    different arrays in base/ours/theirs is moved, never lost or doubled;
 *    edits the other side made to the item are applied to the moved item.
 *    Arrays are named by location (itemLoc: the enclosing item's identity
 *    plus the keys below it, or the path outside every item), so a subtask
 *    moved into a task that moved too still lands. A move counts as a change
 *    (it beats a delete). Both sides moving the item to different arrays is a
 *    race (timestamp, then the clock of each side's move, then the array
 *    location), reported with the two array paths as values.
 *  - Every other array (scalars, id-less objects, mixed) merges as a
 *    multiset of canonical-JSON values: elements added on either side are
 *    kept, elements removed on either side are removed. An edited id-less
 *    object is "removed + added", so two different edits of one element both
 *    survive. (Chosen over whole-array LWW because it loses nothing.)
 *  - Order (arrays and object keys alike): the base order, or one side's
 *    order if only that side reordered the surviving base entries; a new
 *    entry goes after its nearest preceding base entry in the side that added
 *    it. Where both sides insert at one point, each side's run keeps its own
 *    order and the runs interleave (interleave): the earlier head first, by
 *    the items' timestamp field (decide.ts, offsets honoured), else by id /
 *    value. That is a stable sort of blocks, so any merge order of any number
 *    of replicas gives the same order.
 *
 * Clocks (SideClocks): `keys` maps key paths (`/tasks/@14/status`, segments
 * escaped as in RFC 6901) to the clock of the write that last set the value
 * there, as changedKeyPaths reports them. A value's clock is the latest
 * recorded at its path, above it or below it (see ClockIndex); the root key
 * '' and `file` are the file clock, used only where nothing is recorded.
 * A move is recorded at `<item path>/~loc`, which is not an ancestor of the
 * item's fields: a move does not make the fields look newly written. Inside a
 * moved item, the item's paths in base, ours and theirs all count, so clocks
 * recorded before the move still speak for its fields. A merged side's
 * clocks are mergeClocks of the two sides' (a per-key maximum).
 *
 * Unparseable input: an unparseable base is treated as absent (noted). A
 * side that does not parse never replaces one that does: the result is the
 * valid side, byte for byte (merged against the base as if the broken side
 * were unchanged), the broken text goes to the conflict record (key '').
 * Only when neither parses is it a whole-file last-writer-wins race on the
 * file clocks (ties by text), method 'whole-file'.
 *
 * Numbers (json/value.ts): a number whose text a double does not give back
 * (big integers, 1e400, -0, 1.0, 1E2) is a LosslessNumber holding its text,
 * written back verbatim; numbers compare by decimal value; counters add
 * integers exactly (BigInt). Duplicate keys: the last occurrence is the value
 * (as JSON.parse), the dropped one goes to the conflict record with a note.
 * Containers deeper than DEPTH_LIMIT are OpaqueJson (their text): one value
 * each, so the levels above still merge key by key.
 *
 * Output: the merged value written like `JSON.stringify` (json-bytes.ts),
 * indented as both sides are (2, 4, tab or minified), else as the base, else
 * 2 spaces; the trailing newline likewise. Textual fast paths: a side equal
 * to base, or both sides equal, return a side's text untouched.
 *
 * Layout: this file holds the entry points (mergeJsonText, mergeJson, the
 * fast paths, the whole-file and broken-side fallbacks); json/ holds the
 * rules by concern: input.ts (parsing, format, duplicate keys), merge.ts
 * (the recursive merge, keyed and set arrays, races), moves.ts (the move
 * scope), order.ts (order of merged sequences), timestamps.ts, clocks.ts,
 * ids.ts, paths.ts, value.ts (lossless numbers, equality), state.ts, and
 * changed.ts (changedKeyPaths).
 *
 * Known limits: integer-like object keys come out first, ascending (JS
 * object order, as Node's own JSON writers do). Object keys starting with
 * '@' are not escaped, so `/a/@1` names both a key "@1" and the item with
 * id 1 (they may share a clock).
 */
import type { Collision, Conflict, JsonOptions, SideClocks } from './types.js';
import { MARKER_RE, pickWinner, side } from './util.js';
import { jsonToBytes } from './json-bytes.js';
import { ClockIndex } from './json/clocks.js';
import type { LosslessNumber, OpaqueJson } from './json/value.js';
import { PathMatcher } from './json/paths.js';
import type { State } from './json/state.js';
import { mergeValue } from './json/merge.js';
import { documentScope } from './json/moves.js';
import { parseDocs, reportDuplicates, type Docs } from './json/input.js';

export { LosslessNumber, OpaqueJson } from './json/value.js';
export { changedKeyPaths } from './json/changed.js';
export { detectIndent } from './json/input.js';
export { escapeSegment } from './json/paths.js';
export { clockOf, mergeClocks } from './json/clocks.js';

export interface JsonMergeOutput {
  text: string;
  method: 'structural' | 'whole-file';
  stats: Record<string, number>;
  conflicts: Conflict[];
  collisions: Collision[];
  notes: string[];
}

export type Json = null | boolean | number | LosslessNumber | OpaqueJson | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

function emptyOutput(): Omit<JsonMergeOutput, 'text' | 'method'> {
  return { stats: {}, conflicts: [], collisions: [], notes: [] };
}

/** Whole-file last writer wins: file clocks, then text; a side with conflict markers never wins over one without. */
function wholeFile(path: string, ours: string, theirs: string, oc: SideClocks | undefined, tc: SideClocks | undefined, why: string): JsonMergeOutput {
  const out = emptyOutput();
  const so = side(ours, new ClockIndex(oc).file);
  const st = side(theirs, new ClockIndex(tc).file);
  const mo = MARKER_RE.test(ours);
  const mt = MARKER_RE.test(theirs);
  let pick: ReturnType<typeof pickWinner>;
  if (mo !== mt) {
    pick = mo ? { winner: st, loser: so, rule: 'value' } : { winner: so, loser: st, rule: 'value' };
    out.notes.push('one side holds conflict markers; kept the other');
  } else pick = pickWinner(so, st);
  out.notes.push(why);
  out.conflicts.push({ path, key: '', winner: pick.winner, loser: pick.loser, rule: pick.rule });
  out.stats.conflicts = 1;
  return { text: pick.winner.value, method: 'whole-file', ...out };
}

/**
 * Merge three versions of a JSON file. Inputs are BOM-stripped, LF-normalised
 * text (the caller re-applies framing). `base` null = both sides added the
 * file: everything is an add. Never throws.
 */
export function mergeJsonText(
  path: string,
  base: string | null,
  ours: string,
  theirs: string,
  opts: JsonOptions,
  oursClock?: SideClocks,
  theirsClock?: SideClocks,
): JsonMergeOutput {
  const src: JsonSources = { base: base === null ? null : () => base, ours: () => ours, theirs: () => theirs };
  const r = mergeJson(path, src, opts, oursClock, theirsClock);
  if (!('doc' in r)) return r;
  const { doc, indent, newline, ...rest } = r;
  const bytes = jsonToBytes(doc, indent, newline, { bom: false, eol: '\n' }, Math.max(ours.length, theirs.length));
  return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), ...rest };
}

/**
 * The three inputs of mergeJson, each read when needed (BOM-stripped,
 * LF-normalised text, as for mergeJsonText). A caller holding bytes decodes
 * afresh on each call, so no text outlives its parse: on a 5 MB file the
 * three texts would otherwise stay alive through the whole merge (issue #2).
 */
export interface JsonSources {
  base: (() => string) | null;
  ours: () => string;
  theirs: () => string;
  /** The caller has found the texts pairwise different (e.g. by their bytes): no need to read them for the fast paths. */
  distinct?: boolean;
  /** The sides' UTF-8 bytes: parsed directly, sharing the base's unchanged subtrees (json-parse.ts), with no text made. */
  bytes?: { ours: Uint8Array; theirs: Uint8Array; base?: Uint8Array };
}

/** A structural merge's document, left for the caller to write (`jsonToBytes`): no whole-document string. */
export interface JsonMergeDoc extends Omit<JsonMergeOutput, 'text'> {
  doc: Json;
  indent: string;
  newline: boolean;
}

/** mergeJsonText over JsonSources, with a structural result given as the merged value and its format. */
export function mergeJson(path: string, src: JsonSources, opts: JsonOptions, oursClock?: SideClocks, theirsClock?: SideClocks): JsonMergeOutput | JsonMergeDoc {
  const fast = src.distinct === true ? null : fastPath(src);
  if (fast !== null) return fast;
  try {
    const docs = parseDocs(src);
    if ('broken' in docs) return validSideWins(path, src, docs.broken, oursClock, theirsClock);
    if ('fallback' in docs) return wholeFile(path, src.ours(), src.theirs(), oursClock, theirsClock, docs.fallback);
    return structural(path, docs, opts, oursClock, theirsClock);
  } catch (e) {
    // Defensive: a bug or an absurdly deep document must not stop a sync.
    return wholeFile(path, src.ours(), src.theirs(), oursClock, theirsClock, `structural merge failed (${e instanceof Error ? e.message : String(e)}); whole file, last writer wins`);
  }
}

/**
 * Exactly one side parses: a side that does not parse never replaces one that
 * does (a file cut off mid-write by a crashed agent must not beat a valid
 * edit). The valid side is merged against the base as if the broken side
 * were unchanged, which is the valid side itself, kept byte for byte; the
 * broken bytes go to the conflict record (key '') and a note names the file.
 */
function validSideWins(path: string, src: JsonSources, broken: 'o' | 't', oc: SideClocks | undefined, tc: SideClocks | undefined): JsonMergeOutput {
  const out = emptyOutput();
  const [good, bad] = broken === 't' ? [src.ours(), src.theirs()] : [src.theirs(), src.ours()];
  const [gc, bc] = broken === 't' ? [oc, tc] : [tc, oc];
  out.conflicts.push({ path, key: '', winner: side(good, new ClockIndex(gc).file), loser: side(bad, new ClockIndex(bc).file), rule: 'value' });
  out.notes.push(`${path}: one side does not parse as JSON (cut off mid-write, or hand-edited); kept the side that parses, the broken text is in the conflict record (agentgit conflicts): repair the file from there if it held anything new`);
  out.stats.conflicts = 1;
  return { text: good, method: 'structural', ...out };
}

/** Equal sides, or one side unchanged: that side's text as it is. */
function fastPath(src: JsonSources): JsonMergeOutput | null {
  const ours = src.ours();
  const theirs = src.theirs();
  if (ours === theirs) return { text: ours, method: 'structural', ...emptyOutput(), notes: ['both sides are identical'] };
  const base = src.base === null ? null : src.base();
  if (base !== null && ours === base) return { text: theirs, method: 'structural', ...emptyOutput(), notes: ['only one side changed'] };
  if (base !== null && theirs === base) return { text: ours, method: 'structural', ...emptyOutput(), notes: ['only one side changed'] };
  return null;
}

function structural(path: string, docs: Docs, opts: JsonOptions, oursClock: SideClocks | undefined, theirsClock: SideClocks | undefined): JsonMergeDoc {
  const S: State = {
    file: path,
    opts,
    oc: new ClockIndex(oursClock),
    tc: new ClockIndex(theirsClock),
    volatile: new PathMatcher(opts.volatile),
    counters: new PathMatcher(opts.counters),
    conflicts: [],
    collisions: [],
    notes: [],
    stats: {},
    moves: new Map(),
    forced: new Set(),
  };
  reportDuplicates(S, docs.o, docs.dups.o);
  reportDuplicates(S, docs.t, docs.dups.t);
  documentScope(S, docs.b, docs.o, docs.t);
  const rootSlot = S.moves.get('');
  const doc = mergeValue(S, { path: '', cp: [''], key: undefined, ts: undefined, loc: '' }, docs.b, docs.o, docs.t, rootSlot ? { slot: rootSlot } : undefined) ?? null;
  S.notes.unshift(...docs.notes.filter((n) => n.startsWith('base ')));
  S.notes.push(...docs.notes.filter((n) => !n.startsWith('base ')));
  S.stats.conflicts = S.conflicts.length;
  S.stats.collisions = S.collisions.length;
  return { doc, ...docs.fmt, method: 'structural', stats: S.stats, conflicts: S.conflicts, collisions: S.collisions, notes: S.notes };
}

