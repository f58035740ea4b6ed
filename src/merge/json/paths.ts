/**
 * Key paths (`/tasks/@14/status`, RFC 6901 escapes), the key-name and
 * key-path patterns of `volatile` and `counters`, and item locations (the
 * key of move plans, independent of where an item sits).
 */
import type { Id } from './ids.js';
import { identityOf } from './ids.js';

/** Escape one key-path segment (RFC 6901: `~` -> `~0`, `/` -> `~1`). */
export function escapeSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function keySeg(k: string): string {
  return '/' + escapeSegment(k);
}

export function idSeg(id: string | number | bigint): string {
  return '/@' + escapeSegment(String(id));
}

function segmentsOf(p: string): string[] {
  return p === '' ? [] : p.slice(1).split('/');
}

/** Key-name and key-path pattern matcher for `volatile` and `counters`. */
export class PathMatcher {
  private readonly names = new Set<string>();
  private readonly patterns: string[][] = [];
  constructor(entries: readonly string[]) {
    for (const e of entries) {
      if (e.startsWith('/')) this.patterns.push(segmentsOf(e));
      else this.names.add(e);
    }
  }
  get empty(): boolean {
    return this.names.size === 0 && this.patterns.length === 0;
  }
  /** True when a path below `path` may match (the value at `path` may contain a match). */
  mayContain(path: string): boolean {
    if (this.names.size > 0) return true;
    if (this.patterns.length === 0) return false;
    const segs = segmentsOf(path);
    return this.patterns.some((p) => p.length > segs.length && segs.every((s, i) => p[i] === '*' || p[i] === s));
  }
  /** `key` is the object key the value sits under (undefined for array items and the root). */
  matches(path: string, key: string | undefined): boolean {
    if (key !== undefined && (this.names.has('*') || this.names.has(key))) return true;
    if (this.patterns.length === 0) return false;
    const segs = segmentsOf(path);
    return this.patterns.some((p) => p.length === segs.length && p.every((s, i) => s === '*' || s === segs[i]));
  }
}

/**
 * Location of an item, independent of where it sits: `#<escaped identity>`.
 * A value inside it is `#<identity>/<keys>`; outside every item, its path.
 * Move plans and the no-shortcut set are keyed by location, so a plan for a
 * subtask list still applies when the task holding it moved too.
 */
export function itemLoc(idKey: string, id: Id): string {
  return '#' + escapeSegment(identityOf(idKey, id));
}

/** The enclosing location inside the same item (or path), null at an item or the root. */
export function parentLoc(loc: string): string | null {
  const i = loc.lastIndexOf('/');
  return i < 0 ? (loc === '' || loc.startsWith('#') ? null : '') : loc.slice(0, i);
}
