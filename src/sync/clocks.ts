/**
 * Per-key write clocks, synced beside the data: the clocks of `PATH` live in
 * `.agentgit/clocks/PATH.clock` (the suffix keeps git from reading the clocks
 * of `.gitattributes` or `.gitignore` as attribute or ignore rules) as a flat JSON object `{ "<key path>": "<clock>" }`,
 * where key "" is the whole file. The clock files themselves merge by taking
 * the maximum of each key (they are `json` with every key volatile).
 */
import type { SideClocks } from '../merge/types.js';

export const CLOCK_DIR = '.agentgit/clocks/';

export const CLOCK_SUFFIX = '.clock';

export function clockPathFor(path: string): string {
  return CLOCK_DIR + path + CLOCK_SUFFIX;
}

export function isClockPath(path: string): boolean {
  return path.startsWith(CLOCK_DIR);
}

/** Parse a clock file; tolerant of anything (bad input gives no clocks). */
export function parseClockFile(bytes: Uint8Array | null): Record<string, string> {
  if (!bytes) return {};
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    const out: Record<string, string> = {};
    for (const [k, c] of Object.entries(v)) if (typeof c === 'string') out[k] = c;
    return out;
  } catch {
    return {};
  }
}

/** Canonical bytes of a clock file: keys sorted, one per line. */
export function formatClockFile(clocks: Record<string, string>): Uint8Array {
  const keys = Object.keys(clocks).sort();
  const body = keys.map((k) => `  ${JSON.stringify(k)}: ${JSON.stringify(clocks[k])}`).join(',\n');
  return Buffer.from(keys.length ? `{\n${body}\n}\n` : '{}\n', 'utf8');
}

/** SideClocks for the merge core, with `fallback` (a commit time) for the file. */
export function sideClocks(clocks: Record<string, string>, fallback: string): SideClocks {
  const file = clocks[''] ?? maxClock(Object.values(clocks)) ?? fallback;
  return { file, keys: clocks };
}

export function maxClock(cs: Iterable<string>): string | undefined {
  let m: string | undefined;
  for (const c of cs) if (m === undefined || c > m) m = c;
  return m;
}
