/**
 * Revisions and history in-process, for the isomorphic-git engine: what
 * `git rev-parse`, `merge-base --all`, `merge-base --is-ancestor` and
 * `rev-list` answer, on SHA-1 repositories with refs in files, proven
 * against git in test/git/iso/history.test.ts.
 */
import { parseCommitHeader } from '../objects.js';
import { parseTree } from '../tree.js';
import type { IsoObjects } from './objects.js';
import { listRefs, readRef } from './refs.js';

export interface CommitNode {
  oid: string;
  tree: string;
  parents: string[];
  author: string;
  /** Committer time (s since the epoch), git's date order. */
  time: number;
}

/** Commits read once per History (one per operation or round). */
export class History {
  private readonly commits = new Map<string, CommitNode>();
  constructor(
    readonly gitDir: string,
    readonly objs: IsoObjects,
  ) {}

  async commit(oid: string): Promise<CommitNode> {
    const known = this.commits.get(oid);
    if (known) return known;
    const o = await this.objs.read(oid);
    if (!o || o.type !== 'commit') throw new Error(`${this.gitDir}: commit ${oid} is missing; run git fsck there`);
    const h = parseCommitHeader(o.body);
    if (!h) throw new Error(`${this.gitDir}: commit ${oid} cannot be read; run git fsck there`);
    const text = o.body.toString('latin1');
    const c = /\ncommitter [^\n]*> (\d+) [+-]\d{4}\n/.exec(text);
    const node = { oid, tree: h.tree, parents: h.parents, author: h.author, time: c ? Number(c[1]) : 0 };
    this.commits.set(oid, node);
    return node;
  }

  /** The object a revision names (null when none): oid, HEAD, ref names as git expands them, `X^{commit}`, `X^{tree}`, `X^`, `X^N`, `X~N`. */
  async resolve(rev: string): Promise<string | null> {
    const peel = /^(.*)\^\{(commit|tree)\}$/.exec(rev);
    if (peel) {
      const base = await this.resolve(peel[1]!);
      if (!base) return null;
      const o = await this.objs.read(base);
      if (!o) return null;
      if (peel[2] === 'commit') return o.type === 'commit' ? base : null;
      if (o.type === 'tree') return base;
      return o.type === 'commit' ? (await this.commit(base)).tree : null;
    }
    const nav = /^(.*?)((?:[~^]\d*)+)$/.exec(rev);
    if (nav && nav[1]) {
      let cur = await this.resolve(nav[1]);
      for (const step of nav[2]!.match(/[~^]\d*/g) ?? []) {
        if (!cur) return null;
        const n = step.length > 1 ? Number(step.slice(1)) : 1;
        if (step[0] === '^') {
          if (n === 0) continue;
          cur = (await this.commit(cur)).parents[n - 1] ?? null;
        } else for (let i = 0; i < n && cur; i++) cur = (await this.commit(cur)).parents[0] ?? null;
      }
      return cur;
    }
    if (/^[0-9a-f]{40}$/.test(rev)) return (await this.objs.has(rev)) ? rev : null;
    // git's order (gitrevisions): NAME, refs/NAME, refs/tags/, refs/heads/, refs/remotes/, refs/remotes/NAME/HEAD
    const candidates = rev === 'HEAD' || rev.startsWith('refs/') ? [rev] : [rev, `refs/${rev}`, `refs/tags/${rev}`, `refs/heads/${rev}`, `refs/remotes/${rev}`, `refs/remotes/${rev}/HEAD`];
    for (const c of candidates) {
      if (c !== 'HEAD' && !c.startsWith('refs/') && !/^[A-Z_]+$/.test(c)) continue;
      const oid = readRef(this.gitDir, c);
      if (oid) return oid;
    }
    return null;
  }

  /** Every commit reachable from `tips` (inclusive). */
  async reachable(tips: Iterable<string>): Promise<Set<string>> {
    const seen = new Set<string>();
    const stack = [...tips];
    while (stack.length > 0) {
      const oid = stack.pop()!;
      if (seen.has(oid)) continue;
      seen.add(oid);
      stack.push(...(await this.commit(oid)).parents);
    }
    return seen;
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return true;
    // no cut by commit time: instances' clocks differ, and a wrong "no" here
    // would make the round merge what it could fast-forward
    const seen = new Set<string>();
    const stack = [descendant];
    while (stack.length > 0) {
      const oid = stack.pop()!;
      if (oid === ancestor) return true;
      if (seen.has(oid)) continue;
      seen.add(oid);
      stack.push(...(await this.commit(oid)).parents);
    }
    return false;
  }

  /** git merge-base --all: the common ancestors that no other common ancestor descends from. */
  async mergeBases(a: string, b: string): Promise<string[]> {
    const ra = await this.reachable([a]);
    const rb = await this.reachable([b]);
    const common = [...ra].filter((x) => rb.has(x));
    // a common ancestor reachable from another one's parents is not a best one
    const parents: string[] = [];
    for (const c of common) parents.push(...(await this.commit(c)).parents);
    const below = await this.reachable(parents);
    return common.filter((c) => !below.has(c)).sort();
  }

  /** The ids of `path` in a tree (null when absent); `path` `/`-separated. */
  async pathId(tree: string, path: string): Promise<string | null> {
    let cur = tree;
    for (const part of path.split('/')) {
      const o = await this.objs.read(cur);
      if (!o || o.type !== 'tree') return null;
      const e = parseTree(o.body).find((x) => Buffer.from(x.name, 'latin1').toString('utf8') === part);
      if (!e) return null;
      cur = e.oid;
    }
    return cur;
  }

  /** Branch and remote refs matching a `--glob` pattern (`*` within one level, a trailing `/*` any below). */
  globRefs(glob: string): string[] {
    const re = new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}${glob.includes('*') ? '' : '(/.*)?'}$`);
    return [...listRefs(this.gitDir)].filter(([k]) => re.test(k)).map(([, v]) => v);
  }
}

/** git's date order: the newest committer time first (a walk from several tips). */
export async function dateOrder(h: History, set: Set<string>, tips: string[]): Promise<string[]> {
  const out: string[] = [];
  const queued = new Set<string>();
  const queue: CommitNode[] = [];
  const push = async (oid: string): Promise<void> => {
    if (queued.has(oid) || !set.has(oid)) return;
    queued.add(oid);
    queue.push(await h.commit(oid));
  };
  for (const t of tips) await push(t);
  while (queue.length > 0) {
    let best = 0;
    for (let i = 1; i < queue.length; i++) if (queue[i]!.time > queue[best]!.time) best = i;
    const c = queue.splice(best, 1)[0]!;
    out.push(c.oid);
    for (const p of c.parents) await push(p);
  }
  return out;
}

/** Topological order (children before parents), ties by date order. */
export async function topoOrder(h: History, set: Set<string>, tips: string[]): Promise<string[]> {
  const children = new Map<string, number>();
  for (const oid of set) for (const p of (await h.commit(oid)).parents) if (set.has(p)) children.set(p, (children.get(p) ?? 0) + 1);
  const ready: CommitNode[] = [];
  for (const t of tips) if (set.has(t) && !children.get(t) && !ready.some((r) => r.oid === t)) ready.push(await h.commit(t));
  const out: string[] = [];
  while (ready.length > 0) {
    // git's --topo-order: depth first along the last ready commit
    const c = ready.pop()!;
    out.push(c.oid);
    for (const p of [...c.parents].reverse()) {
      if (!set.has(p)) continue;
      const n = (children.get(p) ?? 0) - 1;
      children.set(p, n);
      if (n === 0) ready.push(await h.commit(p));
    }
  }
  return out;
}
