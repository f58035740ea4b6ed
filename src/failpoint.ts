/**
 * Failpoints: crash, exit or stall a round at a named phase, on purpose.
 * A testing aid, off unless asked for (docs/reliability.md):
 *
 *   AGENTGIT_FAILPOINT=commit            SIGKILL this process at `commit`
 *   AGENTGIT_FAILPOINT=merge:exit=3      exit with code 3 at `merge`
 *   AGENTGIT_FAILPOINT=push:sleep=500    stall 500 ms at `push` (for races)
 *   AGENTGIT_FAILPOINT=fetch,record:kill several points, each fires once
 *
 * The environment is read once, when a round starts (armFailpoints); with
 * the variable unset a failpoint costs one comparison. A malformed value
 * exits 2 (usage) before the round touches anything. A point that fires
 * writes one line to stderr first (`agentgit: failpoint NAME: kill`), so a test can tell a
 * kill that landed from one that came too late.
 */

/** The named points, in the order a round passes them (docs/sync.md). */
export const FAILPOINTS = ['commit', 'fetch', 'verify', 'merge', 'checkout', 'push', 'record'] as const;
/**
 * Points outside a round: `compact` (`agentgit compact history`: the hub has the new epoch, this instance has not crossed into it);
 * `key-swap` (a key pair being put in place, identity/keys.ts: the new public key is in place, the private key is not yet).
 */
export const OTHER_FAILPOINTS = ['compact', 'key-swap'] as const;
export type FailpointName = (typeof FAILPOINTS)[number] | (typeof OTHER_FAILPOINTS)[number];

type Action = { kind: 'kill' } | { kind: 'exit'; code: number } | { kind: 'sleep'; ms: number };

let table: Map<string, Action> | null = null;

/** Parse `PHASE[:kill|:exit=N|:sleep=MS][,…]`; throws on a malformed entry (a test's typo must not pass silently). */
export function parseFailpoints(spec: string): Map<string, Action> {
  const m = new Map<string, Action>();
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (!item) continue;
    const [name, act = 'kill'] = item.split(':', 2) as [string, string | undefined];
    if (![...FAILPOINTS, ...OTHER_FAILPOINTS].includes(name as FailpointName)) throw new Error(`AGENTGIT_FAILPOINT: unknown point "${name}" (known: ${[...FAILPOINTS, ...OTHER_FAILPOINTS].join(', ')})`);
    let a: Action;
    let v: RegExpExecArray | null;
    if (act === 'kill') a = { kind: 'kill' };
    else if ((v = /^exit=(\d{1,3})$/.exec(act))) a = { kind: 'exit', code: Number(v[1]) };
    else if ((v = /^sleep=(\d{1,7})$/.exec(act))) a = { kind: 'sleep', ms: Number(v[1]) };
    else throw new Error(`AGENTGIT_FAILPOINT: bad action "${act}" for ${name} (kill, exit=N or sleep=MS)`);
    m.set(name, a);
  }
  return m;
}

function load(): Map<string, Action> {
  if (table === null) {
    const spec = process.env.AGENTGIT_FAILPOINT;
    try {
      table = spec ? parseFailpoints(spec) : new Map();
    } catch (e) {
      // a usage error, before the round starts (armFailpoints): one line, exit 2
      process.stderr.write(`agentgit: ${(e as Error).message}; fix or unset AGENTGIT_FAILPOINT (a testing aid, docs/reliability.md)\n`);
      process.exit(2);
    }
  }
  return table;
}

/** Read AGENTGIT_FAILPOINT now, at the start of a round: a malformed value exits 2 before anything is touched. */
export function armFailpoints(): void {
  load();
}

/**
 * Pass the point `name`: does nothing unless AGENTGIT_FAILPOINT names it.
 * Kill and exit never return; sleep returns after the pause. Each point
 * fires at most once per process (a retried push passes `push` again).
 */
export async function failpoint(name: FailpointName): Promise<void> {
  const t = load();
  if (t.size === 0) return;
  const a = t.get(name);
  if (!a) return;
  t.delete(name);
  process.stderr.write(`agentgit: failpoint ${name}: ${a.kind}\n`);
  switch (a.kind) {
    case 'kill':
      process.kill(process.pid, 'SIGKILL');
      return new Promise(() => undefined); // the signal lands before this could resolve
    case 'exit':
      process.exit(a.code);
    // falls through: process.exit does not return
    case 'sleep':
      await new Promise((r) => setTimeout(r, a.ms));
  }
}
