/**
 * Which paths an incoming tree may hold, and the check of every new tree a
 * fetch or clone brings (docs/security.md, "Hostile
 * trees"). A tree from the hub or another instance is hostile until this
 * passes: a commit that breaks a rule is refused like a forged one.
 *
 * The rules are git's own (`verify_path`, fsck's tree checks, with the
 * NTFS and HFS+ spellings of `.git` that core.protectNTFS/protectHFS know),
 * plus agentgit's:
 * - no gitlink (a submodule would be a second repo agentgit never syncs);
 * - no symlink where agentgit writes itself (`.gitignore`, `.gitattributes`,
 *   `.gitmodules`, `.mailmap` in any directory; anything under `.agentgit/`);
 * - no entry beneath a symlink: no name twice in a tree, no two names a
 *   case-folding file system would make one when one of them is a symlink;
 * - a depth, a name and a path length the file system can hold, and blobs
 *   no larger than the policy's maxFileBytes.
 *
 * `checkPath` is the pure rule for one path; `checkNewTrees` walks the trees
 * of incoming commits, reading only the subtrees that differ from their
 * parents' (already verified) trees, so an ordinary round reads a few trees.
 */
import type { Repo } from './repo.js';

/** What the tree checks read: objects, trees of commits, object sizes, history walks (a Repo). */
type TreeSource = Pick<Repo, 'objects' | 'treeOf' | 'objectInfo' | 'walk'>;
import { parseTree } from './tree.js';

export interface TreeLimits {
  /** Directories deep, the file's own name not counted (a/b/c is depth 2). */
  maxDepth: number;
  /** Largest blob an incoming commit may bring. */
  maxBlobBytes: number;
}

/** The limits a policy sets (its maxTreeDepth and maxFileBytes). */
export function treeLimitsOf(cfg: { maxTreeDepth: number; maxFileBytes: number }): TreeLimits {
  return { maxDepth: cfg.maxTreeDepth, maxBlobBytes: cfg.maxFileBytes };
}
/** Linux NAME_MAX and PATH_MAX: longer names cannot be written at all. */
const MAX_NAME_BYTES = 255;
const MAX_PATH_BYTES = 4095;

const TREE = '40000';
const MODES = new Set(['100644', '100755', '100664', '120000', TREE, '040000']);

/** HFS+ ignores these code points in names (git's is_hfs_dotgit): their UTF-8 bytes, as latin1. */
const HFS_IGNORABLE = /\xe2\x80[\x8c-\x8f\xaa-\xae]|\xe2\x81[\xaa-\xaf]|\xef\xbb\xbf/g;

