/**
 * Tree objects built in-process: `from`'s tree with some paths changed,
 * reading only the trees on the changed paths (through the cat-file
 * session) and writing only the trees that change, as loose objects. The
 * same result as `git read-tree` + `update-index --index-info` + `write-tree`
 * (test/git/tree.test.ts compares the two), without the three processes or
 * a pass over every path of the repo.
 *
 * Names are kept as their raw bytes, so entries this does not touch are
 * written back exactly, whatever their encoding. A change it cannot place
 * (a file where a directory still has entries, a path through a file that
 * is not removed) throws TreeConflict; the caller then lets git decide.
 */
import { EMPTY_TREE, writeObject } from './objects.js';

export interface PathChange {
  path: string;
  /** '0' removes the path. */
  mode: string;
  oid: string;
}

interface Entry {
  mode: string;
  /** The name's raw bytes as a latin1 string (one char per byte). */
  name: string;
  oid: string;
}

export class TreeConflict extends Error {}

const TREE_MODE = '40000';

/** A tree object's entries; `idBytes`: 20 (SHA-1) or 32 (SHA-256), the length of the tree's own id in bytes. */
export function parseTree(buf: Buffer, idBytes = 20): Entry[] {
  const out: Entry[] = [];
  // decoded once (latin1: one char per byte, so string offsets are byte offsets): a tree of a year's daily logs has hundreds of entries
  const text = buf.toString('latin1');
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(' ', i);
    const nul = text.indexOf('\0', sp);
    if (sp < 0 || nul < 0 || nul + 1 + idBytes > buf.length) throw new Error('malformed tree object');
    out.push({ mode: text.slice(i, sp), name: text.slice(sp + 1, nul), oid: buf.toString('hex', nul + 1, nul + 1 + idBytes) });
    i = nul + 1 + idBytes;
  }
  return out;
}

/**
 * One step of git's lookup of `REV:PATH` (tree-walk.c, find_tree_entry),
 * over a tree's entries in their stored order: `name` (the rest of the path,
 * its bytes as a latin1 string) names an entry, or a tree to look in for
 * `rest`; null: git finds nothing. git's own early stop is kept (it takes
 * the entries as sorted: a name past `name` ends the search), so an
 * unsorted tree answers as git answers it. The entries must be ones git
 * decodes (plainTreeEntries): git stops with an error on the others.
 */
export function findTreeEntry(entries: readonly Entry[], name: string): { oid: string } | { tree: string; rest: string } | null {
  for (const e of entries) {
    const len = e.name.length;
    if (len > name.length) continue;
    const head = name.slice(0, len);
    if (head > e.name) continue;
    if (head < e.name) return null;
    if (len === name.length) return { oid: e.oid };
    if (name[len] !== '/') continue;
    if ((parseInt(e.mode, 8) & 0o170000) !== 0o040000) return null; // S_ISDIR
    if (len + 1 === name.length) return { oid: e.oid };
    return { tree: e.oid, rest: name.slice(len + 1) };
  }
  return null;
}

/** Whether git decodes every entry (tree-walk.c decode_tree_entry: an octal mode, a name): else only git may answer about this tree. */
export function plainTreeEntries(entries: readonly Entry[]): boolean {
  return entries.every((e) => /^[0-7]{1,6}$/.test(e.mode) && e.name.length > 0);
}

/** git's order: by name bytes, a directory's name compared as if it ended in '/'. */
function sortKey(e: Entry): string {
  return e.mode === TREE_MODE ? e.name + '/' : e.name;
}

export function formatTree(entries: Entry[]): Buffer {
  const sorted = entries.map((e) => ({ e, key: sortKey(e) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)); // latin1 strings: code units are the bytes
  // one buffer written in place (a tree of a year's daily logs has hundreds of entries, and is written every round)
  let size = 0;
  for (const { e } of sorted) size += e.mode.length + 1 + e.name.length + 1 + (e.oid.length >> 1);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const { e } of sorted) {
    at += out.write(e.mode, at, 'latin1');
    out[at++] = 0x20;
    at += out.write(e.name, at, 'latin1');
    out[at++] = 0;
    at += out.write(e.oid, at, 'hex');
  }
  if (at !== size) throw new Error(`tree entry with a malformed id: ${sorted.find(({ e }) => !/^(?:[0-9a-f]{2})+$/.test(e.oid))?.e.oid ?? '?'}`);
  return out;
}

interface Node {
  /** The change of this exact path, if any. */
  leaf?: PathChange;
  children: Map<string, Node>;
}

function plan(changes: PathChange[]): Node {
  const root: Node = { children: new Map() };
  for (const c of changes) {
    let n = root;
    for (const part of Buffer.from(c.path, 'utf8').toString('latin1').split('/')) {
      let next = n.children.get(part);
      if (!next) n.children.set(part, (next = { children: new Map() }));
      n = next;
    }
    n.leaf = c;
  }
  return root;
}

/**
 * The tree of `fromTree` (null: empty) with `changes` applied; returns its oid.
 * `read` returns an object's content (a tree's raw bytes) or null.
 */
