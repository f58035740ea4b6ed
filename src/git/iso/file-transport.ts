/**
 * Fetch and push between two repositories on this machine (a file hub: a
 * bare repository path), in-process. isomorphic-git has no file transport;
 * this is git's local transport reduced to what agentgit needs:
 *
 * 1. the commits to send are those reachable from the tips and not from
 *    any ref of the destination ("haves"); their trees are walked against
 *    their parent's tree on the boundary, so an unchanged subtree is never
 *    opened, and each object is copied unless the destination has it;
 * 2. objects are written as loose objects in dependency order (a blob and
 *    a subtree before the tree naming it, a tree before its commit, a
 *    parent before its child): a kill -9 at any point leaves only objects
 *    whose references are all present;
 *    each object is hashed as it is written and must have the id it was
 *    asked for (a damaged or hostile hub fails closed, naming the hub);
 * 3. only then is the ref moved, by compare-and-swap with git's lock-file
 *    protocol (iso/refs.ts): a concurrent push by git or by another
 *    agentgit makes one of them lose (RefMovedError), never both win.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EMPTY_TREE, objectOid, writeObjectSync, type ObjectType } from '../objects.js';
import { parseTree } from '../tree.js';
import { parseCommitHeader } from '../objects.js';
import { hubDataError } from './connected.js';
import { IsoObjects } from './objects.js';
import { casRef, listRefs, readRef } from './refs.js';

const TREE_MODE = '40000';
const GITLINK_MODE = '160000';

/** Commits reachable from the destination's refs (what it is known to hold, with everything they reach). */
async function reachable(objs: IsoObjects, tips: Iterable<string>): Promise<Set<string>> {
  const seen = new Set<string>();
  const stack = [...tips];
  while (stack.length > 0) {
    const oid = stack.pop()!;
    if (seen.has(oid)) continue;
    const o = await objs.read(oid);
    if (!o || o.type !== 'commit') continue; // a ref to a missing object: treat as not held
    seen.add(oid);
    const h = parseCommitHeader(o.body);
    if (h) stack.push(...h.parents);
  }
  return seen;
}

/**
 * Copy to `dst` every object reachable from `tips` in `src` that `dst` does
 * not hold. Returns how many objects were written.
 */
