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
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { GitError } from '../exec.js';
import { EMPTY_TREE, objectOid, writeObjectSync, ZERO_OID, type ObjectType } from '../objects.js';
import { parseTree } from '../tree.js';
import { parseCommitHeader } from '../objects.js';
import { hubDataError, hubObjectError, localDataError } from './connected.js';
import { IsoObjects } from './objects.js';
import { BoundedObjects, type InflateLimits } from './pack.js';
import { casRef, listRefs, readRef } from './refs.js';

const TREE_MODE = '40000';
const GITLINK_MODE = '160000';

/** Commits reachable from the destination's refs (what it is known to hold, with everything they reach). */
async function reachable(objs: Pick<IsoObjects, 'read'>, tips: Iterable<string>): Promise<Set<string>> {
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

/** Which side of a copy is the hub (hostile until checked) and which is this repository. */
export interface CopyOptions {
  /** 'src': a fetch (the hub's objects come in); 'dst': a push (ours go to the hub). */
  hub: 'src' | 'dst';
  /** Every id written, when given. */
  written?: Set<string>;
  /** The caps on what is inflated from the hub (pack.ts). */
  limits?: InflateLimits;
}

/**
 * Copy to `dst` every object reachable from `tips` in `src` that `dst` does
 * not hold. Returns how many objects were written. The hub's side is read
 * with caps (pack.ts BoundedObjects: no zip bomb); a failure names the side
 * at fault: the hub's data (hubDataError) or, on a push, this repository's
 * own damaged objects (localDataError: run git fsck here, not on the hub).
 */
export async function copyObjects(srcGitDir: string, dstGitDir: string, tips: string[], o: CopyOptions = { hub: 'src' }): Promise<number> {
  const written = o.written;
  const op = o.hub === 'src' ? 'fetch' : 'push';
  const hubDir = o.hub === 'src' ? srcGitDir : dstGitDir;
  /** What is wrong with the source's objects, blamed on the side that holds them. */
  const srcFault = (what: string): Error => (o.hub === 'src' ? hubDataError(srcGitDir, what) : localDataError(srcGitDir, what));
  const reader = (dir: string, isHub: boolean): IsoObjects => (isHub ? new BoundedObjects(dir, o.limits) : new IsoObjects(dir));
  const guarded = (objs: IsoObjects, isHub: boolean, fault: (what: string) => Error): Pick<IsoObjects, 'read' | 'has'> => ({
    read: async (oid: string) => {
      try {
        return await objs.read(oid);
      } catch (e) {
        throw (isHub ? hubObjectError(hubDir, e, op) : null) ?? fault(`object ${oid} cannot be read (${(e as Error).message.replace(/^[^]*error message: /, '')})`);
      }
    },
    has: async (oid: string) => {
      try {
        return await objs.has(oid);
      } catch (e) {
        throw (isHub ? hubObjectError(hubDir, e, op) : null) ?? fault(`its objects cannot be read (${(e as Error).message})`);
      }
    },
  });
  const src = guarded(reader(srcGitDir, o.hub === 'src'), o.hub === 'src', srcFault);
  const dst = guarded(reader(dstGitDir, o.hub === 'dst'), o.hub === 'dst', (what) => (o.hub === 'dst' ? hubDataError(dstGitDir, what, op) : localDataError(dstGitDir, what)));
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
    if (!o || o.type !== 'commit') throw srcFault(`commit ${top.oid} is missing or not a commit`);
    const h = parseCommitHeader(o.body);
    if (!h) throw srcFault(`commit ${top.oid} cannot be read`);
    byOid.set(top.oid, { body: o.body, tree: h.tree, parents: h.parents });
    stack.push({ oid: top.oid, expanded: true });
    for (const p of h.parents) if (!visiting.has(p) && !haves.has(p)) stack.push({ oid: p, expanded: false });
  }
  for (const oid of order) commits.push({ oid, ...byOid.get(oid)! });

  let count = 0;
  const done = new Set<string>();
  const write = (type: ObjectType, body: Buffer, oid: string): void => {
    const got = objectOid(type, body);
    if (got !== oid) throw srcFault(`${type} ${oid} holds the content of ${got}`);
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
    if (!o || o.type !== 'tree') throw srcFault(`tree ${oid} is missing or not a tree`);
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
        if (!b || b.type !== 'blob') throw srcFault(`blob ${e.oid} is missing or not a blob`);
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
  await copyObjects(remoteGitDir, localGitDir, [...heads.values()], { hub: 'src' });
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
  await copyObjects(localGitDir, remoteGitDir, [oid], { hub: 'dst' });
  casRef(remoteGitDir, ref, expected, oid);
}

/** The most of a hook's output (stdout and stderr together) kept for the operator. */
export const HOOK_OUTPUT_MAX = 64 * 1024;
/** How long a hook that exited may leave its output pipes open (a background child) before its group is killed. */
const HOOK_PIPE_GRACE_MS = 1000;

/**
 * Run one hook: its own process group (detached), so that at `deadlineAt`
 * the hook and every child it started are killed together; when the hook
 * exits but a background child keeps its stdout/stderr open, the group is
 * killed after a short grace instead of waiting for the pipes. Output
 * (decoded as UTF-8 across chunk boundaries, at most HOOK_OUTPUT_MAX bytes
 * kept) goes to `onMessage` line by line. Resolves to the exit code, or
 * null when it could not start or was killed at the deadline.
 */
function runHook(file: string, args: readonly string[], input: string, hub: string, env: NodeJS.ProcessEnv, deadlineAt: number | null, onMessage: (line: string) => void): Promise<number | null | 'deadline'> {
  return new Promise<number | null | 'deadline'>((done) => {
    const hookEnv: NodeJS.ProcessEnv = { ...env, GIT_DIR: '.' };
    delete hookEnv.GIT_INDEX_FILE;
    delete hookEnv.GIT_WORK_TREE;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, [...args], { cwd: hub, env: hookEnv, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    } catch {
      return done(null);
    }
    let text = '';
    let kept = 0;
    let cut = false;
    const take = (decoder: StringDecoder, b?: Buffer): void => {
      const s = b ? decoder.write(b) : decoder.end();
      if (cut || !s) return;
      const n = Buffer.byteLength(s);
      if (kept + n > HOOK_OUTPUT_MAX) {
        text += Buffer.from(s).subarray(0, HOOK_OUTPUT_MAX - kept).toString('utf8').replace(/\uFFFD$/, '');
        text += `\n(the hook's output is cut here: more than ${HOOK_OUTPUT_MAX / 1024} KiB)\n`;
        cut = true;
        return;
      }
      kept += n;
      text += s;
    };
    const out = new StringDecoder('utf8');
    const err = new StringDecoder('utf8');
    child.stdout!.on('data', (b: Buffer) => take(out, b));
    child.stderr!.on('data', (b: Buffer) => take(err, b));
    child.stdin!.on('error', () => undefined); // a hook that does not read its input
    child.stdin!.end(input);
    let finished = false;
    let grace: NodeJS.Timeout | null = null;
    const finish = (code: number | null | 'deadline'): void => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      if (grace) clearTimeout(grace);
      child.stdout!.destroy();
      child.stderr!.destroy();
      take(out);
      take(err);
      for (const line of text.split(/\r?\n/)) if (line.trim()) onMessage(line.trimEnd());
      done(code);
    };
    const timer =
      deadlineAt === null
        ? null
        : setTimeout(() => {
            killGroup(child);
            finish('deadline');
          }, Math.max(0, deadlineAt - Date.now()));
    child.on('error', () => finish(null));
    child.on('exit', (code) => {
      if (finished) return; // killed at the deadline, or it never started
      // the hook is done; a background child it left may hold the pipes: not waited for
      const ms = deadlineAt === null ? HOOK_PIPE_GRACE_MS : Math.min(HOOK_PIPE_GRACE_MS, Math.max(0, deadlineAt - Date.now()));
      grace = setTimeout(() => {
        killGroup(child);
        finish(code);
      }, ms);
    });
    child.on('close', (code) => finish(code));
  });
}

