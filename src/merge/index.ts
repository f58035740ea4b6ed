/**
 * mergeFile: the one entry point of the merge core. Bytes of base, ours and
 * theirs in; merged bytes and a report out. Pure, total: no I/O, never throws.
 *
 * Order of decisions (each independent of which side is "ours"):
 * 1. fast paths: equal sides, or one side unchanged from base;
 * 2. binary, invalid UTF-8 or over the size limit: whole-file last writer wins;
 * 3. the kind's merge on BOM-stripped LF text, framing restored afterwards.
 */
import { DEFAULT_JSON, DEFAULT_MAX_MERGE_BYTES } from './defaults.js';
import { jsonToBytes } from './json-bytes.js';
import { mergeJson } from './json.js';
import { parseJsonBytes } from './json-parse.js';
import { mergeLogText } from './log.js';
import { mergeTextText } from './text.js';
import type { Conflict, JsonOptions, MergeInput, MergeReport, MergeResult, SideClocks } from './types.js';
import { applyFraming, bytesEqual, compareBytes, compareClocks, decodeText, encodeText, framingOf, isText, looksBinary, mergedFraming, normalizeText } from './util.js';

export type { Kind, MergeInput, MergeResult, MergeReport, Conflict, Collision, SideClocks, JsonOptions, Clock } from './types.js';

export const DEFAULT_JSON_OPTIONS: JsonOptions = DEFAULT_JSON;

/** Files above this many bytes are merged whole-file (see docs/merging.md). */
export const MAX_CONTENT_MERGE_BYTES = DEFAULT_MAX_MERGE_BYTES;

function report(input: MergeInput, method: MergeReport['method'], extra: Partial<MergeReport> = {}): MergeReport {
  return { path: input.path, kind: input.kind, method, stats: {}, conflicts: [], collisions: [], notes: [], ...extra };
}

export function mergeFile(input: MergeInput, maxBytes = MAX_CONTENT_MERGE_BYTES): MergeResult {
  try {
    return mergeFileUnsafe(input, maxBytes);
  } catch (e) {
    // The kinds are written to be total; this is the last line of defence so
    // a bug can never stop a sync. Whole-file LWW keeps both versions on record.
    const r = wholeFile(input, `internal merge error, fell back to whole-file: ${(e as Error).message}`);
    return r;
  }
}

function mergeFileUnsafe(input: MergeInput, maxBytes: number): MergeResult {
  const { base, ours, theirs } = input;
  if (bytesEqual(ours, theirs)) return { bytes: ours, report: report(input, 'fast') };
  if (base !== null && bytesEqual(base, ours)) return { bytes: theirs, report: report(input, 'fast') };
  if (base !== null && bytesEqual(base, theirs)) return { bytes: ours, report: report(input, 'fast') };
  if (input.kind === 'binary' || input.kind === 'local') return wholeFile(input, 'binary: whole-file last writer wins');
  if (ours.length > maxBytes || theirs.length > maxBytes) {
    return wholeFile(input, `over ${maxBytes} bytes: whole-file last writer wins`);
  }
  if (input.kind === 'json') return mergeJsonBytes(input);
  let oT = decodeText(ours);
  let tT = decodeText(theirs);
  let bRaw = base === null ? null : decodeText(base);
  let latin1 = false;
  if ((oT === null || tT === null || (base !== null && bRaw === null)) && (input.kind === 'log' || input.kind === 'text')) {
    // not UTF-8 but not binary either (a Latin-1 log, a stray byte): merge the
    // bytes one-to-one as Latin-1 characters, so entries still union and every byte survives
    if (!looksBinary(ours) && !looksBinary(theirs) && (base === null || !looksBinary(base))) {
      const l1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
      oT = l1(ours);
      tT = l1(theirs);
      bRaw = base === null ? null : l1(base);
      latin1 = true;
    }
  }
  if (oT === null || tT === null) return wholeFile(input, 'binary or invalid UTF-8 content: whole-file last writer wins');
  const encode = (text: string): Uint8Array => (latin1 ? Buffer.from(text, 'latin1') : encodeText(text));
  const notes: string[] = [];
  if (base !== null && bRaw === null) notes.push('base is not text: merged as if both sides added the file');
  const frame = mergedFraming(bRaw, oT, tT);
  const b = bRaw === null ? null : normalizeText(bRaw);
  const o = normalizeText(oT);
  const t = normalizeText(tT);
  const oc: SideClocks = input.oursClock ?? {};
  const tc: SideClocks = input.theirsClock ?? {};

  let text: string;
  let extra: Partial<MergeReport>;
  switch (input.kind) {
    case 'log': {
      const r = mergeLogText(input.path, b, o, t);
      text = r.text;
      extra = { stats: r.stats, conflicts: r.conflicts, notes: [...notes, ...r.notes] };
      return { bytes: encode(applyFraming(text, frame)), report: report(input, 'union', extra) };
    }
    default: {
      const r = mergeTextText(input.path, b, o, t, oc, tc);
      text = r.text;
      extra = { stats: r.stats, conflicts: r.conflicts, notes };
      return { bytes: encode(applyFraming(text, frame)), report: report(input, 'diff3', extra) };
    }
  }
}

