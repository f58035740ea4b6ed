/**
 * Reading git's config files in-process (what `git config --list` prints,
 * without starting git), for the settings every sync round reads.
 *
 * Handles the syntax of git-config(1): sections and quoted subsections,
 * case-insensitive names, quoting, escapes, comments, continuation lines,
 * keys without a value (true). Whatever it does not handle exactly
 * (`[include]`, `[includeIf]`, config from the environment, a file it cannot
 * parse) makes it return null, and the caller asks git.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Parse one config file: [key, value] in file order; null when git must read it. */
export function parseGitConfig(text: string): Array<[string, string]> | null {
  const out: Array<[string, string]> = [];
  let section: string | null = null;
  let i = 0;
  const n = text.length;
  const skipLine = (): void => {
    while (i < n && text[i] !== '\n') i++;
  };
  while (i < n) {
    const ch = text[i]!;
    if (ch === '\n' || ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === '#' || ch === ';') {
      skipLine();
      continue;
    }
    if (ch === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) return null;
      const body = text.slice(i + 1, close);
      const m = /^([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\\n]|\\.)*)")?$/.exec(body);
      if (!m) return null;
      const name = m[1]!.toLowerCase();
      if (m[2] !== undefined) {
        if (name.includes('.')) return null;
        section = `${name}.${m[2].replace(/\\(.)/g, '$1')}`;
      } else {
        // [section.sub] (old syntax): the subsection is lowercased
        section = name;
      }
      if (name === 'include' || name === 'includeif') return null;
      i = close + 1;
      continue;
    }
    // a variable line
    if (section === null) return null;
    const km = /^[A-Za-z][A-Za-z0-9-]*/.exec(text.slice(i, i + 256));
    if (!km) return null;
    const key = `${section}.${km[0].toLowerCase()}`;
    i += km[0].length;
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n || text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      out.push([key, 'true']); // a key with no value: a boolean
      skipLine();
      continue;
    }
    if (text[i] !== '=') return null;
    i++;
    // the value: quotes toggle whitespace keeping, backslash escapes, comments end it
    let value = '';
    let quoted = false;
    let pendingSpace = '';
    let started = false;
    for (;;) {
      if (i >= n) break;
      const c = text[i]!;
      if (c === '\n' && !quoted) break;
      if (c === '\n' && quoted) return null; // git: bad config line
      if (!quoted && (c === '#' || c === ';')) {
        skipLine();
        break;
      }
      if (c === '\r' && text[i + 1] === '\n') {
        i++;
        continue;
      }
      if (!quoted && (c === ' ' || c === '\t')) {
        if (started) pendingSpace += c;
        i++;
        continue;
      }
      if (c === '"') {
        value += pendingSpace;
        pendingSpace = '';
        started = true;
        quoted = !quoted;
        i++;
        continue;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === '\n') {
          i += 2; // continuation line
          continue;
        }
        if (e === '\r' && text[i + 2] === '\n') {
          i += 3;
          continue;
        }
        const map: Record<string, string> = { n: '\n', t: '\t', b: '\b', '\\': '\\', '"': '"' };
        if (e === undefined || !(e in map)) return null;
        value += pendingSpace + map[e]!;
        pendingSpace = '';
        started = true;
        i += 2;
        continue;
      }
      value += pendingSpace + c;
      pendingSpace = '';
      started = true;
      i++;
    }
    if (quoted) return null;
    out.push([key, value]);
  }
  return out;
}

/**
 * Every config value git would see for a repo: key (lowercase section and
 * name) -> last value, from the system, global and local files. Null when
 * only git can tell (includes, config in the environment, odd syntax).
 */
export function readConfigFiles(gitDir: string, env: NodeJS.ProcessEnv = process.env): Map<string, string> | null {
  const pairs = readConfigPairs(gitDir, env);
  return pairs ? new Map(pairs) : null;
}

/**
 * Every config entry git would see for a repo, in git's order (system,
 * global, local; file order within each): what a multi-valued key (a
 * remote's fetch refspecs) needs. Null when only git can tell.
 */
export function readConfigPairs(gitDir: string, env: NodeJS.ProcessEnv = process.env): Array<[string, string]> | null {
  if (env.GIT_CONFIG_PARAMETERS || env.GIT_CONFIG_COUNT || env.GIT_CONFIG || env.GIT_CONFIG_SYSTEM || env.GIT_DIR) return null;
  const files: string[] = [];
  if (!env.GIT_CONFIG_NOSYSTEM) files.push('/etc/gitconfig');
  if (env.GIT_CONFIG_GLOBAL !== undefined) files.push(env.GIT_CONFIG_GLOBAL);
  else {
    const home = env.HOME ?? homedir();
    files.push(join(env.XDG_CONFIG_HOME || join(home, '.config'), 'git', 'config'), join(home, '.gitconfig'));
  }
  files.push(join(gitDir, 'config'));
  const all: Array<[string, string]> = [];
  for (const f of files) {
    if (!f || f === '/dev/null') continue;
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      return null;
    }
    const pairs = parseGitConfig(text);
    if (!pairs) return null;
    all.push(...pairs);
    if (f === join(gitDir, 'config') && lastValue(all, 'extensions.worktreeconfig') === 'true') return null;
  }
  return all;
}

function lastValue(pairs: Array<[string, string]>, key: string): string | undefined {
  for (let i = pairs.length - 1; i >= 0; i--) if (pairs[i]![0] === key) return pairs[i]![1];
  return undefined;
}
