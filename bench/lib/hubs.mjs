/**
 * The test suite's real hubs (test/helpers/hubs.ts: a bare repo on disk, and
 * OpenSSH's sshd with a forced git-shell on 127.0.0.1), loaded as they are:
 * the TypeScript file is transpiled (types stripped, nothing else) into a
 * temp dir and imported, so the bench and the tests share one implementation.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './util.mjs';

let cached;

export async function loadHubs() {
  if (cached) return cached;
  const { default: ts } = await import('typescript');
  const src = readFileSync(join(ROOT, 'test', 'helpers', 'hubs.ts'), 'utf8');
  const out = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    fileName: 'hubs.ts',
  }).outputText;
  const dir = mkdtempSync(join(os.tmpdir(), 'agentgit-bench-hubs-'));
  const file = join(dir, 'hubs.mjs');
  writeFileSync(file, out);
  try {
    cached = await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return cached;
}
