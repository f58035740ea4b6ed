/** The yargs command table. Each command lives in its own file, loaded when run. */
import yargs from 'yargs';
import { version } from './main.js';

export async function runYargs(argv: string[]): Promise<void> {
  const dir = { alias: 'C', type: 'string', default: '.', describe: 'run as if started in this directory' } as const;
  const json = { type: 'boolean', default: false, describe: 'print a JSON report' } as const;
  await yargs(argv)
    .scriptName('agentgit')
    .usage('agentgit: keep an agent\'s state in sync through Git\n\nUsage: $0 <command> [options]')
    .command(
      'init',
      'make a directory an agentgit repo (adopting files and any Git history there)',
      (y) =>
        y
          .option('C', dir)
          .option('remote', { type: 'string', describe: 'hub URL (ssh or https; credentials stay in ssh config / credential helper)' })
          .option('branch', { type: 'string', describe: 'branch to sync (default: the current one, or main)' })
          .option('agent', { type: 'string', describe: 'agent name, used in commit authors (default: agent)' })
          .option('instance', { type: 'string', describe: 'this instance\'s id (default: host name + random suffix)' })
          .option('timeout', { type: 'number', default: 120, describe: 'seconds for the first exchange with the hub' })
          .option('new-key', { type: 'boolean', default: false, describe: "make a new signing key when this instance's key is lost for good (it must be admitted again)" })
          .option('rename', { type: 'boolean', default: false, describe: 'with --instance NEW on a set-up repo: rename this instance (the old name is retired)' })
          .option('json', json),
      async (a) => (await import('./init.js')).initCommand(a),
    )
    .command(
      'clone <url> <dir>',
      'join existing state as a new instance (new server, migration)',
      (y) =>
        y
          .positional('url', { type: 'string', demandOption: true })
          .positional('dir', { type: 'string', demandOption: true })
          .option('branch', { type: 'string', describe: "the hub's branch to sync (default: the hub's HEAD, else main, master or its only branch)" })
          .option('agent', { type: 'string' })
          .option('instance', { type: 'string' })
          .option('timeout', { type: 'number', default: 120 })
          .option('trust-self', { type: 'boolean', default: false, describe: 'admit this instance itself (only where the policy allows open enrollment; see docs/security.md)' })
          .option('json', json),
      async (a) => (await import('./clone.js')).cloneCommand(a as never),
    )
    .command(
      'sync',
      'one sync round: commit, fetch, merge, push (cron-safe)',
      (y) =>
        y
          .option('C', dir)
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing on success' })
          .option('json', json)
          .option('push', { type: 'boolean', default: true, describe: 'push to the hub (--no-push: commit and merge only)' })
          .option('timeout', { type: 'number', default: 120, describe: 'deadline in seconds for the whole round' })
          .option('wait', { type: 'number', default: 0, describe: 'seconds to wait for another sync holding the lock' })
          .option('prometheus', { type: 'string', describe: 'write node_exporter textfile metrics to FILE after the round' }),
      async (a) => (await import('./sync.js')).syncCommand(a),
    )
    .command(
      'status',
      'health of this instance and the fleet: lag, drift, conflicts, held files, recovery',
      (y) =>
        y
          .option('C', dir)
          .option('json', json)
          .option('check', { type: 'boolean', default: false, describe: 'exit 0 ok, 1 warn, 2 fail (print only when not ok)' })
          .option('prometheus', { type: 'string', describe: 'also write node_exporter textfile metrics to FILE (atomically)' }),
      async (a) => (await import('./status.js')).statusCommand(a),
    )
    .command(
      'log',
      'audit trail: who wrote what, signature status, entries and keys per commit',
      (y) =>
        y
          .option('C', dir)
          .option('json', json)
          .option('instance', { type: 'string', describe: 'only this instance' })
          .option('since', { type: 'string', describe: 'only commits after DATE (git date formats)' })
          .option('path', { type: 'string', describe: 'only commits touching paths matching GLOB' })
          .option('max', { type: 'number', default: 50, describe: 'at most this many commits' }),
      async (a) => (await import('./log.js')).logCommand(a),
    )
    .command(
      'conflicts',
      'concurrent writes resolved by last-writer-wins, with both values',
      (y) => y.option('C', dir).option('json', json),
      async (a) => (await import('./conflicts.js')).conflictsCommand(a),
    )
    .command(
      'rebuild',
      "run the policy's rebuild command for derived state now",
      (y) => y.option('C', dir),
      async (a) => (await import('./rebuild.js')).rebuildCommand(a),
    )
    .command(
      'doctor',
      'check git, drivers, hooks, hub access, keys and remote URL; print each fix',
      (y) => y.option('C', dir).option('json', json).option('timeout', { type: 'number', default: 20 }),
      async (a) => (await import('./doctor.js')).doctorCommand(a),
    )
    .command(
      'trust <action> [arg]',
      'admit (add), list or remove instances allowed to write this state',
      (y) =>
        y
          .positional('action', { choices: ['add', 'list', 'remove'] as const, demandOption: true })
          .positional('arg', { type: 'string', describe: 'add: the allowed_signers line clone printed; remove: AGENT/INSTANCE' })
          .option('principal', { type: 'string', describe: 'AGENT/INSTANCE, when the key line does not name it' })
          .option('C', dir)
          .option('json', json),
      async (a) => (await import('./trust.js')).trustCommand(a as never),
    )
    .command('instances [action] [name]', 'the fleet: active, removed and retired instances; `instances retire NAME` for one gone for good', (y) => y.positional('action', { choices: ['list', 'retire'] as const }).positional('name', { type: 'string' }).option('C', dir).option('json', json).option('timeout', { type: 'number', default: 60 }), async (a) => (await import('./instances.js')).instancesCommand(a as never))
    .command(
      'identity <action> [file]',
      "this instance's signing key: show, export FILE (private key: see help), import FILE",
      (y) =>
        y
          .positional('action', { choices: ['show', 'export', 'import'] as const, demandOption: true })
          .positional('file', { type: 'string' })
          .option('C', dir)
          .option('json', json),
      async (a) => (await import('./identity.js')).identityCommand(a as never),
    )
    .command(
      'verify',
      'audit history: signatures by admitted keys, log rewrites, secrets in any object',
      (y) => y.option('C', dir).option('json', json),
      async (a) => (await import('./verify.js')).verifyCommand(a),
    )
    .command(
      'policy <action>',
      "the layer policy this machine runs: show it, diff what a synced change asks for, accept it here",
      (y) =>
        y
          .positional('action', { choices: ['show', 'diff', 'accept'] as const, demandOption: true })
          .option('id', { type: 'string', describe: 'accept: only if the policy file is still this one (the id `policy diff` printed)' })
          .option('C', dir)
          .option('json', json),
      async (a) => (await import('./policy.js')).policyCommand(a as never),
    )
    .command('merge-driver <kind> <base> <ours> <theirs> [size] [path]', 'git merge driver (registered by init; not for direct use)', () => undefined, () => undefined)
    .demandCommand(1, 'name a command: init, clone, sync, status or doctor')
    .strict()
    .version(version())
    .help()
    .alias('h', 'help')
    .wrap(100)
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`agentgit: ${msg}\nRun \`agentgit --help\` for usage.\n`);
      process.exit(2);
    })
    .parseAsync();
}
