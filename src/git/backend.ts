/**
 * What this repository and this git can do, detected once when a repo is
 * opened (Repo.open / Repo.openAt), and the one choice made from it: are
 * the in-process fast paths on?
 *
 * The fast paths (git/objects.ts, git/tree.ts, in-process refs and commit
 * objects, the pack of a first commit) write and read what git would write
 * and read only for the layout they were proven on: SHA-1 object ids (20
 * bytes in trees, SHA-1 hashing), refs in files (loose refs and
 * packed-refs), a repository that is not a linked worktree. Anything else
 * (a SHA-256 repository, reftable, a worktree, a config only git can read)
 * goes through git for every operation: slower, never wrong.
 *
 * The detection needs no process in the common case (the repository's own
 * config file read in-process); when that file holds what only git can
 * read (includes), git answers, and the fast paths stay off.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseGitConfig } from './config.js';
import { gitText } from './exec.js';

export type ObjectFormat = 'sha1' | 'sha256';
export type RefStorage = 'files' | 'reftable';

export interface Capabilities {
  /** The engine every operation goes through (the only one so far). */
  engine: 'git CLI';
  objectFormat: ObjectFormat;
  refStorage: RefStorage;
  /** Whether the in-process fast paths are used (see the header). */
  fastPaths: boolean;
  /** Why they are on or off, for `agentgit doctor`. */
  why: string;
}

/** Object ids of each format: the all-zero id and the empty tree's id. */
const IDS: Record<ObjectFormat, { hexLength: number; zero: string; emptyTree: string }> = {
  sha1: { hexLength: 40, zero: '0'.repeat(40), emptyTree: '4b825dc642cb6eb9a060e54bf8d69288fbee4904' },
  sha256: { hexLength: 64, zero: '0'.repeat(64), emptyTree: '6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321' },
};

export function zeroOidOf(format: ObjectFormat): string {
  return IDS[format].zero;
}

export function emptyTreeOf(format: ObjectFormat): string {
  return IDS[format].emptyTree;
}

/** An object id of any format git knows (40 or 64 lowercase hex digits). */
export const OID = '(?:[0-9a-f]{40}|[0-9a-f]{64})';

/** An all-zero id of either format (git's "no object"). */
export function isZeroOid(oid: string): boolean {
  return /^0{40}$|^0{64}$/.test(oid);
}

/** Repository extensions the fast paths are proven under (others, e.g. compatObjectFormat, turn them off). */
const KNOWN_EXTENSIONS = new Set(['extensions.objectformat', 'extensions.refstorage', 'extensions.worktreeconfig', 'extensions.noop', 'extensions.partialclone', 'extensions.preciousobjects']);

/** The fast paths' choice from what was found; `otherExtensions`: `extensions.*` settings not in KNOWN_EXTENSIONS. */
export function choose(objectFormat: ObjectFormat, refStorage: RefStorage, linkedWorktree: boolean, configReadable: boolean, otherExtensions: string[] = []): Capabilities {
  const off: string[] = [];
  if (objectFormat !== 'sha1') off.push(`object format ${objectFormat} (the in-process objects are SHA-1 only)`);
  if (refStorage !== 'files') off.push(`ref storage ${refStorage} (the in-process refs read files only)`);
  if (linkedWorktree) off.push('a linked worktree (objects and refs live in the main repository)');
  if (!configReadable) off.push('.git/config holds what only git reads (an include)');
  if (otherExtensions.length > 0) off.push(`${otherExtensions.join(', ')} (not proven with the in-process objects)`);
  const fastPaths = off.length === 0;
  return { engine: 'git CLI', objectFormat, refStorage, fastPaths, why: fastPaths ? 'object format sha1, refs in files' : off.join('; ') };
}

/**
 * The capabilities read from the repository's files alone (no process):
 * `found` false when its config is unreadable here or names what only git
 * knows; then `caps` has the fast paths off.
 */
export function capabilitiesFromFiles(gitDir: string): { found: boolean; caps: Capabilities; common: string; linked: boolean } {
  let common = gitDir;
  let linked = false;
  try {
    common = resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim());
    linked = true;
  } catch {
    /* no commondir: the main repository */
  }
  let pairs: Array<[string, string]> | null = null;
  try {
    pairs = parseGitConfig(readFileSync(join(common, 'config'), 'utf8'));
  } catch {
    pairs = null; // unreadable here: git answers
  }
  if (pairs) {
    const cfg = new Map(pairs);
    const format = (cfg.get('extensions.objectformat') ?? 'sha1').toLowerCase();
    const refs = (cfg.get('extensions.refstorage') ?? (existsSync(join(common, 'reftable')) ? 'reftable' : 'files')).toLowerCase();
    const others = [...cfg.keys()].filter((k) => k.startsWith('extensions.') && !KNOWN_EXTENSIONS.has(k));
    if ((format === 'sha1' || format === 'sha256') && (refs === 'files' || refs === 'reftable')) return { found: true, caps: choose(format, refs, linked, true, others), common, linked };
  }
  return { found: false, caps: choose('sha1', 'files', linked, false), common, linked };
}

/**
 * Detect the capabilities of the repository at `gitDir` (its git dir,
 * absolute); `cwd` is its work tree, for git when git must answer.
 */
export async function detectCapabilities(gitDir: string, cwd: string): Promise<Capabilities> {
  const fromFiles = capabilitiesFromFiles(gitDir);
  if (fromFiles.found) return fromFiles.caps;
  const { common, linked } = fromFiles;
  // git says (and the fast paths stay off unless everything is as proven)
  const format = (await gitText(['rev-parse', '--show-object-format'], { cwd }).catch(() => 'sha1')) === 'sha256' ? 'sha256' : 'sha1';
  const reftable = existsSync(join(common, 'reftable')) || (await gitText(['config', '--get', 'extensions.refstorage'], { cwd }).catch(() => '')).toLowerCase() === 'reftable';
  return choose(format, reftable ? 'reftable' : 'files', linked, false);
}

/** `git --version`'s numbers, or null when git cannot be run (asked once per process, only by those who need it). */
let versionAsked: Promise<string | null> | null = null;
export function gitVersion(): Promise<string | null> {
  versionAsked ??= gitText(['--version'], { cwd: '/' })
    .then((v) => /(\d+\.\d+(?:\.\d+)?)/.exec(v)?.[1] ?? null)
    .catch(() => null);
  return versionAsked;
}