/** An executable hook of the hub, or null (git ignores a hook that is not executable). */
function hookFile(hub: string, name: string): string | null {
  const file = join(hub, 'hooks', name);
  try {
    accessSync(file, constants.X_OK);
    return file;
  } catch {
    return null;
  }
}

/**
 * The hub's `pre-receive` and `update` hooks (executable files in its hooks/),
 * run as git's receive-pack runs them for a push to a path, a ref update or
 * a delete (`oid` null: the zero id): in the hub's directory with GIT_DIR=.,
 * pre-receive with `OLD NEW REF` on stdin, update with them as arguments.
 * Their output goes to `onMessage` (git shows it as `remote: …`). False
 * when a hook refused (non-zero exit, killed, or still running at
 * `deadlineAt`): the ref must not move.
 */
export async function runHubHooks(hub: string, ref: string, old: string | null, oid: string | null, onMessage: (line: string) => void, deadlineAt: number | null, env: NodeJS.ProcessEnv): Promise<boolean> {
  const o = old ?? ZERO_OID;
  const n = oid ?? ZERO_OID;
  for (const [name, args, input] of [
    ['pre-receive', [], `${o} ${n} ${ref}\n`],
    ['update', [ref, o, n], ''],
  ] as const) {
    const file = hookFile(hub, name);
    const r = file ? await runHook(file, args, input, hub, env, deadlineAt, onMessage) : 0;
    // stopped at the round's deadline: a hub too slow to answer (temporary, as git's push timing out), not its refusal
    if (r === 'deadline') throw new GitError(`git push: the hub's ${name} hook did not finish by the round's deadline; nothing was moved there`, ['push'], null, '', true);
    if (r !== 0) return false;
  }
  return true;
}