export async function copyObjects(srcGitDir: string, dstGitDir: string, tips: string[], written?: Set<string>): Promise<number> {
  const hubObjects = new IsoObjects(srcGitDir);
  // a loose object isomorphic-git finds damaged (its own hash check) fails as the hub's fault
  const src = {
    read: async (oid: string) => {
      try {
        return await hubObjects.read(oid);
      } catch (e) {
        throw hubDataError(srcGitDir, `object ${oid} cannot be read (${(e as Error).message.replace(/^[^]*error message: /, '')})`);
      }
    },
  };
  const dst = new IsoObjects(dstGitDir);
  const haves = await reachable(dst, listRefs(dstGitDir).values());
  // commits to send, parents before children
  const commits: Array<{ oid: string; body: Buffer; tree: string; parents: string[] }> = [];
  const visiting = new Set<string>();
  const order: string[] = [];
  const byOid = new Map<string, { body: Buffer; tree: string; parents: string[] }>();
  const stack: Array<{ oid: string; expanded: boolean }> = tips.filter((t) => !haves.has(t)).map((oid) => ({ oid, expanded: false }));
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      order.push(top.oid);
      continue;
    }
    if (visiting.has(top.oid) || haves.has(top.oid)) continue;
    visiting.add(top.oid);
    const o = await src.read(top.oid);
    if (!o || o.type !== 'commit') throw new Error(`${srcGitDir}: commit ${top.oid} is missing or not a commit; run git fsck there`);
    const h = parseCommitHeader(o.body);
    if (!h) throw new Error(`${srcGitDir}: commit ${top.oid} cannot be read; run git fsck there`);
    byOid.set(top.oid, { body: o.body, tree: h.tree, parents: h.parents });
    stack.push({ oid: top.oid, expanded: true });
    for (const p of h.parents) if (!visiting.has(p) && !haves.has(p)) stack.push({ oid: p, expanded: false });
  }
  for (const oid of order) commits.push({ oid, ...byOid.get(oid)! });

  let count = 0;
  const done = new Set<string>();
  const write = (type: ObjectType, body: Buffer, oid: string): void => {
    const got = objectOid(type, body);
    if (got !== oid) throw hubDataError(srcGitDir, `${type} ${oid} holds the content of ${got}`);
    writeObjectSync(dstGitDir, type, body);
    written?.add(oid);
    count++;
  };
  // a tree against the same path's tree in a commit the destination holds (or null)
  const copyTree = async (oid: string, known: string | null): Promise<void> => {
    // a tree the destination has but that is not on the boundary is still
    // walked: a loose tree may be left by an interrupted write without its entries
    if (oid === known || done.has(oid)) return;
    if (oid === EMPTY_TREE) {
      // isomorphic-git answers for the empty tree whether or not it is stored: git's fsck wants it stored
      done.add(oid);
      if (!existsSync(join(dstGitDir, 'objects', oid.slice(0, 2), oid.slice(2)))) write('tree', Buffer.alloc(0), oid);
      return;
    }
    const o = await src.read(oid);
    if (!o || o.type !== 'tree') throw new Error(`${srcGitDir}: tree ${oid} is missing; run git fsck there`);
    const knownEntries = new Map<string, string>();
    if (known) {
      const k = await dst.read(known);
      if (k?.type === 'tree') for (const e of parseTree(k.body)) knownEntries.set(`${e.mode} ${e.name}`, e.oid);
    }
    for (const e of parseTree(o.body)) {
      if (e.mode === GITLINK_MODE) continue;
      const same = knownEntries.get(`${e.mode} ${e.name}`) ?? null;
      if (e.mode === TREE_MODE) await copyTree(e.oid, same);
      else if (e.oid !== same && !done.has(e.oid)) {
        done.add(e.oid);
        if (await dst.has(e.oid)) continue;
        const b = await src.read(e.oid);
        if (!b || b.type !== 'blob') throw new Error(`${srcGitDir}: blob ${e.oid} is missing; run git fsck there`);
        write('blob', b.body, e.oid);
      }
    }
    done.add(oid);
    if (!(await dst.has(oid))) write('tree', o.body, oid);
  };
  for (const c of commits) {
    // the boundary: a parent the destination holds gives the known tree
    let known: string | null = null;
    for (const p of c.parents) {
      if (!haves.has(p)) continue;
      const po = await dst.read(p);
      const ph = po ? parseCommitHeader(po.body) : null;
      if (ph) {
        known = ph.tree;
        break;
      }
    }
    await copyTree(c.tree, known);
    if (!(await dst.has(c.oid))) write('commit', c.body, c.oid);
  }
  return count;
}

/**
 * Fetch: copy what `remoteGitDir`'s branches reach into `localGitDir`, then
 * set `refs/remotes/<remote>/<branch>` to the hub's branches. Returns the
 * hub's branches (name -> id).
 */
export async function fetchFromFileHub(localGitDir: string, remoteGitDir: string, remote = 'origin'): Promise<Map<string, string>> {
  const heads = listRefs(remoteGitDir, 'refs/heads/');
  await copyObjects(remoteGitDir, localGitDir, [...heads.values()]);
  for (const [name, oid] of heads) {
    const local = `refs/remotes/${remote}/${name.slice('refs/heads/'.length)}`;
    const before = readRef(localGitDir, local);
    if (before !== oid) casRef(localGitDir, local, before, oid);
  }
  return heads;
}

/**
 * Push: copy what `oid` reaches into the hub, then move the hub's `ref`
 * from `expected` (null: create) to `oid`. Throws RefMovedError when the
 * hub moved in between (fetch, merge, push again) and RefLockBusyError
 * when another writer holds the ref's lock.
 */
export async function pushToFileHub(localGitDir: string, remoteGitDir: string, ref: string, expected: string | null, oid: string): Promise<void> {
  await copyObjects(localGitDir, remoteGitDir, [oid]);
  casRef(remoteGitDir, ref, expected, oid);
}
