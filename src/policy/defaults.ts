/**
 * The default layer policy, fitted to an OpenClaw-style workspace
 * (see docs/merging.md). First matching rule wins; user rules in
 * `.agentgit/config.json` are checked before these.
 */
import type { Kind } from '../merge/types.js';

export interface LayerRule {
  pattern: string;
  kind: Kind;
  /** Why the rule exists; shown by `agentgit status` and in docs. */
  layer?: 'identity' | 'secret' | 'derived' | 'ephemeral' | 'memory' | 'state' | 'docs' | 'internal';
  counters?: string[];
  volatile?: string[];
}

/** Never committed, and a file matching these is held by the secret guard. */
export const DEFAULT_SECRET_GLOBS = [
  '.env',
  '.env.*',
  '**/*.key',
  '**/*.pem',
  '**/id_rsa*',
  '**/id_ed25519*',
  '**/id_ecdsa*',
  '**/secrets*',
  '.secrets/',
  '**/*wallet*.json',
  'credentials/',
  'identity/',
  '**/auth-profiles.json',
];

/** agentgit's own synced metadata: always checked first, user rules cannot change it. */
export const INTERNAL_LAYERS: LayerRule[] = [
  { pattern: '.agentgit/config.json', kind: 'json', layer: 'internal' },
  { pattern: '.agentgit/clocks/**', kind: 'json', layer: 'internal', volatile: ['*'] },
  { pattern: '.agentgit/conflicts.jsonl', kind: 'log', layer: 'internal' },
  { pattern: '.agentgit/allowed_signers', kind: 'log', layer: 'internal' },
  { pattern: '.gitattributes', kind: 'text', layer: 'internal' },
  { pattern: '.gitignore', kind: 'text', layer: 'internal' },
  // agentgit's own short-lived files in the work tree (atomic writes)
  { pattern: '.agentgit-tmp-*', kind: 'local', layer: 'ephemeral' },
  { pattern: '*.agentgit-hold-*', kind: 'local', layer: 'ephemeral' },
];

export const DEFAULT_LAYERS: LayerRule[] = [
  // secrets never leave the machine
  ...DEFAULT_SECRET_GLOBS.map((pattern): LayerRule => ({ pattern, kind: 'local', layer: 'secret' })),
  // derived: rebuilt, never synced
  { pattern: 'memory/.dreams/', kind: 'local', layer: 'derived' },
  { pattern: '*.sqlite', kind: 'local', layer: 'derived' },
  { pattern: '*.sqlite-*', kind: 'local', layer: 'derived' },
  { pattern: '*.sqlite3', kind: 'local', layer: 'derived' },
  { pattern: '*.db', kind: 'local', layer: 'derived' },
  { pattern: 'node_modules/', kind: 'local', layer: 'derived' },
  { pattern: 'venv/', kind: 'local', layer: 'derived' },
  { pattern: '.venv/', kind: 'local', layer: 'derived' },
  { pattern: '__pycache__/', kind: 'local', layer: 'derived' },
  // ephemeral: per-process, never synced
  { pattern: '*.lock', kind: 'local', layer: 'ephemeral' },
  { pattern: '*.tmp', kind: 'local', layer: 'ephemeral' },
  { pattern: '*.swp', kind: 'local', layer: 'ephemeral' },
  { pattern: '*~', kind: 'local', layer: 'ephemeral' },
  { pattern: 'sessions/', kind: 'local', layer: 'ephemeral' },
  { pattern: '.DS_Store', kind: 'local', layer: 'ephemeral' },
  // per-host scheduler state: syncing it makes every instance run every job
  { pattern: 'cron/jobs.json', kind: 'local', layer: 'ephemeral' },
  // memory: append-only logs
  { pattern: 'memory/**/*.md', kind: 'log', layer: 'memory' },
  { pattern: 'memory/HISTORY.md', kind: 'log', layer: 'memory' },
  { pattern: '**/*.jsonl', kind: 'log', layer: 'memory' },
  // structured state
  { pattern: '**/*.json', kind: 'json', layer: 'state' },
  // everything else is a curated doc (binary content is detected per file)
  { pattern: '*', kind: 'text', layer: 'docs' },
];

// the merge's own defaults (merge/ imports nothing above it); the policy starts from them
export { DEFAULT_JSON, DEFAULT_MAX_MERGE_BYTES } from '../merge/defaults.js';
/** Files larger than this are held (not committed) with a message; see docs/merging.md. */
export const DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024;
/** Directories deep an incoming tree may go; deeper is refused (docs/security.md, "Hostile trees"). */
export const DEFAULT_MAX_TREE_DEPTH = 64;
