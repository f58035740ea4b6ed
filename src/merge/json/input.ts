/**
 * Reading the three versions of a JSON merge: lossless parsing (JSON.parse
 * only for a document too deep for the parser), each side's format, and
 * duplicate keys reported.
 */
import type { Json, JsonObject, JsonSources } from '../json.js';
import { indentOfBytes, parseJsonBytes, type DuplicateKey } from '../json-parse.js';
import { side } from '../util.js';
import { canon, DEPTH_LIMIT, isArr, isObj, shareUnchanged } from './value.js';
import { keySeg } from './paths.js';
import type { State } from './state.js';

/** Parse a text losslessly (json-parse.ts); JSON.parse only for a document too deep for that parser's recursion. */
export function parse(text: string, guide?: Json): { ok: true; value: Json; lossy?: true; dups?: DuplicateKey[]; opaque?: true } | { ok: false } {
  try {
    return parseJsonBytes(Buffer.from(text, 'utf8'), guide);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
  }
  try {
    return { ok: true, value: JSON.parse(text) as Json, lossy: true };
  } catch {
    return { ok: false };
  }
}

/**
 * True when JSON.parse changes the text of a number in `text`: a number
 * outside strings whose text a double does not give back (a lossy read
 * rewrites it). Flat scan, no recursion.
 */
export function rewritesNumbers(text: string): boolean {
  const re = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const t = m[0];
    if (t.charCodeAt(0) !== 34 && String(Number(t)) !== t) return true;
  }
  return false;
}

