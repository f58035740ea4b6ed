/**
 * A merged JSON document straight to UTF-8 bytes, without the whole-document
 * string that `JSON.stringify` builds (and grows by copying): on a 6 MB file
 * that string and its copies are most of the merge's peak memory (issue #2).
 *
 * The bytes are exactly `applyFraming(JSON.stringify(value, null, indent) +
 * (newline ? '\n' : ''), framing)`, encoded as UTF-8; test/merge/json-bytes.test.ts
 * checks that on generated documents.
 */
import type { Json } from './json.js';
import type { Framing } from './util.js';
import { LosslessNumber, OpaqueJson } from './json/value.js';

const encoder = new TextEncoder();
/** Characters gathered before they are encoded into the output. */
const FLUSH_AT = 1 << 15;

class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;
  private parts: string[] = [];
  private pending = 0;

  constructor(sizeHint: number) {
    // allocUnsafe: pages the document never reaches are never touched, so
    // they never count against the process's memory.
    this.buf = Buffer.allocUnsafe(Math.max(4096, Math.ceil(sizeHint * 1.125) + 1024));
  }

  push(s: string): void {
    this.parts.push(s);
    this.pending += s.length;
    if (this.pending >= FLUSH_AT) this.flush();
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    const s = this.parts.join('');
    this.parts = [];
    this.pending = 0;
    // A UTF-16 code unit becomes at most 3 UTF-8 bytes.
    if (this.buf.length - this.pos < s.length * 3) this.grow(s.length * 3);
    this.pos += encoder.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + need));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  bytes(): Uint8Array {
    this.flush();
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * `value` serialised like `JSON.stringify(value, null, indent)`, plus a final
 * newline when `newline`, with the file's framing (BOM, CRLF) applied, as
 * UTF-8 bytes. `sizeHint`: the expected size in bytes (a side's size).
 */
export function jsonToBytes(value: Json, indent: string, newline: boolean, framing: Framing, sizeHint: number): Uint8Array {
  const w = new ByteWriter(sizeHint);
  if (framing.bom) w.push('\uFEFF');
  const jw = new JsonWriter(w, indent, framing.eol);
  jw.start(value, 0);
  while (jw.stack.length > 0) jw.step();
  if (newline) w.push(framing.eol);
  return w.bytes();
}

/** A container being written: its members still to come. */
interface Open {
  close: string;
  open: string;
  arr: Json[] | null;
  obj: Record<string, Json> | null;
  keys: string[];
  i: number;
  first: boolean;
}

/** Writes a value member by member with an explicit stack, not recursion: a document nested thousands deep is written too. */
class JsonWriter {
  readonly stack: Open[] = [];
  private readonly pads: string[] = [''];
  private readonly colon: string;
  constructor(
    private readonly w: ByteWriter,
    private readonly indent: string,
    private readonly eol: string,
  ) {
    this.colon = indent === '' ? ':' : ': ';
  }

  private pad(depth: number): string {
    return (this.pads[depth] ??= this.pad(depth - 1) + this.indent);
  }

  /** Write a scalar, or open a container (pushed on the stack). */
  start(v: Json | undefined, depth: number): void {
    const w = this.w;
    if (v === null || v === undefined) return w.push('null');
    if (v instanceof LosslessNumber || v instanceof OpaqueJson) return w.push(v.text); // its source text, verbatim
    switch (typeof v) {
      case 'string':
        return w.push(JSON.stringify(v));
      case 'number':
        return w.push(Number.isFinite(v) ? String(v) : 'null');
      case 'boolean':
        return w.push(v ? 'true' : 'false');
    }
    // A newline and the indentation before each member; none when minified.
    const open = this.indent === '' ? '' : this.eol + this.pad(depth + 1);
    const close = this.indent === '' ? '' : this.eol + this.pad(depth);
    if (Array.isArray(v)) {
      if (v.length === 0) return w.push('[]');
      w.push('[');
      this.stack.push({ close: close + ']', open, arr: v, obj: null, keys: [], i: 0, first: true });
      return;
    }
    this.stack.push({ close: close + '}', open, arr: null, obj: v, keys: Object.keys(v), i: 0, first: true });
  }

  /** Write the next member of the innermost open container, or close it. */
  step(): void {
    const f = this.stack[this.stack.length - 1]!;
    const depth = this.stack.length;
    if (f.arr !== null) {
      if (f.i >= f.arr.length) {
        this.stack.pop();
        this.w.push(f.close);
        return;
      }
      this.w.push(f.i === 0 ? f.open : ',' + f.open);
      this.start(f.arr[f.i++], depth);
      return;
    }
    let m: Json | undefined;
    let k = '';
    while (f.i < f.keys.length && (m = f.obj![(k = f.keys[f.i++]!)]) === undefined);
    if (m === undefined) {
      this.stack.pop();
      this.w.push(f.first ? '{}' : f.close);
      return;
    }
    this.w.push((f.first ? '{' : ',') + f.open + JSON.stringify(k) + this.colon);
    f.first = false;
    this.start(m, depth);
  }
}
