/**
 * agentgit's command line. Hot paths (`--version`, `merge-driver`, `hook`)
 * skip yargs entirely; every command module is loaded only when it runs.
 */
import { readFileSync } from 'node:fs';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, TEMPORARY: 75 } as const;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<void> {
  try {
    const first = argv[0];
    if (first === '--version' || first === '-V') {
      process.stdout.write(`agentgit ${version()}\n`);
      return;
    }
    if (first === 'merge-driver') {
      const m = await import('./merge-driver.js');
      process.exitCode = await m.runMergeDriver(argv.slice(1));
      return;
    }
    if (first === 'hook') {
      const m = await import('./hook.js');
      process.exitCode = await m.runHook(argv.slice(1));
      return;
    }
    const { runYargs } = await import('./commands.js');
    await runYargs(argv);
  } catch (e) {
    process.stderr.write(`agentgit: ${(e as Error).message}\n`);
    process.exitCode = (e as { code?: string }).code === 'EUSAGE' ? EXIT.USAGE : EXIT.FAILED;
  }
}
