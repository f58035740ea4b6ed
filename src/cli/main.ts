/**
 * agentgit's command line. Hot paths (`--version`, `merge-driver`, `hook`)
 * skip yargs entirely; every command module is loaded only when it runs.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, TEMPORARY: 75 } as const;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * `sync` runs every minute on every instance: parse its flags with Node's
 * own parser and skip loading yargs (~100-200 ms). Anything unusual (help,
 * a typo, a bad value) falls through to yargs, the single source of usage.
 */
function parseSyncFast(args: string[]): { C: string; quiet: boolean; json: boolean; push: boolean; timeout: number; wait: number; prometheus?: string } | null {
  try {
    const { values, positionals } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        C: { type: 'string', short: 'C' },
        quiet: { type: 'boolean', short: 'q' },
        json: { type: 'boolean' },
        'no-push': { type: 'boolean' },
        push: { type: 'boolean' },
        timeout: { type: 'string' },
        wait: { type: 'string' },
        prometheus: { type: 'string' },
      },
    });
    if (positionals.length) return null;
    const num = (v: string | undefined, d: number): number | null => (v === undefined ? d : /^\d+(\.\d+)?$/.test(v) ? Number(v) : null);
    const timeout = num(values.timeout, 120);
    const wait = num(values.wait, 0);
    if (timeout === null || wait === null) return null;
    return { C: values.C ?? '.', quiet: !!values.quiet, json: !!values.json, push: !values['no-push'], timeout, wait, prometheus: values.prometheus };
  } catch {
    return null;
  }
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
    if (first === 'sync') {
      const fast = parseSyncFast(argv.slice(1));
      if (fast) {
        const m = await import('./sync.js');
        await m.syncCommand(fast);
        return;
      }
    }
    const { runYargs } = await import('./commands.js');
    await runYargs(argv);
  } catch (e) {
    const { redactSecrets } = await import('../sync/secrets.js'); // git's stderr may quote a URL with its token
    process.stderr.write(`agentgit: ${redactSecrets((e as Error).message)}\n`);
    process.exitCode = (e as { code?: string }).code === 'EUSAGE' ? EXIT.USAGE : EXIT.FAILED;
  }
}
