/** Small pure helpers shared by the merge kinds. */
import { isUtf8 } from 'node:buffer';
import type { Clock, Conflict } from './types.js';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** True when the bytes look binary: a NUL byte in the first 8000 bytes (git's rule). */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8000);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

/** True when the bytes are valid UTF-8 and do not look binary: what decodeText accepts, without decoding. */
export function isText(bytes: Uint8Array): boolean {
  return !looksBinary(bytes) && isUtf8(bytes);
}

/** Decode strict UTF-8; null when the bytes are not valid UTF-8 or look binary. */
export function decodeText(bytes: Uint8Array): string | null {
  if (looksBinary(bytes)) return null;
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

export function encodeText(s: string): Uint8Array {
  return encoder.encode(s);
}

export function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compare two byte strings: negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Compare clocks; a missing clock sorts first. */
export function compareClocks(a: Clock | undefined, b: Clock | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The text framing of a file: BOM and line-ending style, restored after a merge. */
export interface Framing {
  bom: boolean;
  eol: '\n' | '\r\n';
}

/** The framing of a text, or of its UTF-8 bytes (the same answer, without decoding). */
export function framingOf(x: string | Uint8Array): Framing {
  let lf = 0;
  let crlf = 0;
  let bom: boolean;
  if (typeof x === 'string') {
    bom = x.startsWith('\uFEFF');
    for (let i = x.indexOf('\n'); i >= 0; i = x.indexOf('\n', i + 1)) {
      if (i > 0 && x.charCodeAt(i - 1) === 13) crlf++;
      else lf++;
    }
  } else {
    bom = x[0] === 0xef && x[1] === 0xbb && x[2] === 0xbf;
    for (let i = x.indexOf(10); i >= 0; i = x.indexOf(10, i + 1)) {
      if (i > 0 && x[i - 1] === 13) crlf++;
      else lf++;
    }
  }
  return { bom, eol: crlf > 0 && crlf >= lf ? '\r\n' : '\n' };
}

/** Strip BOM, turn CRLF into LF. */
export function normalizeText(text: string): string {
  return (text.startsWith('\uFEFF') ? text.slice(1) : text).replace(/\r\n/g, '\n');
}

export function applyFraming(text: string, f: Framing): string {
  const body = f.eol === '\r\n' ? text.replace(/\n/g, '\r\n') : text;
  return f.bom ? '\uFEFF' + body : body;
}

/**
 * The framing of a merge result, independent of which side is ours: the
 * base's when present, else the sides' when they agree, else plain LF.
 */
export function mergedFraming(base: string | Uint8Array | null, ours: string | Uint8Array, theirs: string | Uint8Array): Framing {
  if (base !== null && base.length > 0) return framingOf(base);
  const a = framingOf(ours);
  const b = framingOf(theirs);
  return { bom: a.bom && b.bom, eol: a.eol === b.eol ? a.eol : '\n' };
}

/**
 * Split text into lines keeping each line's terminator, so joining them
 * gives the text back exactly. The last line may lack a newline.
 */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const i = text.indexOf('\n', start);
    if (i < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
}

/**
 * Decide a last-writer-wins race between two values, independent of which
 * side is ours: the later clock wins; on equal clocks the greater value
 * (by code-unit order) wins.
 */
export function pickWinner(
  a: { value: string; clock?: Clock },
  b: { value: string; clock?: Clock },
): { winner: { value: string; clock?: Clock }; loser: { value: string; clock?: Clock }; rule: Conflict['rule'] } {
  const c = compareClocks(a.clock, b.clock);
  if (c !== 0) return c > 0 ? { winner: a, loser: b, rule: 'clock' } : { winner: b, loser: a, rule: 'clock' };
  const v = a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  return v >= 0 ? { winner: a, loser: b, rule: 'value' } : { winner: b, loser: a, rule: 'value' };
}

/** Strip a clock down to its fields for the report (drop undefined). */
export function side(value: string, clock: Clock | undefined): { value: string; clock?: Clock } {
  return clock === undefined ? { value } : { value, clock };
}

/** Conflict markers that must never be written into an agent's file. */
export const MARKER_RE = /^(<{7}|={7}|>{7}|\|{7})( |$)/m;