/** Indentation unit of a JSON text: '' for minified, null when the text does not tell. */
export function detectIndent(text: string): string | null {
  const trimmed = text.trim();
  if (!trimmed.includes('\n')) {
    // `{}`, `[]` or a scalar say nothing about how the file is formatted.
    return /^[[{]/.test(trimmed) && !/^[[{]\s*[\]}]$/.test(trimmed) ? '' : null;
  }
  const m = /\n([ \t]+)\S/.exec(trimmed);
  if (!m) return null;
  const ws = m[1]!;
  return ws.startsWith('\t') ? '\t' : ' '.repeat(Math.min(ws.length, 10));
}

/** What a side's text says about its format; `indent` null when it does not tell. */
interface TextFormat {
  indent: string | null;
  newline: boolean;
}

function formatOf(text: string): TextFormat {
  return { indent: detectIndent(text), newline: text.endsWith('\n') };
}

function chooseFormat(base: TextFormat | null, ours: TextFormat, theirs: TextFormat): { indent: string; newline: boolean } {
  const io = ours.indent;
  const it = theirs.indent;
  const ib = base === null ? null : base.indent;
  const indent = io !== null && io === it ? io : (ib ?? (io === null ? it : it === null ? io : null) ?? '  ');
  const no = ours.newline;
  const nt = theirs.newline;
  const newline = no === nt ? no : base !== null ? base.newline : true;
  return { indent, newline };
}

export interface Docs {
  b: Json | undefined;
  o: Json;
  t: Json;
  fmt: { indent: string; newline: boolean };
  notes: string[];
  /** Duplicate keys in each side (the earlier occurrence was dropped). */
  dups: { o: DuplicateKey[]; t: DuplicateKey[] };
}

/**
 * Parse base, then each side with its unchanged subtrees replaced by the
 * base's own (shareUnchanged): the copies become garbage, and `same()` on an
 * unchanged subtree is one reference compare (most of a big document).
 */
export function parseDocs(src: JsonSources): Docs | { fallback: string } | { broken: 'o' | 't' } {
  const notes: string[] = [];
  let b: Json | undefined;
  let bf: TextFormat | null = null;
  if (src.base !== null) {
    // Losslessly, like the sides: a number's text must compare equal to the same text in a side.
    const bytes = src.bytes?.base;
    let pb: ReturnType<typeof parse> | null = null;
    if (bytes !== undefined) {
      try {
        pb = parseJsonBytes(bytes);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
      if (pb?.ok === true) bf = { indent: indentOfBytes(bytes), newline: bytes[bytes.length - 1] === 10 };
    }
    if (pb === null) {
      const text = src.base();
      pb = parse(text);
      if (pb.ok) bf = formatOf(text);
    }
    if (pb.ok) b = pb.value;
    else notes.push('base does not parse as JSON (e.g. conflict markers from a virtual ancestor); merged as if both sides added the file');
  }
  let longNumbers = false;
  const side = (read: () => string, bytes: Uint8Array | undefined): { parsed: ReturnType<typeof parse>; fmt: TextFormat } => {
    if (bytes !== undefined) {
      let parsed: ReturnType<typeof parse> | null = null;
      try {
        parsed = parseJsonBytes(bytes, b);
      } catch (e) {
        if (!(e instanceof RangeError)) throw e; // nested too deep for its recursion: JSON.parse decides, as before
      }
      if (parsed !== null) return { parsed, fmt: { indent: indentOfBytes(bytes), newline: bytes[bytes.length - 1] === 10 } };
    }
    const text = read();
    const parsed = parse(text, b);
    if (parsed.ok && parsed.lossy === true) {
      if (b !== undefined) parsed.value = shareUnchanged(b, parsed.value);
      longNumbers ||= rewritesNumbers(text);
    }
    return { parsed, fmt: formatOf(text) };
  };
  const so = side(src.ours, src.bytes?.ours);
  const st = side(src.theirs, src.bytes?.theirs);
  const po = so.parsed;
  const pt = st.parsed;
  if (po.ok !== pt.ok) return { broken: po.ok ? 't' : 'o' };
  if (!po.ok || !pt.ok) {
    const which = !po.ok && !pt.ok ? 'neither side parses' : !po.ok ? 'ours does not parse' : 'theirs does not parse';
    return { fallback: `${which} as JSON; whole file, last writer wins` };
  }
  if (po.opaque === true || pt.opaque === true) notes.push(`nested deeper than ${DEPTH_LIMIT} levels: each subtree below that depth merged as one value (different edits inside one race as a unit, reported)`);
  if (longNumbers) notes.push('a document nested too deep for the lossless parser was read with JSON.parse: numbers whose text a 64-bit float does not give back (big integers, 1e400, -0, 1.0) are written as the float reads them');
  return { b, o: po.value, t: pt.value, fmt: chooseFormat(bf, so.fmt, st.fmt), notes, dups: { o: po.dups ?? [], t: pt.dups ?? [] } };
}

/** Key path of every object of a document (index segments in arrays), found without recursion. */
function objectPaths(doc: Json, wanted: ReadonlySet<JsonObject>): Map<JsonObject, string> {
  const found = new Map<JsonObject, string>();
  const stack: [Json, string][] = [[doc, '']];
  while (stack.length > 0 && found.size < wanted.size) {
    const [v, p] = stack.pop()!;
    if (isArr(v)) v.forEach((el, i) => stack.push([el, p + '/' + String(i)]));
    else if (isObj(v)) {
      if (wanted.has(v)) found.set(v, p);
      for (const k of Object.keys(v)) stack.push([v[k]!, p + keySeg(k)]);
    }
  }
  return found;
}

/**
 * A key twice in one object: the last occurrence is the value (as JSON.parse
 * reads it); the dropped one goes to the conflict record, so an edit made to
 * either occurrence is never lost silently, and a note names the key.
 */
export function reportDuplicates(S: State, doc: Json, dups: readonly DuplicateKey[]): void {
  if (dups.length === 0) return;
  const paths = objectPaths(doc, new Set(dups.map((d) => d.object)));
  for (const d of dups) {
    const key = (paths.get(d.object) ?? '') + keySeg(d.key);
    S.notes.push(`${key}: the key occurs more than once in one object; kept the last occurrence, the earlier one is in the conflict record: remove the duplicate`);
    S.conflicts.push({ path: S.file, key, winner: side(canon(d.object[d.key]!), undefined), loser: side(canon(d.dropped), undefined), rule: 'value' });
  }
}