/** The hub's `post-receive` hook, after the ref moved (or was deleted): its exit status is ignored, as git ignores it. */
export async function runHubPostReceive(hub: string, ref: string, old: string | null, oid: string | null, onMessage: (line: string) => void, deadlineAt: number | null, env: NodeJS.ProcessEnv): Promise<void> {
  const file = hookFile(hub, 'post-receive');
  if (file) await runHook(file, [], `${old ?? ZERO_OID} ${oid ?? ZERO_OID} ${ref}\n`, hub, env, deadlineAt, onMessage);
}

/** A hub URL or path as the path it names on this machine (a `file://` URL decoded); not checked. */
export function fileHubPath(url: string): string {
  return url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
}

/** A hub URL or path as a local git dir (a file hub: bare, or a work tree's .git), or null. */
export function fileHubDir(url: string): string | null {
  const p = fileHubPath(url);
  if (!p.startsWith('/')) return null;
  if (existsSync(join(p, 'HEAD')) && existsSync(join(p, 'objects'))) return p;
  if (existsSync(join(p, '.git', 'HEAD'))) return join(p, '.git');
  return null;
}

/** Kill a detached child and every process of its group. */
function killGroup(child: ReturnType<typeof spawn>): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** The round each file hub was last probed in (its round deadline): one probe per hub and round. */
const probedIn = new Map<string, number>();

/**
 * Before a round reads a file hub in-process (synchronous reads, which
 * nothing can interrupt), a child process reads what this engine reads
 * first (HEAD, packed-refs, every loose ref, in the hub's git dir: the hub
 * itself when bare, else its .git, found by the child as fileHubDir finds
 * it) and must finish by `deadlineAt`: a hub whose filesystem does not
 * answer (a hung network mount) makes the round end at its deadline, exit
 * 75, as with the git engine, instead of blocking the process. Once per
 * hub path and `round` (the round's deadline, the same for every call of
 * one round; null: no round, probed each time); skipped with no deadline
 * or no `sh` (a distroless image). A stall that begins later in the round
 * is not caught (docs/engines.md, Deadlines).
 */
export async function probeFileHub(url: string, deadlineAt: number | null, env: NodeJS.ProcessEnv, round: number | null = null): Promise<void> {
  const dir = fileHubPath(url);
  if (deadlineAt === null || !dir.startsWith('/') || (round !== null && probedIn.get(dir) === round)) return;
  const ms = deadlineAt - Date.now();
  const stalled = (): GitError =>
    new GitError(`${dir}: its files did not answer; is its filesystem stalled?`, ['fetch'], 128, `fatal: ${dir}: the hub's files did not answer in time\n`, true);
  if (ms <= 0) throw stalled();
  const answered = await new Promise<boolean | null>((done) => {
    let child: ReturnType<typeof spawn>;
    const script = 'cd -- "$1" || exit 0; if [ -e HEAD ] && [ -e objects ]; then :; elif [ -e .git/HEAD ]; then cd .git || exit 0; fi; cat HEAD packed-refs >/dev/null 2>&1; find refs ! -type d -exec cat {} + >/dev/null 2>&1; exit 0';
    try {
      child = spawn('sh', ['-c', script, 'sh', dir], { env, stdio: 'ignore', detached: true });
    } catch {
      return done(null);
    }
    const timer = setTimeout(() => {
      killGroup(child);
      child.unref();
      done(false);
    }, ms);
    child.on('error', () => {
      clearTimeout(timer);
      done(null); // no sh here: nothing to probe with
    });
    child.on('close', () => {
      clearTimeout(timer);
      done(true);
    });
  });
  if (answered === false) throw stalled();
  if (round !== null) probedIn.set(dir, round);
}
