/**
 * Types shared by every merge function. The merge core is pure: bytes in,
 * bytes and a report out, no I/O, never throws.
 */

/** How a path is merged and whether it is synced at all. */
export type Kind = 'log' | 'json' | 'text' | 'binary' | 'local';

/**
 * A write clock: a string that sorts in time order. agentgit writes hybrid
 * logical clocks as `<wall ms, 13 digits>.<counter, 4 digits>.<instance>`
 * (see src/sync/hlc.ts); commit times passed by a caller use the same form
 * with counter 0000. Comparison is plain string comparison; a missing clock
 * sorts before every present one.
 */
export type Clock = string;

/** What the caller knows about when one side wrote the file. */
export interface SideClocks {
  /** Clock of the side's last write to the file as a whole (commit time or HLC). */
  file?: Clock;
  /**
   * Per-key write clocks for JSON, keyed by key path (see keyPath in json.ts):
   * `/tasks/@14/status`. The most specific recorded ancestor applies.
   */
  keys?: Record<string, Clock>;
}

/** Per-file JSON merge options, resolved from the policy. */
export interface JsonOptions {
  /** Keys that identify objects inside arrays, tried in order. */
  idKeys: string[];
  /** Key names (no slash) or key-path patterns (`/a/*\/b`) that take the maximum and never conflict. */
  volatile: string[];
  /** Key-path patterns whose numbers merge as base + both deltas. */
  counters: string[];
  /** Item fields that carry the item's own write time, tried in order. */
  timestampKeys: string[];
}

export interface MergeInput {
  path: string;
  kind: Kind;
  /** Common ancestor bytes; null when both sides added the file. */
  base: Uint8Array | null;
  ours: Uint8Array;
  theirs: Uint8Array;
  oursClock?: SideClocks;
  theirsClock?: SideClocks;
  json?: JsonOptions;
}

/** A value that lost a last-writer-wins race, kept so nothing is lost. */
export interface Conflict {
  path: string;
  /** JSON key path, `hunk@<line>` for text, `entry` for logs, `` for a whole file. */
  key: string;
  winner: { value: string; clock?: Clock };
  loser: { value: string; clock?: Clock };
  /** What decided the race. */
  rule: 'updated_at' | 'clock' | 'value' | 'max';
}

/** Two sides created different things under the same identity. */
export interface Collision {
  path: string;
  key: string;
  values: string[];
  resolution: string;
}

export interface MergeReport {
  path: string;
  kind: Kind;
  /** `fast` when one side equals base or both sides are equal. */
  method: 'fast' | 'union' | 'structural' | 'diff3' | 'whole-file';
  /** Counts that the summary line shows, e.g. entries added from each side. */
  stats: Record<string, number>;
  conflicts: Conflict[];
  collisions: Collision[];
  notes: string[];
}

export interface MergeResult {
  bytes: Uint8Array;
  report: MergeReport;
}
