/**
 * The `log` kind: an entry-aware union merge for append-mostly logs (daily
 * memory notes, HISTORY.md, JSONL event logs). Pure and total: no I/O, never
 * throws, whatever the input.
 *
 * ENTRIES (parseEntries). A file is split into entries whose texts, joined,
 * give the file back byte for byte.
 * - markdown (`.md`, `.markdown`, or any non-JSONL path whose text has
 *   headings or top-level list items): a heading (`#`..`######`), a
 *   top-level list item (`- `, `* `, `+ `, `1. `) or a top-level dated line
 *   (`[2026-02-05 ...`, as in nanobot's HISTORY.md) starts an entry; every
 *   other line (indented lines, nested bullets, paragraphs, fenced code, a
 *   heading-looking line inside a fence) continues the current one. Text
 *   before the first entry is a preamble entry.
 * - JSONL (`.jsonl`, `.ndjson`): one JSON value per entry; a pretty-printed
 *   value spans lines until its brackets balance (strings and escapes
 *   respected); a value that never closes falls apart into one entry a line.
 * - plain (anything else): one line per entry.
 * Trailing blank lines stay in their entry's text, but entries are compared
 * by their content (`key`: the text without trailing blank lines), so "E\n\n"
 * before an appended entry and "E\n" at EOF are the same entry. The blank
 * lines in front of an entry (its "lead") travel with it through the merge;
 * an entry is always put on a line of its own.
 *
 * TIMESTAMPS carried by an entry (ms, null when none), from its first line:
 * ISO date-times (offsets honoured; no offset = UTC, never the local zone),
 * `[YYYY-MM-DD HH:MM]`, `(1:40 PM)`, `HH:MM`; JSON fields `timestamp`, `ts`,
 * `time`, keys ending `AtMs`/`At`/`_at` (ISO, epoch s or epoch ms). A time of
 * day alone goes on the date in the file name (`memory/2026-02-05.md`), else
 * it is the time of day alone. For ordering, an entry's effective timestamp
 * is the running maximum of its own and those of the earlier entries of its
 * level within its section (an entry without one sorts with the entry
 * before it; a back-dated entry stays where its side put it); NONE when no
 * entry so far has one (see effTs).
 *
 * LEVELS group entries into UNITS for interleaving: markdown headings 1..6
 * (a heading owns the deeper entries after it), `§` lines 1 and timestamped
 * lines 2 in plain text (owning the untimestamped lines after them), every
 * JSONL value 2, everything else 7 (a bullet, a paragraph: a unit of its own
 * when it comes before any heading of an inserted run).
 *
 * MERGE (mergeLogText). Each side is diffed against base by entry content
 * (shared prefix taken over without a scan, common prefix and suffix
 * stripped, then a patience diff; a quadratic LCS only inside small regions
 * without anchors). In a changed region, each side entry pairs, in order,
 * with the next base entry of the same identity (timestamp and first five
 * words, found through a map over the whole region, however deep), else
 * with a similar one within 100 entries (same timestamp if any, and same
 * first line, or words added to it, or mostly the same text); a 1:1
 * replacement is always an edit. Paired entries are edits; the rest are
 * deletions and insertions.
 * - per base entry: kept by both = kept; deleted by one side and unchanged
 *   on the other = deleted; edited on one side = the edit; edited the same
 *   on both = once; edited differently = merged when both edits only append
 *   lines or a line-level diff3 is clean (the same either way round; one
 *   line changed by both in places apart, such as a ticked box and words
 *   added at the end, takes both changes), else
 *   both versions in content order plus a Conflict (key `entry`, rule
 *   `value`); deleted by one side and edited by the other = the edit.
 *   An "edit" whose new text the other side inserted is read as a deletion
 *   plus that insertion, so the two copies meet and appear once.
 *   When both sides changed a base entry, a side's version that does not
 *   keep it (another timestamp, or first words that neither start nor
 *   extend the base's: the next event, another id, standing in its place;
 *   or under another heading: the same boilerplate heading of another
 *   session) is read as a deletion plus an insertion, so the other side's
 *   edit stays whole and two entries are never fused into one.
 * - the entries both sides inserted at one place are merged like merge
 *   sort's merge, unit by unit, each side keeping its own order. Units
 *   compare by (level: deeper first, so bullets continuing the section
 *   above come before new sections; timestamp; head text). Units with the
 *   same head (the same heading, timestamped line or value added by both
 *   sides) appear once, with what follows the head on each side merged
 *   under it the same way. Units with different heads are never fused:
 *   `## Notes\nwent to the shop` and `## Notes\nfixed the sink` are two
 *   entries and stay two sections.
 * - base null or '' (both added the file): the entries both start with are
 *   the base; everything else is a union, nothing is deleted.
 * - conflict-marker lines in base (a virtual ancestor) are dropped before
 *   the diff; output lines always come from ours or theirs.
 * - an entry cut short inside a code fence (a write killed mid-entry) goes
 *   after every other entry, so it cannot swallow them.
 *
 * INVARIANTS (test/merge/log.laws.test.ts): the output never depends on
 * which side is ours (byte-identical after swapping); merge(o,a,a) = a;
 * merge(o,o,b) = b; no entry of a side is lost unless the other side
 * deleted or edited it; no entry is duplicated; when replicas only append,
 * at any times (clock jumps, back-dated entries), every merge order of any
 * number of replicas (and a git-like sequence with later merge bases) gives
 * the same bytes: a unit's order key is the same in every file that holds
 * it (effTs), merging takes the smaller head unit, and a merged run splits
 * back into the same units, so merging is associative. Known limits: the
 * same untimed entry written twice by one replica, or new entries both sides
 * have but base lacks (criss-cross, cherry-pick) next to edits or
 * deletions, may pair up differently and come out twice (never lost).
 * Cost: linear in the input apart from the changed regions.
 *
 * FALLBACK. Should the merge itself ever throw (it is written not to),
 * mergeSafely keeps every entry of both sides exactly as often as the side
 * that has it more often (unionOfEntries; deletions undone, never an entry
 * lost or doubled) and says so in a note; tested with a failing core.
 *
 * LAYOUT: this file is the public entry points; log/entries.ts splits a
 * file into entries (levels, own timestamps), log/align.ts pairs a side
 * with base (diff/patience.ts finds the unchanged entries), log/order.ts
 * orders inserted units, log/merge.ts merges.
 */