/** The name as NTFS/HFS+ would see it, for comparisons with `.git` and friends: ASCII lower case, HFS ignorables dropped. */
function folded(name: string): string {
  return name.replace(HFS_IGNORABLE, '').replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** `.git`, or what NTFS or HFS+ open as `.git` (`.GIT`, `.git.`, `.git ::$DATA`, `git~1`, `.g\u200cit`). */
function isDotGit(latin1: string): boolean {
  const f = folded(latin1);
  if (f === '.git') return true;
  // git's is_ntfs_dotgit: `.git` or `git~1`, then dots and spaces, then the end or ':'
  return /^(\.git|git~1)[. ]*(:|$)/.test(latin1.toLowerCase());
}

/** Names whose symlink git refuses (fsck: gitmodulesSymlink, gitattributesSymlink, gitignoreSymlink, mailmapSymlink), in every spelling. */
function isGitSpecialFile(latin1: string): boolean {
  const f = folded(latin1).replace(/[. ]+$/, '').replace(/:.*$/, '');
  return ['.gitmodules', '.gitattributes', '.gitignore', '.mailmap'].includes(f) || /^(gitmod|gi7eba|gitatt|gi7d29|gitign|gi250a|maimap|maba30)~[1-9]/.test(f);
}

/**
 * Why one name (a tree entry's raw bytes as a latin1 string) may not be
 * written, or null. `dir`: the directory it sits in ('' for the top, else
 * with a trailing '/'), as latin1.
 */
export function checkName(latin1: string, mode: string, dir = ''): string | null {
  if (latin1 === '') return 'it has an empty name';
  if (latin1 === '.' || latin1 === '..') return `it has a "${latin1}" component`;
  if (latin1.includes('/')) return 'its name holds a "/"';
  if (latin1.includes('\0')) return 'its name holds a NUL byte';
  if (latin1.includes('\\')) return 'its name holds a backslash (a directory separator on Windows)';
  if (isDotGit(latin1)) return 'it is (or a case-insensitive file system opens it as) .git';
  if (latin1.length > MAX_NAME_BYTES) return `its name is longer than ${MAX_NAME_BYTES} bytes`;
  if ((dir + latin1).length > MAX_PATH_BYTES) return `the path is longer than ${MAX_PATH_BYTES} bytes`;
  if (mode === '160000') return 'it is a gitlink (a submodule): agentgit syncs one repository, never submodules';
  if (!MODES.has(mode)) return `it has an unknown file mode ${mode}`;
  if (mode === '120000') {
    if (isGitSpecialFile(latin1)) return `it is a symbolic link named ${latin1}: git and agentgit read this file, so it must be a regular file`;
    if (folded(dir).startsWith('.agentgit/') || (dir === '' && folded(latin1).replace(/[. ]+$/, '') === '.agentgit')) {
      return 'it is a symbolic link among agentgit\'s own files (.agentgit/): agentgit writes these, so they must be regular files';
    }
  }
  return null;
}

/** Why a whole path (UTF-8 text, '/' separated) may not be written, or null. `mode` is the entry's (git's octal, e.g. 100644). */
export function checkPath(path: string, mode: string): string | null {
  if (path === '') return 'it has an empty path';
  if (path.startsWith('/')) return 'it is an absolute path';
  const parts = Buffer.from(path, 'utf8').toString('latin1').split('/');
  let dir = '';
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const why = checkName(parts[i]!, last ? mode : TREE, dir);
    if (why) return why;
    dir += parts[i] + '/';
  }
  return null;
}

export interface TreeProblem {
  /** The offending path (UTF-8 text; invalid bytes replaced). */
  path: string;
  reason: string;
}

interface PendingBlob {
  oid: string;
  path: string;
  link: boolean;
}

/**
 * Check the trees of incoming commits. `commits` in an order where parents
 * come first (git log --reverse --topo-order); a commit's subtrees equal to
 * a parent's at the same path are taken as checked (the parent is ours, or
 * was checked just before). Returns the first problem of each bad commit.
 */
