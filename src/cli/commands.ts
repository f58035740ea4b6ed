/** The yargs command table. Each command lives in its own file, loaded when run. */
import { reportError, version, wantsJson } from './main.js';

/** The exit codes every command but `status --check` uses (see src/errors.ts). */
export const EXIT_CODES = 'Exit codes: 0 ok; 1 failed, nothing lost (the message says what to do); 2 usage; 75 temporary (hub unreachable, another sync running): the next run retries.';

export async function runYargs(argv: string[]): Promise<void> {
  const dir = { type: 'string', default: '.', describe: 'run as if agentgit was started in DIR (like git -C)', requiresArg: true } as const;
  const json = { type: 'boolean', default: false, describe: 'print a JSON report (errors too: {"ok":false,"error":...,"exitCode":N})' } as const;
  // import(), not import: yargs is an ES module, and the bundle is CommonJS
  // (a require of an ES module needs Node 20.19)
  const { default: yargs } = await import('yargs');
  const y0 = yargs(argv);
  await y0
    .scriptName('agentgit')
    .usage('agentgit: keep an agent\'s state in sync through Git\n\nUsage: $0 <command> [options]   (`$0 <command> --help` for its options)')
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
          .option('json', json)
          .example('$0 init -C ~/agent --remote git@hub:agent.git --agent kevin', 'adopt ~/agent and sync it through the hub')
          .epilogue(EXIT_CODES),
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
          .option('json', json)
          .example('$0 clone git@hub:agent.git ~/agent', 'a new instance of the agent; then run the printed `agentgit trust add` line on an admitted one')
          .epilogue(EXIT_CODES),
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
          .option('prometheus', { type: 'string', describe: 'write node_exporter textfile metrics to FILE after the round' })
          .example('* * * * * agentgit sync -C ~/agent --quiet', 'crontab line: silent unless something needs a person, or the hub stays unreachable past the lag threshold')
          .epilogue(EXIT_CODES),
      async (a) => (await import('./sync.js')).syncCommand(a),
    )
    .command(
      'watch',
      'stay up and sync on change: after local writes settle, when the hub moves, and every interval',
      (y) =>
        y
          .option('C', dir)
          .option('debounce', { type: 'number', default: 2000, describe: 'milliseconds of quiet after a local change before a round' })
          .option('poll', { type: 'number', default: 30, describe: 'seconds between cheap checks whether the hub moved' })
          .option('interval', { type: 'number', default: 300, describe: 'seconds between rounds run regardless' })
          .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only errors' })
          .option('json', { type: 'boolean', default: false, describe: 'one JSON line per round (the sync outcome and its trigger)' })
          .example('$0 watch -C ~/agent --quiet', 'a systemd service or container entry point; SIGTERM exits 0, SIGHUP re-reads the policy')
          .epilogue('Exit codes: 0 stopped by SIGTERM/SIGINT; 1 could not start (the message says why); 2 usage. Rounds that fail are logged and retried; the watcher keeps running.'),
      async (a) => (await import('./watch.js')).watchCommand(a),
    )
    .command(
      'pause',
      'sync and watch do nothing until resumed (or for DURATION); local writes are kept',
      (y) =>
        y
          .option('C', dir)
          .option('for', { type: 'string', requiresArg: true, describe: 'pause for DURATION (30m, 2h, 1d, 1h30m), then resume by itself' })
          .option('json', json)
          .example('$0 pause -C ~/agent --for 2h', 'no sync for two hours')
          .epilogue(EXIT_CODES),
      async (a) => (await import('./pause.js')).pauseCommand(a),
    )
    .command(
      'resume',
      'end a pause: the next round (at once under watch) syncs what was written meanwhile',
      (y) => y.option('C', dir).option('json', json).example('$0 resume -C ~/agent', 'sync again (a running watcher starts a round at once)').epilogue(EXIT_CODES),
      async (a) => (await import('./pause.js')).resumeCommand(a),
    )
    .command(
      'status',
      'health of this instance and the fleet: lag, drift, conflicts, held files, recovery',
      (y) =>
        y
          .option('C', dir)
          .option('json', json)
          .option('check', { type: 'boolean', default: false, describe: 'exit 0 ok, 1 warn, 2 fail (print only when not ok)' })
          .option('prometheus', { type: 'string', describe: 'also write node_exporter textfile metrics to FILE (atomically)' })
          .example('$0 status -C ~/agent --check', 'for probes: prints nothing and exits 0 when healthy')
          .epilogue('Exit codes: 0 ok (with --check: healthy); 1 failed (with --check: warn); 2 usage (with --check: fail).'),
      async (a) => (await import('./status.js')).statusCommand(a),
    )
    .command(
      'compact <what>',
      'shrink what grows: `history` starts a new epoch on the hub (old history archived), `logs` moves old daily logs into monthly archives, `auto` does what the policy\'s "compaction" block says is due (one instance at a time)',
      (y) =>
        y
          .positional('what', { choices: ['history', 'logs', 'auto'] as const, demandOption: true })
          .option('C', dir)
          .option('json', json)
          .option('export', { type: 'string', describe: 'history: also write the archived history to FILE as a git bundle', requiresArg: true })
          .option('before', { type: 'string', describe: 'history: keep the commits after DATE (YYYY-MM-DD = 00:00 UTC, or an ISO time with a zone): the epoch carries the tree of the last commit at or before it, later commits are replayed on top', requiresArg: true })
          .option('older-than', { type: 'string', default: '90d', describe: 'logs: move daily logs whose file-name date is older than this many days', requiresArg: true })
          .option('today', { type: 'string', describe: 'logs, auto: count days from this date (YYYY-MM-DD) instead of today (UTC)', requiresArg: true })
          .option('quiet', { type: 'boolean', default: false, describe: 'auto: print nothing unless it fails (for cron and systemd timers)' })
          .option('ttl', { type: 'string', describe: 'auto: ttl of lease "compaction", renewed every ttl/3 while compacting (default 30m)', requiresArg: true })
          .option('timeout', { type: 'number', default: 120, describe: 'history: deadline in seconds for each exchange with the hub' })
          .option('wait', { type: 'number', default: 0, describe: 'seconds to wait for a sync holding the lock' })
          .example('$0 compact history -C ~/agent --export ~/agent-history.bundle', 'new epoch; every instance carries its work over at its next sync')
          .example('$0 compact history -C ~/agent --before 2026-06-01', 'new epoch at the last commit before June (00:00 UTC); later commits are replayed on top')
          .example('$0 compact logs -C ~/agent --older-than 90d', 'memory/2026-01-05.md and its month go to memory/archive/2026-01.md')
          .example('0 3 * * * agentgit compact auto -C ~/agent', 'crontab line: compact what .agentgit/config.json "compaction" says is due, on one instance')
          .epilogue(EXIT_CODES),
      async (a) => (await import('./compact.js')).compactCommand(a as never),
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
          .option('max', { type: 'number', default: 50, describe: 'at most this many commits' })
          .option('archive', { type: 'boolean', default: false, describe: 'the history archived by `compact history` (refs/agentgit/archive/*) instead of the current one' })
          .example("$0 log -C ~/agent --since '2 days ago' --path 'memory/**'", 'who changed memory/ lately')
          .epilogue(EXIT_CODES),
      async (a) => (await import('./log.js')).logCommand(a),
    )
    .command(
      'conflicts [action] [id]',
      'concurrent writes resolved by last-writer-wins, with both values; `conflicts take ID` restores the losing one',
      (y) =>
        y
          .positional('action', { choices: ['list', 'take'] as const, default: 'list', describe: 'list (default), or take: write the losing value of record ID back (committed at the next sync)' })
          .positional('id', { type: 'string', describe: 'take: the record ID the list shows' })
          .option('C', dir)
          .option('json', json)
          .option('path', { type: 'string', describe: 'only records of paths matching GLOB' })
          .option('since', { type: 'string', describe: 'only records from DATE on (ISO 8601, e.g. 2026-12-01 or 2026-12-01T10:00Z)' })
          .example('$0 conflicts -C ~/agent --path "memory/*.json" --since 2026-12-01', 'what last-writer-wins decided lately')
          .example('$0 conflicts take 3f2a9c1e -C ~/agent', 'bring the losing value back (a new write, synced at the next round)')
          .epilogue(EXIT_CODES),
      async (a) => (await import('./conflicts.js')).conflictsCommand(a),
    )
    .command(
      'rebuild',
      "run the policy's rebuild command for derived state now",
      (y) => y.option('C', dir).example('$0 rebuild -C ~/agent', 'rebuild the derived state now')
          .epilogue(EXIT_CODES),
      async (a) => (await import('./rebuild.js')).rebuildCommand(a),
    )
    .command(
      'doctor',
      'check git, drivers, hooks, hub access, keys and remote URL; print each fix',
      (y) =>
        y
          .option('C', dir)
          .option('json', json)
          .option('timeout', { type: 'number', default: 20, describe: 'seconds for the hub checks' })
          .example('$0 doctor -C ~/agent', 'check this instance, print the fix for each problem')
          .epilogue(EXIT_CODES),
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
          .option('json', json)
          .example("$0 trust add 'kevin/box2 ssh-ed25519 AAAA…' -C ~/agent", 'admit a new instance (the line its clone printed)')
          .epilogue(EXIT_CODES),
      async (a) => (await import('./trust.js')).trustCommand(a as never),
    )
    .command('instances [action] [name]', 'the fleet: active, removed and retired instances; `instances retire NAME` for one gone for good', (y) =>
        y
          .positional('action', { choices: ['list', 'retire'] as const })
          .positional('name', { type: 'string' })
          .option('C', dir)
          .option('json', json)
          .option('timeout', { type: 'number', default: 60 })
          .example('$0 instances retire server-old -C ~/agent', 'forget an instance gone for good')
          .epilogue(EXIT_CODES), async (a) => (await import('./instances.js')).instancesCommand(a as never))
    .command(
      'identity <action> [file]',
      "this instance's signing key: show, export FILE (private key: see help), import FILE",
      (y) =>
        y
          .positional('action', { choices: ['show', 'export', 'import'] as const, demandOption: true })
          .positional('file', { type: 'string' })
          .option('C', dir)
          .option('json', json)
          .example('$0 identity show -C ~/agent', "this instance's public key and principal")
          .epilogue(EXIT_CODES),
      async (a) => (await import('./identity.js')).identityCommand(a as never),
    )
    .command(
      'verify',
      'audit history: signatures by admitted keys, log rewrites, secrets in any object',
      (y) => y.option('C', dir).option('json', json).example('$0 verify -C ~/agent', 'audit the whole history')
          .epilogue(EXIT_CODES),
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
          .option('json', json)
          .example('$0 policy diff -C ~/agent', 'what a synced policy change asks of this machine')
          .epilogue(EXIT_CODES),
      async (a) => (await import('./policy.js')).policyCommand(a as never),
    )
    .command(
      'schedule <action>',
      'run sync on a schedule (systemd user timer or crontab line), or `agentgit watch` as a service',
      (y) =>
        y
          .positional('action', { choices: ['install', 'remove', 'show'] as const, demandOption: true, describe: 'install (idempotent), remove (this repo only), show (installed, and what install would write)' })
          .option('C', dir)
          .option('every', { type: 'string', default: '1m', describe: 'period: 30s, 1m, 5m, 1h… (cron: 1m or more)' })
          .option('watch', { type: 'boolean', default: false, describe: 'a systemd service running `agentgit watch` instead of a timer' })
          .option('systemd', { type: 'boolean', default: false, describe: 'systemd user units (default when `systemctl --user` answers)' })
          .option('cron', { type: 'boolean', default: false, describe: "a line in this user's crontab (default otherwise)" })
          .option('json', json)
          .example('$0 schedule install -C ~/agent --every 1m', 'sync every minute from a systemd user timer, else from crontab')
          .example('$0 schedule show -C ~/agent --cron', 'print the crontab line install would add')
          .epilogue(EXIT_CODES),
      async (a) => (await import('./schedule.js')).scheduleCommand(a as never),
    )
    .command(
      'lease <action> [name]',
      'run work on one instance at a time: a lease on the hub (run NAME -- CMD, or acquire/renew/release/status)',
      (y) =>
        y
          .parserConfiguration({ 'populate--': true })
          .positional('action', { choices: ['run', 'acquire', 'renew', 'release', 'status'] as const, demandOption: true, describe: 'run: take NAME, run CMD while holding it, release it; acquire/renew/release: for scripts; status: holder, generation, age (all leases without NAME)' })
          .positional('name', { type: 'string', describe: 'the lease: letters, digits, ".", "_", "-"' })
          .option('C', dir)
          .option('ttl', { type: 'string', default: '10m', describe: 'how long the lease outlives its last renewal (1s to 7d); the holder renews every ttl/3' })
          .option('wait', { type: 'number', default: 0, describe: 'seconds to wait for the lease when another instance holds it' })
          .option('json', json)
          .example('$0 lease run digest -C ~/agent -- ./send-digest.sh', 'send the daily digest from one instance only; CMD gets AGENTGIT_LEASE_TOKEN')
          .example('$0 lease status -C ~/agent', 'every lease: holder, generation, how long unchanged')
          .epilogue("Exit codes: 0 ok (run: the command's own status, 128+N when signal N ended it); 1 failed, nothing lost (the message says what to do); 2 usage; 75 temporary: another instance holds the lease (the message says who and the earliest it can be taken), the lease was lost or could not be renewed in time (the command was stopped), or the hub is unreachable. Docs: docs/leases.md."),
      async (a) => (await import('./lease.js')).leaseCommand(a as never),
    )
    .command('merge-driver <kind> <base> <ours> <theirs> [size] [path]', 'git merge driver (registered by init; not for direct use)', () => undefined, () => undefined)
    .demandCommand(1, 'name a command (listed above)')
    .recommendCommands()
    .strict()
    .version(version())
    .help()
    .alias('h', 'help')
    .epilogue(`${EXIT_CODES}\nDocs: README.md, docs/sync.md (exit codes), docs/security.md, docs/merging.md.`)
    .wrap(100)
    .fail((msg, err) => {
      if (err) throw err;
      if (wantsJson(argv)) reportError(/^Did you mean/.test(msg) ? `unknown command '${argv[0]}'. ${msg}` : msg, 2, true);
      else if (argv.length === 0) {
        // bare `agentgit`: every command, as `--help` lists them
        y0.showHelp((h) => process.stderr.write(h + '\n'));
        process.exitCode = 2;
      } else {
        const typo = /^Did you mean/.test(msg) ? `unknown command '${argv[0]}'. ` : '';
        process.stderr.write(`agentgit: ${typo}${msg}\nRun \`agentgit --help\` (or \`agentgit COMMAND --help\`) for usage.\n`);
        process.exitCode = 2;
      }
      process.exit(2);
    })
    .parseAsync();
}