import { textTimestamp } from './decide.js';
import { align, isTruncation } from './log/align.js';
import { NONE, detectMode, fileDayOf, firstLine, levelOf, ownTs, parseDoc } from './log/entries.js';
import { emptyStats, mergeCore } from './log/merge.js';
import { splitLines } from './util.js';
import type { LogMergeOutput } from './log/merge.js';

export type { LogMergeOutput } from './log/merge.js';

export interface LogEntry {
  /** The exact text, trailing blank lines and line terminator included. */
  text: string;
  /** What entries are compared by: the text without trailing blank lines. */
  key: string;
  /** Timestamp carried by the entry, in ms (a time of day alone: ms since midnight); null when none. */
  ts: number | null;
  /** Nesting depth used to group entries: 1..6 for markdown headings, 1 for `§`, 2 for timestamped plain lines and JSONL values, 7 otherwise. */
  level: number;
}

/**
 * base null = both sides added the file. Inputs are already BOM-stripped and
 * LF-normalised by the caller (see util.normalizeText); output is LF text
 * (caller re-applies framing).
 */
export function mergeLogText(path: string, base: string | null, ours: string, theirs: string): LogMergeOutput {
  if (ours === theirs) return fast(ours);
  if (base !== null && base === ours) return fast(theirs);
  if (base !== null && base === theirs) return fast(ours);
  return mergeSafely(path, base, ours, theirs);
}

/** Split a log into entries (exported for the sync engine's guard and tests). Joining entry texts reproduces the input exactly. */
export function parseEntries(path: string, text: string): LogEntry[] {
  try {
    const doc = parseDoc(text, detectMode(path, [text]), fileDayOf(path));
    return doc.bodies.map((body, j) => {
      const t = ownTs(doc, j);
      return { text: body + doc.seps[j]!, key: body, ts: t === NONE ? null : t, level: levelOf(doc, j) };
    });
  } catch {
    return text === '' ? [] : [{ text, key: text, ts: null, level: 7 }];
  }
}

/**
 * For the commit guard: which entries of `before` (the committed version) are
 * gone from `after` (the work tree), not counting in-place edits. An entry
 * replaced at the same position by a different entry is an edit, not a loss;
 * entries removed outright are lost, and so is an entry cut short (its text
 * replaced by a strict prefix of itself, as a truncated write leaves it).
 * Entries that only moved are neither lost nor added. Strings are entry keys.
 * `failed` is set when the check itself failed (the lists are then empty).
 */
