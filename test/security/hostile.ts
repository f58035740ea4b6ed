/**
 * Builders of hostile histories with plain git: trees written byte by byte
 * (any name, any mode, duplicates, `..`, `.git`), commits signed with an
 * ADMITTED instance's key (the attacker is an admitted instance, or a hub
 * that replays one's signature over hostile content it cannot forge, so the
 * only defence is the tree check), pushed straight to the hub.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeObjectSync } from '../../src/git/objects.js';
import { expect } from 'vitest';
import { git, Instance, makeBareHub, tempDir, testEnv } from '../helpers/agents.js';

export interface RawEntry {
  /** Path components as raw bytes (latin1 text): a component may hold '/', be '..', '.git', empty… */
  path: string[];
  mode: string;
  /** Blob content (ignored for 160000 gitlinks: `oid` names the commit). */
  content?: string | Buffer;
  /** An existing object instead of content (a gitlink's commit, a big blob written with git). */
  oid?: string;
  /** Replace an entry of the same name (default: add beside it, a duplicate). */
  replace?: boolean;
}

interface Node {
  mode: string;
  oid?: string;
  children?: Map<string, Node>;
}

/** A scratch repo holding the hub's objects, where hostile objects are written. */
export function scratch(hub: string): { dir: string; gitDir: string; env: NodeJS.ProcessEnv } {
  const dir = join(tempDir('agentgit-hostile-'), 'scratch.git');
  const env = testEnv(tempDir());
  git(tempDir(), ['clone', '-q', '--bare', hub, dir], env);
  return { dir, gitDir: dir, env };
}

function readTree(dir: string, env: NodeJS.ProcessEnv, tree: string): Map<string, Node> {
  const out = spawnSync('git', ['cat-file', 'tree', tree], { cwd: dir, env });
  const buf = out.stdout;
  const m = new Map<string, Node>();
  let i = 0;
  while (i < buf.length) {
    const sp = buf.indexOf(0x20, i);
    const nul = buf.indexOf(0, sp);
    const mode = buf.toString('latin1', i, sp);
    const name = buf.toString('latin1', sp + 1, nul);
    const oid = buf.toString('hex', nul + 1, nul + 21);
    m.set(name, mode === '40000' ? { mode, children: readTree(dir, env, oid) } : { mode, oid });
    i = nul + 21;
  }
  return m;
}

function sortKey(name: string, mode: string): string {
  return mode === '40000' ? name + '/' : name;
}

/** Write a tree exactly as given (entries sorted the git way, nothing checked). Returns its oid. */
export function writeRawTree(gitDir: string, entries: Array<{ name: string; mode: string; oid: string }>): string {
  const sorted = [...entries].sort((a, b) => (sortKey(a.name, a.mode) < sortKey(b.name, b.mode) ? -1 : sortKey(a.name, a.mode) > sortKey(b.name, b.mode) ? 1 : 0));
  const buf = Buffer.concat(sorted.flatMap((e) => [Buffer.from(`${e.mode} `, 'latin1'), Buffer.from(e.name, 'latin1'), Buffer.from([0]), Buffer.from(e.oid, 'hex')]));
  return writeObjectSync(gitDir, 'tree', buf);
}

/**
 * A commit on top of the hub's `main` whose tree is main's plus `entries`
 * (added at raw paths, duplicates allowed: an entry whose name exists is
 * added beside it), signed with `signingKey`, authored as `author`.
 */
