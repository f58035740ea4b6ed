/** Which modules a run of the built CLI loads (bin/agentgit → dist/bundle; needs `npm run build`). */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, tempDir } from './agents.js';

/** Runs the CLI with a module hook (node --import) that records the URL of every module it loads. */
export function loadedBy(args: string[], env: NodeJS.ProcessEnv): { urls: string[]; status: number | null; stderr: string } {
  const log = join(tempDir(), 'loaded.txt');
  writeFileSync(log, '');
  const hooks = `import { appendFileSync } from 'node:fs'; export async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, BIN, ...args], { env, encoding: 'utf8' });
  return { urls: readFileSync(log, 'utf8').split('\n').filter(Boolean), status: r.status, stderr: r.stderr };
}