/**
 * The json kind straight from bytes: each text is decoded when the merge
 * reads it and dropped after its parse, and the merged document is written
 * to bytes without a whole-document string (issue #2's memory goal).
 */
function mergeJsonBytes(input: MergeInput): MergeResult {
  const { base, ours, theirs } = input;
  if (!isText(ours) || !isText(theirs)) return brokenJsonSide(input) ?? wholeFile(input, 'binary or invalid UTF-8 content: whole-file last writer wins');
  const baseText = base !== null && isText(base) ? base : null;
  const notes = base !== null && baseText === null ? ['base is not text: merged as if both sides added the file'] : [];
  const frame = mergedFraming(baseText, ours, theirs);
  const read = (bytes: Uint8Array) => (): string => normalizeText(decodeText(bytes)!);
  // Without a BOM or CR, texts differ exactly when bytes do, and mergeFile's fast paths compared those.
  const plain = (b: Uint8Array | null): boolean => b === null || (b.indexOf(13) < 0 && !framingOf(b.subarray(0, 3)).bom);
  const distinct = base === baseText && plain(base) && plain(ours) && plain(theirs);
  const src = { base: baseText === null ? null : read(baseText), ours: read(ours), theirs: read(theirs), distinct, bytes: { ours, theirs, ...(baseText === null ? {} : { base: baseText }) } };
  const r = mergeJson(input.path, src, input.json ?? DEFAULT_JSON_OPTIONS, input.oursClock ?? {}, input.theirsClock ?? {});
  const extra = { stats: r.stats, conflicts: r.conflicts, collisions: r.collisions, notes: [...notes, ...r.notes] };
  const bytes = 'doc' in r ? jsonToBytes(r.doc, r.indent, r.newline, frame, Math.max(ours.length, theirs.length)) : encodeText(applyFraming(r.text, frame));
  return { bytes, report: report(input, r.method, extra) };
}

/**
 * One JSON side is not even valid UTF-8 (cut off inside a character by a
 * crashed writer) and the other parses: a side that does not parse never
 * replaces one that does (docs/merging.md). The valid side as it is; the
 * broken one, decoded with U+FFFD, in the conflict record. Null otherwise.
 */
function brokenJsonSide(input: MergeInput): MergeResult | null {
  const { ours, theirs } = input;
  if (isText(ours) === isText(theirs)) return null;
  const oursGood = isText(ours);
  const [good, bad] = oursGood ? [ours, theirs] : [theirs, ours];
  if (looksBinary(bad) || !parseJsonBytes(good).ok) return null;
  const [gc, bc] = oursGood ? [input.oursClock?.file, input.theirsClock?.file] : [input.theirsClock?.file, input.oursClock?.file];
  const conflict: Conflict = {
    path: input.path,
    key: '',
    winner: gc === undefined ? { value: decodeText(good)! } : { value: decodeText(good)!, clock: gc },
    loser: bc === undefined ? { value: Buffer.from(bad).toString('utf8') } : { value: Buffer.from(bad).toString('utf8'), clock: bc },
    rule: 'value',
  };
  const note = `${input.path}: one side is not valid UTF-8 JSON (cut off mid-write?); kept the side that parses, the broken text is in the conflict record (agentgit conflicts)`;
  return { bytes: good, report: report(input, 'structural', { conflicts: [conflict], notes: [note], stats: { conflicts: 1 } }) };
}

/** Whole-file last writer wins by file clock; equal clocks: the greater bytes. */
export function wholeFile(input: MergeInput, note: string): MergeResult {
  const oc = input.oursClock?.file;
  const tc = input.theirsClock?.file;
  const c = compareClocks(oc, tc);
  const oursWins = c > 0 || (c === 0 && compareBytes(input.ours, input.theirs) >= 0);
  const [win, lose] = oursWins ? [input.ours, input.theirs] : [input.theirs, input.ours];
  const [wc, lc] = oursWins ? [oc, tc] : [tc, oc];
  const show = (b: Uint8Array): string => decodeText(b) ?? `<${b.length} bytes, binary>`;
  const conflict: Conflict = {
    path: input.path,
    key: '',
    winner: wc === undefined ? { value: show(win) } : { value: show(win), clock: wc },
    loser: lc === undefined ? { value: show(lose) } : { value: show(lose), clock: lc },
    rule: c === 0 ? 'value' : 'clock',
  };
  return { bytes: win, report: report(input, 'whole-file', { conflicts: [conflict], notes: [note] }) };
}
