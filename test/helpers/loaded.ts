/** Which modules a run of the built CLI loads (bin/agentgit → dist/bundle; needs `npm run build`). */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, tempDir } from './agents.js';

/**
 * Runs the CLI with a preload (node --require) that records, at exit, every
 * CommonJS module the process loaded (the bundle is CommonJS) as a file URL,
 * and every Node built-in module loaded after the preload as `node:NAME`
 * (internal ones too, `node:internal/…`); and a module hook (node --import)
 * that records every ES module.
 */
export function loadedBy(args: string[], env: NodeJS.ProcessEnv): { urls: string[]; status: number | null; stdout: string; stderr: string } {
  const dir = tempDir();
  const log = join(dir, 'loaded.txt');
  writeFileSync(log, '');
  const preload = join(dir, 'record-loaded.cjs');
  writeFileSync(
    preload,
    `const { appendFileSync } = require('node:fs'); const { pathToFileURL } = require('node:url');
const builtins = (list) => list.filter((m) => m.startsWith('NativeModule ')).map((m) => 'node:' + m.slice('NativeModule '.length));
const before = new Set(builtins(process.moduleLoadList));
process.on('exit', () => appendFileSync(${JSON.stringify(log)}, [...Object.keys(require.cache).map((f) => pathToFileURL(f).href), ...builtins(process.moduleLoadList).filter((m) => !before.has(m))].map((u) => u + '\\n').join('')));`,
  );
  const hooks = `import { appendFileSync } from 'node:fs'; export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  const r = spawnSync(process.execPath, ['--require', preload, '--import', `data:text/javascript,${encodeURIComponent(register)}`, BIN, ...args], { env, encoding: 'utf8' });
  const self = pathToFileURL(preload).href;
  return { urls: readFileSync(log, 'utf8').split('\n').filter((u) => u && u !== self), status: r.status, stdout: r.stdout, stderr: r.stderr };
}