export function lostEntries(path: string, before: string, after: string): { lost: string[]; added: string[]; edited: number; failed?: string } {
  try {
    if (before === after) return { lost: [], added: [], edited: 0 };
    const mode = detectMode(path, [before, after]);
    const day = fileDayOf(path);
    const b = parseDoc(before, mode, day);
    const a = parseDoc(after, mode, day, b);
    const al = align(b, a);
    const lost: string[] = [];
    let edited = 0;
    const used = new Uint8Array(a.bodies.length);
    for (let i = 0; i < b.bodies.length; i++) {
      const j = al.baseTo[i]!;
      if (j < 0) {
        lost.push(b.bodies[i]!);
        continue;
      }
      used[j] = 1;
      if (!al.edited[i]) continue;
      if (isTruncation(b.bodies[i]!, a.bodies[j]!, j === a.bodies.length - 1)) lost.push(b.bodies[i]!);
      else edited++;
    }
    const added: string[] = [];
    for (let j = 0; j < a.bodies.length; j++) if (!used[j]) added.push(a.bodies[j]!);
    // an entry that moved is both "lost" and "added": it is neither
    const addedCount = new Map<string, number>();
    for (const s of added) addedCount.set(s, (addedCount.get(s) ?? 0) + 1);
    const moved = new Map<string, number>();
    const realLost = lost.filter((s) => {
      const n = addedCount.get(s) ?? 0;
      if (n === 0) return true;
      addedCount.set(s, n - 1);
      moved.set(s, (moved.get(s) ?? 0) + 1);
      return false;
    });
    const realAdded = added.filter((s) => {
      const n = moved.get(s) ?? 0;
      if (n === 0) return true;
      moved.set(s, n - 1);
      return false;
    });
    return { lost: realLost, added: realAdded, edited };
  } catch (e) {
    // never read as "nothing lost": the guard holds a file whose check failed
    return { lost: [], added: [], edited: 0, failed: `the loss check failed: ${(e as Error).message}` };
  }
}

/**
 * For a held (truncated) log: the committed text plus what the work tree
 * added (new entries at their places, in-place edits), with every lost or
 * cut-short entry restored at its place.
 */
export function restoreLost(path: string, before: string, after: string): string {
  try {
    if (before === after) return after;
    return mergeCore(path, before, before, after, { restore: true }).text;
  } catch {
    return before;
  }
}

/** Internals exposed for the tests only. */
export const __testing = {
  /** mergeLogText without its fast paths, so the laws exercise the real algorithm. */
  mergeWithoutFastPaths(path: string, base: string | null, ours: string, theirs: string): LogMergeOutput {
    return mergeSafely(path, base, ours, theirs);
  },
  /** mergeLogText with a merge core that fails, to reach the fallback. */
  mergeWithFailingCore(path: string, base: string | null, ours: string, theirs: string): LogMergeOutput {
    return mergeSafely(path, base, ours, theirs, () => {
      throw new Error('injected failure');
    });
  },
  parseTimestamp(text: string, path = ''): number | null {
    const t = textTimestamp(firstLine(text), fileDayOf(path));
    return t;
  },
};

function fast(text: string): LogMergeOutput {
  return { text, stats: emptyStats(), notes: [], conflicts: [] };
}

function mergeSafely(path: string, base: string | null, ours: string, theirs: string, core = mergeCore): LogMergeOutput {
  try {
    return core(path, base, ours, theirs, { restore: false });
  } catch (e) {
    // Unreachable by design; still, never throw, never lose or double an entry.
    return { text: unionOfEntries(path, ours, theirs), stats: emptyStats(), notes: [`log merge failed (${(e as Error).message}); kept every entry of both sides once (deletions undone)`], conflicts: [] };
  }
}

/**
 * The fallback when the merge itself failed: one side (the smaller text,
 * so the result does not depend on which side is ours) whole, then the
 * entries of the other side it lacks, in their order, each entry as often
 * as the side that has it more often. Edits show as both versions and
 * deletions are undone; nothing is lost and nothing doubled. Entries are
 * lines when the file cannot be split into entries.
 */
function unionOfEntries(path: string, ours: string, theirs: string): string {
  const [x, y] = ours <= theirs ? [ours, theirs] : [theirs, ours];
  const mode = detectMode(path, [x, y]);
  const units = (text: string): { key: string; text: string }[] => {
    try {
      const doc = parseDoc(text, mode, fileDayOf(path));
      return doc.bodies.map((body, j) => ({ key: body, text: body + doc.seps[j]! }));
    } catch {
      return splitLines(text).map((line) => ({ key: line.replace(/\n$/, ''), text: line }));
    }
  };
  const have = new Map<string, number>();
  for (const u of units(x)) have.set(u.key, (have.get(u.key) ?? 0) + 1);
  const parts = [x];
  for (const u of units(y)) {
    const n = have.get(u.key) ?? 0;
    if (n > 0) {
      have.set(u.key, n - 1);
      continue;
    }
    const prev = parts[parts.length - 1]!;
    if (prev !== '' && !prev.endsWith('\n')) parts.push('\n'); // an entry on a line of its own
    parts.push(u.text);
  }
  return parts.join('');
}
