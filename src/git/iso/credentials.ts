/**
 * Credentials and certificate authority for the in-process https transport,
 * read the way git reads them, with no git and no helper process:
 *
 * - token: `AGENTGIT_TOKEN` (sent as the password of user `x-access-token`,
 *   what GitHub and Gitea accept; only to the configured hub's host), else the first matching line of git's
 *   credential store file: the file named by `credential.helper store
 *   --file PATH` (in the repository's config, the global config or
 *   GIT_CONFIG_* in the environment, scoped `credential.<url>.helper` or
 *   not), else `~/.git-credentials`, else `$XDG_CONFIG_HOME/git/credentials`;
 * - CA: `GIT_SSL_CAINFO`, else `http.sslCAInfo` (or `http.<url>.sslCAInfo`).
 *
 * The token never goes into a URL and is never logged: it travels only in
 * the Authorization header of the request (iso/http.ts).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseGitConfig } from '../config.js';

export interface Credential {
  username: string;
  password: string;
}

/** Every config pair git would see, in order (system, global, local, environment); later wins. */
export function configPairs(gitDir: string | null, env: NodeJS.ProcessEnv = process.env): Array<[string, string]> {
  const files: string[] = [];
  if (!env.GIT_CONFIG_NOSYSTEM) files.push(env.GIT_CONFIG_SYSTEM ?? '/etc/gitconfig');
  const home = env.HOME ?? homedir();
  if (env.GIT_CONFIG_GLOBAL !== undefined) files.push(env.GIT_CONFIG_GLOBAL);
  else files.push(join(env.XDG_CONFIG_HOME || join(home, '.config'), 'git', 'config'), join(home, '.gitconfig'));
  if (gitDir) files.push(join(gitDir, 'config'));
  const out: Array<[string, string]> = [];
  for (const f of files) {
    if (!f || f === '/dev/null') continue;
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    out.push(...(parseGitConfig(text) ?? []));
  }
  const n = Number(env.GIT_CONFIG_COUNT ?? 0);
  for (let i = 0; i < n; i++) {
    const k = env[`GIT_CONFIG_KEY_${i}`];
    const v = env[`GIT_CONFIG_VALUE_${i}`];
    if (k !== undefined && v !== undefined) out.push([lowerKey(k), v]);
  }
  return out;
}

/** git's key case rule: section and name lowercase, a subsection (the middle) as written. */
export function lowerKey(k: string): string {
  const first = k.indexOf('.');
  const last = k.lastIndexOf('.');
  if (first < 0) return k.toLowerCase();
  if (first === last) return k.toLowerCase();
  return `${k.slice(0, first).toLowerCase()}${k.slice(first, last)}.${k.slice(last + 1).toLowerCase()}`;
}

/** Whether a config url scope (`https://host[:port][/path]`) applies to `url` (git's urlmatch, simplified: same scheme, host, port; path prefix). */
export function scopeMatches(scope: string, url: string): boolean {
  let s: URL;
  let u: URL;
  try {
    s = new URL(scope);
    u = new URL(url);
  } catch {
    return false;
  }
  if (s.protocol !== u.protocol || s.hostname.toLowerCase() !== u.hostname.toLowerCase() || s.port !== u.port) return false;
  const sp = s.pathname.replace(/\/+$/, '');
  return sp === '' || u.pathname === sp || u.pathname.startsWith(`${sp}/`);
}

/** The values of `section.<url>.name` and `section.name` that apply to `url`, in config order. */
function scopedValues(pairs: Array<[string, string]>, section: string, name: string, url: string): string[] {
  const out: string[] = [];
  for (const [k, v] of pairs) {
    if (k === `${section}.${name}`) out.push(v);
    else if (k.startsWith(`${section}.`) && k.endsWith(`.${name}`)) {
      const scope = k.slice(section.length + 1, k.length - name.length - 1);
      if (scopeMatches(scope, url)) out.push(v);
    }
  }
  return out;
}

/** Split a helper's command line like a shell would for the simple forms git documents (quotes, backslashes). */
function shellWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let any = false;
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q === "'") {
      if (c === "'") q = null;
      else cur += c;
    } else if (q === '"') {
      if (c === '"') q = null;
      else if (c === '\\' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      q = c;
      any = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      any = true;
    } else if (/\s/.test(c)) {
      if (cur || any) words.push(cur);
      cur = '';
      any = false;
    } else cur += c;
  }
  if (cur || any) words.push(cur);
  return words;
}

