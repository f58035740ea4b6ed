/**
 * git's connectivity check for the isomorphic-git engine's fetches: before
 * any ref moves to an id the hub named, that id must be here as a commit
 * (or a tag of one) and everything it reaches must be here too. Objects
 * this fetch brought (`fresh`) are read and followed; an object that was
 * here before the fetch is trusted with its closure (it got here through
 * the same check), so the walk stops at it: the cost is the size of what
 * came in, not of the history.
 */
import { BadObjectError, GitError, ObjectTooBigError } from '../exec.js';
import { parseCommitHeader } from '../objects.js';
import { parseTree } from '../tree.js';
import { redactUrl } from '../url.js';
import type { IsoObjects } from './objects.js';

const DAMAGED = "the hub's data is damaged or not trustworthy: check it with git fsck there";
/** For an object over the engine's caps: nothing says the hub is damaged. */
const TOO_LARGE = 'too large for this engine, not a sign of damage';

/** The hub sent something that does not hold together (or, `why` TOO_LARGE, more than this engine holds): fail closed, nothing moved. */
export function hubDataError(hub: string, what: string, op: 'fetch' | 'push' = 'fetch', why = DAMAGED): GitError {
  const message = `${redactUrl(hub)}: ${what}; no ref was moved (${why})`;
  return new GitError(`${op}: ${message}`, [op], 128, `fatal: ${message}\n`, false);
}

/**
 * A refusal of the hub's data by BoundedObjects (over a cap, or malformed)
 * as the hub's error for `op` (an over-the-cap one advising to `op` once
 * with git); null for any other error.
 */
export function hubObjectError(hub: string, e: unknown, op: 'fetch' | 'push' = 'fetch'): GitError | null {
  if (e instanceof ObjectTooBigError) return hubDataError(hub, new ObjectTooBigError(e.what, op).message, op, TOO_LARGE);
  return e instanceof BadObjectError ? hubDataError(hub, e.message, op) : null;
}

/** This repository's own objects are damaged (found while building a push): not the hub's fault. */
export function localDataError(repo: string, what: string): GitError {
  const message = `${repo}: ${what}; nothing was pushed (this repository is damaged: run git fsck in it, then agentgit doctor)`;
  return new GitError(`push: ${message}`, ['push'], 128, `fatal: ${message}\n`, false);
}

/** Throw hubDataError unless every target and its closure are here (see the file comment). */
export async function checkConnected(objs: IsoObjects, targets: Iterable<string>, fresh: Set<string>, hub: string): Promise<void> {
  const seen = new Set<string>();
  const stack: Array<{ oid: string; want: string[]; from: string }> = [...new Set(targets)].map((oid) => ({ oid, want: ['commit', 'tag'], from: 'a ref' }));
  while (stack.length > 0) {
    const { oid, want, from } = stack.pop()!;
    if (seen.has(oid)) continue;
    seen.add(oid);
    const isTarget = from === 'a ref';
    if (!fresh.has(oid) && !isTarget) {
      if (!(await objs.has(oid))) throw hubDataError(hub, `${want[0]} ${oid} (named by ${from}) is missing`);
      continue;
    }
    const o = await objs.read(oid);
    if (!o) throw hubDataError(hub, `${want[0]} ${oid} (named by ${from}) is missing`);
    if (!want.includes(o.type)) throw hubDataError(hub, `${oid} (named by ${from}) is a ${o.type}, not a ${want.join(' or ')}`);
    if (!fresh.has(oid)) continue; // here before this fetch: trusted with its closure
    const by = `${o.type} ${oid}`;
    if (o.type === 'commit') {
      const h = parseCommitHeader(o.body);
      if (!h) throw hubDataError(hub, `commit ${oid} cannot be read`);
      stack.push({ oid: h.tree, want: ['tree'], from: by });
      for (const p of h.parents) stack.push({ oid: p, want: ['commit'], from: by });
    } else if (o.type === 'tree') {
      let entries;
      try {
        entries = parseTree(o.body);
      } catch {
        throw hubDataError(hub, `tree ${oid} cannot be read`);
      }
      for (const e of entries) if (e.mode !== '160000') stack.push({ oid: e.oid, want: [e.mode === '40000' ? 'tree' : 'blob'], from: by });
    } else if (o.type === 'tag') {
      const m = /^object ([0-9a-f]{40})\ntype (commit|tag|tree|blob)\n/.exec(o.body.toString('latin1'));
      if (!m) throw hubDataError(hub, `tag ${oid} cannot be read`);
      stack.push({ oid: m[1]!, want: [m[2]!], from: by });
    }
  }
}