export async function buildTreeInProcess(gitDir: string, read: (oid: string) => Promise<Buffer | null>, fromTree: string | null, changes: PathChange[]): Promise<string> {
  const build = async (tree: string | null, node: Node, where: string): Promise<string | null> => {
    let entries: Entry[] = [];
    if (tree) {
      const buf = await read(tree);
      if (!buf) throw new Error(`tree ${tree} is missing; run \`git fsck\``);
      entries = parseTree(buf);
    }
    const byName = new Map(entries.map((e) => [e.name, e]));
    const subs = await Promise.all(
      [...node.children].map(async ([name, child]) => {
        const cur = byName.get(name);
        let sub: string | null = null;
        if (child.children.size > 0) {
          const curTree = cur && cur.mode === TREE_MODE ? cur.oid : null;
          if (cur && !curTree && !(child.leaf && child.leaf.mode === '0')) throw new TreeConflict(`${where}${name} is a file, and paths beneath it are added`);
          sub = await build(curTree, child, `${where}${name}/`);
        } else if (cur && cur.mode === TREE_MODE && !child.leaf) sub = cur.oid;
        return { name, child, cur, sub };
      }),
    );
    for (const { name, child, cur, sub } of subs) {
      const leaf = child.leaf;
      if (leaf && leaf.mode !== '0') {
        if (sub !== null) throw new TreeConflict(`${where}${name} is added as a file while its directory keeps entries`);
        if (cur && cur.mode === TREE_MODE && child.children.size === 0) throw new TreeConflict(`${where}${name} is added as a file over a directory`);
        byName.set(name, { mode: leaf.mode, name, oid: leaf.oid });
      } else if (child.children.size > 0) {
        if (sub === null) byName.delete(name);
        else byName.set(name, { mode: TREE_MODE, name, oid: sub });
      } else if (leaf) {
        // removal: only a file (or link, gitlink) at that path; a directory stays
        if (cur && cur.mode !== TREE_MODE) byName.delete(name);
      }
    }
    if (byName.size === 0) return null;
    return writeObject(gitDir, 'tree', formatTree([...byName.values()]));
  };
  return (await build(fromTree, plan(changes), '')) ?? (await writeObject(gitDir, 'tree', Buffer.alloc(0)).then(() => EMPTY_TREE));
}

/** One change of `git diff-tree -r` raw output (paths as UTF-8 text). */
export interface RawChange {
  path: string;
  status: 'A' | 'D' | 'M' | 'T';
  oldMode: string;
  newMode: string;
  oldOid: string;
  newOid: string;
}

const NO_MODE = '000000';
const NO_OID = '0'.repeat(40);

/** The mode git prints for an entry: regular files canonical (0644 or 0755). */
function canonMode(mode: string): string {
  if (!mode.startsWith('100')) return mode.padStart(6, '0');
  return (parseInt(mode, 8) & 0o111) !== 0 ? '100755' : '100644';
}

/** The type bits of a mode (regular file, symlink, gitlink). */
function typeOf(mode: string): string {
  return mode.slice(0, -4);
}

/**
 * `git diff-tree -r --no-renames` between two trees, in-process: only the
 * subtrees whose ids differ are read (through `read`, the cat-file session),
 * and the changes come out in git's order. `a`, `b`: tree ids, null for none.
 */
export async function diffTreesInProcess(read: (oid: string) => Promise<Buffer | null>, a: string | null, b: string | null): Promise<RawChange[]> {
  const entriesOf = async (tree: string | null): Promise<Entry[]> => {
    if (tree === null) return [];
    const buf = await read(tree);
    if (!buf) throw new Error(`tree ${tree} is missing; run \`git fsck\``);
    // a zero-padded `040000` (old tools wrote it) is a tree all the same
    return parseTree(buf).map((e) => (e.mode === '040000' ? { ...e, mode: TREE_MODE } : e));
  };
  const utf8 = (latin1: string): string => Buffer.from(latin1, 'latin1').toString('utf8');
  const walk = async (ta: string | null, tb: string | null, prefix: string): Promise<RawChange[]> => {
    const [ea, eb] = await Promise.all([entriesOf(ta), entriesOf(tb)]);
    // Each step: the changes of one name, or the promise of a subtree's.
    const steps: Array<RawChange[] | Promise<RawChange[]>> = [];
    const gone = (e: Entry): RawChange[] | Promise<RawChange[]> =>
      e.mode === TREE_MODE ? walk(e.oid, null, `${prefix}${e.name}/`) : [{ path: utf8(prefix + e.name), status: 'D', oldMode: canonMode(e.mode), newMode: NO_MODE, oldOid: e.oid, newOid: NO_OID }];
    const added = (e: Entry): RawChange[] | Promise<RawChange[]> =>
      e.mode === TREE_MODE ? walk(null, e.oid, `${prefix}${e.name}/`) : [{ path: utf8(prefix + e.name), status: 'A', oldMode: NO_MODE, newMode: canonMode(e.mode), oldOid: NO_OID, newOid: e.oid }];
    let i = 0;
    let j = 0;
    while (i < ea.length || j < eb.length) {
      const x = ea[i];
      const y = eb[j];
      const kx = x ? sortKey(x) : null;
      const ky = y ? sortKey(y) : null;
      if (y === undefined || (kx !== null && kx < ky!)) {
        steps.push(gone(x!));
        i++;
      } else if (x === undefined || kx! > ky!) {
        steps.push(added(y));
        j++;
      } else {
        i++;
        j++;
        if (x.oid === y.oid && canonMode(x.mode) === canonMode(y.mode)) continue;
        if (x.mode === TREE_MODE) steps.push(walk(x.oid, y.oid, `${prefix}${x.name}/`));
        else {
          const om = canonMode(x.mode);
          const nm = canonMode(y.mode);
          steps.push([{ path: utf8(prefix + x.name), status: typeOf(om) === typeOf(nm) ? 'M' : 'T', oldMode: om, newMode: nm, oldOid: x.oid, newOid: y.oid }]);
        }
      }
    }
    return (await Promise.all(steps)).flat();
  };
  return walk(a, b, '');
}