/** The credential store files git would read for `url`, in order. */
export function storeFiles(pairs: Array<[string, string]>, url: string, env: NodeJS.ProcessEnv = process.env): string[] {
  // an empty helper value resets the list (git's rule)
  let helpers: string[] = [];
  for (const v of scopedValues(pairs, 'credential', 'helper', url)) {
    if (v === '') helpers = [];
    else helpers.push(v);
  }
  const home = env.HOME ?? homedir();
  const defaults = [join(home, '.git-credentials'), join(env.XDG_CONFIG_HOME || join(home, '.config'), 'git', 'credentials')];
  const files: string[] = [];
  for (const h of helpers) {
    const w = shellWords(h);
    if (w[0] !== 'store') continue; // other helpers need a process: not here
    const i = w.findIndex((x) => x === '--file' || x.startsWith('--file='));
    if (i < 0) files.push(...defaults);
    else files.push(w[i]!.startsWith('--file=') ? w[i]!.slice(7) : (w[i + 1] ?? ''));
  }
  if (helpers.length === 0) files.push(...defaults);
  return files.filter((f) => f !== '').map((f) => resolve(f.replace(/^~(?=\/)/, home)));
}

/** The first line of a store file matching `url`: same scheme and host (with port); a path in the line must prefix the URL's. */
export function credentialFromStore(text: string, url: string): Credential | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    // git writes each part percent-encoded, the port's colon too (`host%3a8443`)
    const m = /^([a-z][a-z0-9+.-]*):\/\/(?:([^:@/]*)(?::([^@/]*))?@)([^/]*)(\/.*)?$/i.exec(line.trim());
    if (!m) continue;
    let host: string;
    let user: string;
    let pass: string;
    let path: string;
    try {
      [user, pass, host, path] = [m[2] ?? '', m[3] ?? '', m[4]!, m[5] ?? ''].map(decodeURIComponent) as [string, string, string, string];
    } catch {
      continue;
    }
    if (`${m[1]!.toLowerCase()}:` !== u.protocol || host.toLowerCase() !== u.host.toLowerCase()) continue;
    const p = path.replace(/\/+$/, '');
    if (p && u.pathname !== p && !u.pathname.startsWith(`${p}/`)) continue;
    return { username: user, password: pass };
  }
  return null;
}

/**
 * Whether AGENTGIT_TOKEN may go to `url`: only to the configured hub's host
 * (scheme, host and port of `remote.<agentgit.remote or origin>.url`);
 * before a repository or its hub remote exists (clone, init --remote), the
 * URL given is the hub.
 */
export function tokenGoesTo(url: string, pairs: Array<[string, string]>): boolean {
  let remote = 'origin';
  for (const [k, v] of pairs) if (k === 'agentgit.remote') remote = v;
  let hub: string | null = null;
  for (const [k, v] of pairs) if (k === lowerKey(`remote.${remote}.url`)) hub = v;
  if (hub === null) return true;
  try {
    const [a, b] = [new URL(url), new URL(hub)];
    return a.protocol === b.protocol && a.host.toLowerCase() === b.host.toLowerCase();
  } catch {
    return false;
  }
}

/** The credential for `url`: AGENTGIT_TOKEN (the hub's host only: tokenGoesTo), else git's store files. Null when none. */
export function credentialFor(url: string, gitDir: string | null, env: NodeJS.ProcessEnv = process.env): Credential | null {
  const pairs = configPairs(gitDir, env);
  if (env.AGENTGIT_TOKEN && tokenGoesTo(url, pairs)) return { username: 'x-access-token', password: env.AGENTGIT_TOKEN };
  for (const f of storeFiles(pairs, url, env)) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const c = credentialFromStore(text, url);
    if (c) return c;
  }
  return null;
}

/** The CA file for `url`: GIT_SSL_CAINFO, else http.sslCAInfo (scoped or not; the last wins). Null: the system's CAs. */
export function caFileFor(url: string, gitDir: string | null, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.GIT_SSL_CAINFO) return env.GIT_SSL_CAINFO;
  const v = scopedValues(configPairs(gitDir, env), 'http', 'sslcainfo', url).at(-1);
  return v ? resolve(v.replace(/^~(?=\/)/, env.HOME ?? homedir())) : null;
}