export async function checkNewTrees(
  repo: TreeSource,
  commits: { oid: string; parents: string[] }[],
  limits: TreeLimits,
  timeoutMs?: number,
): Promise<Map<string, TreeProblem>> {
  const problems = new Map<string, TreeProblem>();
  /** `oid\0dir` of subtrees found good where they stand. */
  const good = new Set<string>();
  // a commit's trees are read again as its children's bases: keep the recent ones
  const cache = new Map<string, ReturnType<typeof parseTree>>();
  const read = async (oid: string): Promise<ReturnType<typeof parseTree>> => {
    const hit = cache.get(oid);
    if (hit) return hit;
    const buf = await repo.objects.read(oid);
    if (!buf) throw new Error(`tree ${oid} is missing; run \`git fsck\``);
    const entries = parseTree(buf, oid.length / 2); // SHA-1 or SHA-256 ids, as the tree's own
    if (cache.size >= 4096) cache.delete(cache.keys().next().value!);
    cache.set(oid, entries);
    return entries;
  };
  const utf8 = (latin1: string): string => Buffer.from(latin1, 'latin1').toString('utf8');
  const blobs = new Map<string, PendingBlob[]>(); // by commit
  for (const c of commits) {
    const tree = await repo.treeOf(c.oid);
    if (!tree) {
      problems.set(c.oid, { path: '', reason: 'its tree cannot be read' });
      continue;
    }
    const bases = (await Promise.all(c.parents.map((p) => repo.treeOf(p)))).filter((t): t is string => t !== null);
    const mine: PendingBlob[] = [];
    const walk = async (t: string, baseTrees: string[], dir: string, depth: number): Promise<TreeProblem | null> => {
      const key = `${t}\0${dir}`;
      if (good.has(key)) return null;
      const entries = await read(t);
      const baseEntries = await Promise.all(baseTrees.map(read));
      const names = new Set<string>();
      const seen = new Map<string, string>(); // folded name -> mode
      for (const e of entries) {
        if (names.has(e.name)) return { path: utf8(dir + e.name), reason: 'the tree holds this name twice' };
        names.add(e.name);
        const f = folded(e.name).replace(/[. ]+$/, '');
        const other = seen.get(f);
        if (other !== undefined && (other === '120000' || e.mode === '120000')) {
          return { path: utf8(dir + e.name), reason: 'a case-insensitive file system would make it and a symbolic link one entry (a path beneath a link)' };
        }
        seen.set(f, e.mode);
      }
      for (const e of entries) {
        const same = baseEntries.some((b) => b.some((x) => x.name === e.name && x.oid === e.oid && x.mode === e.mode));
        if (same) continue; // as in a parent, at the same path: checked there
        const why = checkName(e.name, e.mode, dir);
        if (why) return { path: utf8(dir + e.name), reason: why };
        if (e.mode === TREE || e.mode === '040000') {
          // a clock file sits two directories below its data file (.agentgit/clocks/PATH.clock)
          const own = dir.startsWith('.agentgit/clocks/') ? depth - 2 : depth;
          if (own + 1 > limits.maxDepth) return { path: utf8(dir + e.name), reason: `it is more than ${limits.maxDepth} directories deep (policy maxTreeDepth)` };
          const sub = baseEntries.flatMap((b) => b.filter((x) => x.name === e.name && (x.mode === TREE || x.mode === '040000')).map((x) => x.oid));
          const p = await walk(e.oid, sub, `${dir}${e.name}/`, depth + 1);
          if (p) return p;
        } else {
          mine.push({ oid: e.oid, path: utf8(dir + e.name), link: e.mode === '120000' });
        }
      }
      good.add(key);
      return null;
    };
    const p = await walk(tree, bases, '', 0);
    if (p) problems.set(c.oid, p);
    else if (mine.length) blobs.set(c.oid, mine);
  }
  // sizes of the new blobs, without reading them: one batch-check for all
  const oids = [...new Set([...blobs.values()].flat().map((b) => b.oid))];
  if (oids.length === 0) return problems;
  const info = await repo.objectInfo(oids, { timeoutMs });
  for (const [commit, list] of blobs) {
    for (const b of list) {
      const i = info.get(b.oid);
      const why = !i
        ? `its blob ${b.oid.slice(0, 10)} is missing`
        : i.type !== 'blob'
          ? `its entry names a ${i.type}, not a blob`
          : b.link && i.size > MAX_PATH_BYTES
            ? `it is a symbolic link whose target is longer than ${MAX_PATH_BYTES} bytes`
            : i.size > limits.maxBlobBytes
              ? `it is ${i.size} bytes, more than the policy's maxFileBytes (${limits.maxBlobBytes})`
              : null;
      if (why) {
        problems.set(commit, { path: b.path, reason: why });
        break;
      }
    }
  }
  return problems;
}

export interface TreeRejection {
  commit: string;
  author: string;
  reason: string;
}

/**
 * The incoming commits (`tip` and its ancestors not reachable from
 * `exclude`; or `commits` when the caller has them) whose trees break a
 * rule, each with a reason that names the path.
 */
export async function treeRejections(
  repo: TreeSource,
  o: { tip: string; exclude: string[]; commits?: { oid: string; parents: string[]; author: string }[]; limits: TreeLimits; timeoutMs?: number },
): Promise<TreeRejection[]> {
  let commits = o.commits;
  if (!commits) {
    commits = await repo.walk({ include: [o.tip], exclude: o.exclude }, { reverse: true, topo: true, timeoutMs: o.timeoutMs });
  }
  const problems = await checkNewTrees(repo, commits, o.limits, o.timeoutMs);
  return commits.flatMap((c) => {
    const p = problems.get(c.oid);
    return p ? [{ commit: c.oid, author: c.author, reason: `its tree holds ${JSON.stringify(p.path)}: ${p.reason}` }] : [];
  });
}
