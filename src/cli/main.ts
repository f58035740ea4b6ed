/**
 * agentgit's command line. Hot paths (`--version`, `merge-driver`, `hook`)
 * skip yargs entirely; every command module is loaded only when it runs.
 */
import { parseArgs } from 'node:util';
import { EXIT, exitCodeOf, messageOf } from '../errors.js';
import { openHubConnectionAhead } from '../sync/ssh-ahead.js';
import { version } from './version.js';

export { EXIT };

export { version };

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

/**
 * A failure, the one way every command reports it: one line on stderr, or
 * with --json a JSON object on stdout (`{"ok":false,"error":...,"exitCode":N}`).
 */
export function reportError(message: string, exitCode: number, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: message, exitCode }, null, 2) + '\n');
  else process.stderr.write(`agentgit: ${message}\n`);
  process.exitCode = exitCode;
}

/** Whether the command line asks for JSON (before any `--`). */
export function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--json' || a === '--json=true');
}

/**
 * `agentgit log | head`: the reader went away; stop quietly, as git does.
 * The handler goes on each stream when it is first used: making
 * process.stdout and process.stderr costs a few ms, and `sync --quiet`
 * from cron usually writes to neither.
 */
function quietOnEpipe(): void {
  const quiet = (s: NodeJS.WriteStream): void => {
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      throw e;
    });
  };
  for (const name of ['stdout', 'stderr'] as const) onFirstUse(name, quiet);
}

/** Run `hook` on process[name] when something first asks for it (Node makes the stream then), or now when that cannot be arranged. */
function onFirstUse(name: 'stdout' | 'stderr', hook: (s: NodeJS.WriteStream) => void): void {
  const d = Object.getOwnPropertyDescriptor(process, name);
  const make = d?.get;
  if (!make || !d.configurable) {
    hook(process[name]);
    return;
  }
  let made: NodeJS.WriteStream | null = null;
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: d.enumerable ?? true,
    get(): NodeJS.WriteStream {
      if (made === null) {
        made = make.call(process) as NodeJS.WriteStream;
        hook(made);
      }
      return made;
    },
  });
}

export async function main(argv: string[]): Promise<void> {
  quietOnEpipe();
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
        // an ssh hub: the login starts now, beside the loading of the round (sync/ssh-ahead.ts); a bad --timeout is a usage error first
        const closeAhead = fast.timeout > 0 ? openHubConnectionAhead(fast.C, Math.min(fast.timeout * 1000, 20_000)) : null;
        try {
          const m = await import('./sync.js');
          await m.syncCommand(fast);
        } finally {
          closeAhead?.();
        }
        return;
      }
    }
    const { runYargs } = await import('./commands.js');
    // `agentgit help [COMMAND]`, as git and gh take it
    await runYargs(first === 'help' ? [...argv.slice(1, 2), '--help'] : argv);
  } catch (e) {
    const { redactSecrets } = await import('../sync/secrets.js'); // git's stderr may quote a URL with its token
    reportError(redactSecrets(messageOf(e)), exitCodeOf(e), wantsJson(argv));
  }
}