export function hostileCommit(s: { gitDir: string; env: NodeJS.ProcessEnv }, o: { entries: RawEntry[]; /** An admitted instance's private key; '' for an unsigned commit. */
    signingKey: string;
    author?: string; parent?: string; message?: string }): string {
  const parent = o.parent ?? git(s.gitDir, ['rev-parse', 'main'], s.env).trim();
  const base = readTree(s.gitDir, s.env, git(s.gitDir, ['rev-parse', `${parent}^{tree}`], s.env).trim());
  const root: Node = { mode: '40000', children: base };
  const extra = new Map<Node, Array<[string, Node]>>(); // entries added beside an existing name
  for (const e of o.entries) {
    let n = root;
    for (const part of e.path.slice(0, -1)) {
      let next = n.children!.get(part) ?? extra.get(n)?.find(([name, c]) => name === part && c.children)?.[1];
      if (!next) n.children!.set(part, (next = { mode: '40000', children: new Map() }));
      else if (!next.children) extra.set(n, [...(extra.get(n) ?? []), [part, (next = { mode: '40000', children: new Map() })]]); // a directory beside a file of the same name
      n = next;
    }
    const name = e.path[e.path.length - 1]!;
    const oid = e.oid ?? writeObjectSync(s.gitDir, 'blob', Buffer.isBuffer(e.content) ? e.content : Buffer.from(e.content ?? '', 'utf8'));
    const leaf: Node = { mode: e.mode, oid };
    if (n.children!.has(name) && !e.replace) extra.set(n, [...(extra.get(n) ?? []), [name, leaf]]);
    else n.children!.set(name, leaf);
  }
  const write = (n: Node): string => writeRawTree(s.gitDir, [...[...n.children!].map(([name, c]) => ({ name, mode: c.mode, oid: c.children ? write(c) : c.oid! })), ...(extra.get(n) ?? []).map(([name, c]) => ({ name, mode: c.mode, oid: c.children ? write(c) : c.oid! }))]);
  const tree = write(root);
  const author = o.author ?? 'kevin/a';
  const env = { ...s.env, GIT_AUTHOR_NAME: author, GIT_AUTHOR_EMAIL: 'a@kevin.agentgit.invalid', GIT_COMMITTER_NAME: author, GIT_COMMITTER_EMAIL: 'a@kevin.agentgit.invalid' };
  const sign = o.signingKey ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${o.signingKey}`, 'commit-tree', '-S'] : ['commit-tree'];
  return git(s.gitDir, [...sign, '-p', parent, '-m', o.message ?? 'agentgit: 1 file from a\n\nAgentgit-Instance: a', tree], env).trim();
}

/** Make `commit` the hub's main (as an admitted instance, or the hub itself, would). */
export function publish(s: { gitDir: string; env: NodeJS.ProcessEnv }, hub: string, commit: string): void {
  git(s.gitDir, ['push', '-q', '-f', '--no-verify', hub, `${commit}:refs/heads/main`], s.env);
}

/** The signing key of an (admitted) instance. */
export function keyOf(i: Instance): string {
  return git(i.dir, ['config', 'user.signingkey'], i.env).trim();
}

/** A deep chain of directories `d/d/d/…/leaf` (`depth` directories), as raw entries. */
export function deepPath(depth: number): string[] {
  return [...Array.from({ length: depth }, () => 'd'), 'leaf.md'];
}

/** Every file under `dir` (relative paths) with its mtime and size: to show nothing changed. */
export function fingerprint(dir: string): string {
  if (!existsSync(dir)) return '';
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d).sort()) {
      const abs = join(d, e);
      const st = statSync(abs);
      if (st.isDirectory()) walk(abs, `${rel}${e}/`);
      else out.push(`${rel}${e} ${st.size} ${readFileSync(abs).toString('base64').slice(0, 40)}`);
    }
  };
  walk(dir, '');
  return out.join('\n');
}

/** A hub with two synced instances: `a` (the attacker's admitted key) and honest `b`; `good` is the hub's head. */
export async function world(): Promise<{ hub: string; a: Instance; b: Instance; good: string }> {
  const hub = makeBareHub();
  const a = await Instance.init(hub, 'a', { files: { 'MEMORY.md': 'truth\n' } });
  const b = await Instance.clone(hub, 'b');
  expect((await b.sync()).code).toBe(0);
  return { hub, a, b, good: git(hub, ['rev-parse', 'main']).trim() };
}

/** A plain repo with one commit (`base`), for building hostile commits on top of it without a hub. */
export function scratchRepo(): { dir: string; base: string; s: { gitDir: string; env: NodeJS.ProcessEnv } } {
  const dir = join(tempDir(), 'r');
  const env = testEnv(tempDir());
  git(tempDir(), ['init', '-q', '-b', 'main', dir], env);
  writeFileSync(join(dir, 'f'), 'x\n');
  git(dir, ['add', 'f'], env);
  git(dir, ['-c', 'user.name=t', '-c', 'user.email=t@x', 'commit', '-qm', 'base'], env);
  return { dir, base: git(dir, ['rev-parse', 'HEAD'], env).trim(), s: { gitDir: join(dir, '.git'), env } };
}
