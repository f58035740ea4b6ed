/**
 * `agentgit lease run NAME -- CMD…` and `lease acquire|renew|release|status`:
 * single-writer work across instances (docs/leases.md).
 */
import { readFile } from 'node:fs/promises';
import { FailedError, TemporaryError } from '../errors.js';
import { isAdmitted } from '../identity/admission.js';
import { openContext, UsageError, type Context } from '../sync/context.js';
import { parseDuration } from '../sync/pause.js';
import { acquire, heldMessage, holdWhileRunning, renewOnce, type Held } from '../coord/holder.js';
import { decide, fmtMs, MAX_TTL_MS, MIN_TTL_MS, observe, timing, validName, type LeaseView } from '../coord/lease.js';
import { fetchAllLeases, fetchLease, leaseVerifier, monoNs, netTimeoutMs, readMemory, writeMemory } from '../coord/store.js';
import { printJson } from './output.js';

export interface LeaseArgs {
  action: 'run' | 'acquire' | 'renew' | 'release' | 'status';
  name?: string;
  C: string;
  ttl: string;
  wait: number;
  json: boolean;
  '--'?: Array<string | number>;
}

function parseTtl(s: string): number {
  const ms = parseDuration(s);
  if (ms === null || ms < MIN_TTL_MS || ms > MAX_TTL_MS) throw new UsageError(`--ttl ${s} is not a lease duration: give one from 1s to 7d, e.g. 30s, 10m, 2h`);
  return Math.round(ms);
}

function needName(a: LeaseArgs): string {
  if (!a.name) throw new UsageError(`name the lease: agentgit lease ${a.action} NAME`);
  if (!validName(a.name)) throw new UsageError(`lease name "${a.name}" is not usable: letters, digits, '.', '_' and '-' only (at most 100, starting with a letter or digit)`);
  return a.name;
}

/** The instance must be able to write believable lease commits: a hub, signing on, its key admitted. */
export async function checkWriter(ctx: Context): Promise<void> {
  const { settings, repo } = ctx;
  const remote = settings.remote;
  if (!/[/:]/.test(remote) && !ctx.config.get(`remote.${remote}.url`)) {
    throw new FailedError(`no hub configured for ${repo.root}: leases live on the hub (\`agentgit init -C ${repo.root} --remote URL\` sets one)`);
  }
  const me = `${settings.agent}/${settings.instance}`;
  const pub = settings.signingKey ? await readFile(`${settings.signingKey}.pub`, 'utf8').catch(() => '') : '';
  if (!settings.sign || !pub) throw new FailedError(`${me} does not sign its commits (commit.gpgsign / user.signingkey in ${repo.gitDir}/config): other instances would not believe its leases; run \`agentgit doctor -C ${repo.root}\``);
  if (!(await isAdmitted(repo, 'HEAD', pub))) {
    throw new FailedError(`${me} is not admitted (its key is not in .agentgit/allowed_signers as of its last sync), so other instances would not believe its leases: admit it on an admitted instance (\`agentgit trust add\`), then sync here`);
  }
}

export async function leaseCommand(a: LeaseArgs): Promise<void> {
  if (a.action === 'status') return statusCommand(a);
  const name = needName(a);
  const ttlMs = parseTtl(a.ttl);
  if (!(a.wait >= 0) || !Number.isFinite(a.wait)) throw new UsageError(`--wait ${a.wait} is not a number of seconds (0 or more)`);
  const cmd = (a['--'] ?? []).map(String);
  if (a.action === 'run' && cmd.length === 0) throw new UsageError('name the command to run after --: agentgit lease run NAME -- CMD [ARGS…]');
  if (a.action !== 'run' && cmd.length) throw new UsageError(`lease ${a.action} runs no command: use \`agentgit lease run ${name} -- ${cmd.join(' ')}\``);
  const ctx = await openContext(a.C);
  try {
    await checkWriter(ctx);
    if (a.action === 'run') return await runCommand(ctx, name, ttlMs, a.wait * 1000, cmd);
    if (a.action === 'acquire') return await acquireCommand(ctx, name, ttlMs, a);
    return await renewOrRelease(ctx, name, a);
  } finally {
    ctx.repo.close();
  }
}

async function take(ctx: Context, name: string, ttlMs: number, waitMs: number): Promise<Held> {
  const r = await acquire(ctx, name, ttlMs, waitMs);
  if (!r.ok) throw new TemporaryError(heldMessage(name, r.decision));
  return r.held;
}

async function runCommand(ctx: Context, name: string, ttlMs: number, waitMs: number, cmd: string[]): Promise<void> {
  const held = await take(ctx, name, ttlMs, waitMs);
  const o = await holdWhileRunning(ctx, name, ttlMs, held, cmd[0]!, cmd.slice(1));
  for (const n of o.notes) process.stderr.write(`agentgit: ${n}\n`);
  if (o.lost) throw new TemporaryError(o.lost);
  process.exitCode = o.status;
}

async function acquireCommand(ctx: Context, name: string, ttlMs: number, a: LeaseArgs): Promise<void> {
  const t = timing(ttlMs);
  const mem = await readMemory(ctx, name);
  let held: Held | null = null;
  let again = false;
  if (mem.held && mem.held.ttlMs === ttlMs) {
    // already ours (an earlier acquire of this instance): renew it, if the hub still shows it
    const r = await renewOnce(ctx, name, { oid: mem.held.oid, generation: mem.held.generation, confirmedNs: monoNs(), reason: '' }, ttlMs, 'held', []).catch(() => null);
    if (r?.result === 'ok') {
      held = r.held;
      again = true;
    }
  }
  held ??= await take(ctx, name, ttlMs, a.wait * 1000);
  await writeMemory(ctx, name, { ...(await readMemory(ctx, name)), held: { oid: held.oid, generation: held.generation, ttlMs } });
  const within = t.ttlMs - t.marginMs;
  if (a.json) printJson({ ok: true, name, token: held.generation, generation: held.generation, ttlMs, validForMs: within, renewEveryMs: t.renewMs, already: again });
  else process.stdout.write(`${again ? 'still hold' : 'took'} lease ${name}: token ${held.generation} (AGENTGIT_LEASE_TOKEN), ttl ${fmtMs(ttlMs)}; run \`agentgit lease renew ${name}\` every ${fmtMs(t.renewMs)}, and stop the work if no renewal succeeds within ${fmtMs(within)} of the last\n`);
}

async function renewOrRelease(ctx: Context, name: string, a: LeaseArgs): Promise<void> {
  const mem = await readMemory(ctx, name);
  const me = `${ctx.settings.agent}/${ctx.settings.instance}`;
  if (!mem.held) {
    if (a.action === 'release') {
      if (a.json) printJson({ ok: true, name, released: false });
      else process.stdout.write(`lease ${name} is not held by ${me}: nothing to release\n`);
      return;
    }
    throw new FailedError(`lease ${name} is not held by ${me} (no \`agentgit lease acquire ${name}\` here, or it was released): take it with \`agentgit lease acquire ${name}\``);
  }
  const t = timing(mem.held.ttlMs);
  const cur: Held = { oid: mem.held.oid, generation: mem.held.generation, confirmedNs: monoNs(), reason: '' };
  const r = await renewOnce(ctx, name, cur, mem.held.ttlMs, a.action === 'release' ? 'released' : 'held', []);
  if (r.result === 'lost') {
    await writeMemory(ctx, name, { ...mem, held: null });
    throw new TemporaryError(`lost lease ${name}: the hub shows ${r.now ? `another value (${r.now.slice(0, 10)})` : 'no lease'}, not this instance's last one: stop the work that needed it (token ${mem.held.generation} is stale)`);
  }
  if (a.action === 'release') {
    await writeMemory(ctx, name, { ...mem, held: null });
    if (a.json) printJson({ ok: true, name, released: true, generation: r.held.generation });
    else process.stdout.write(`released lease ${name} (token ${r.held.generation})\n`);
    return;
  }
  await writeMemory(ctx, name, { ...mem, held: { ...mem.held, oid: r.held.oid } });
  if (a.json) printJson({ ok: true, name, token: r.held.generation, generation: r.held.generation, ttlMs: mem.held.ttlMs, validForMs: t.ttlMs - t.marginMs });
  else process.stdout.write(`renewed lease ${name} (token ${r.held.generation}): valid for ${fmtMs(t.ttlMs - t.marginMs)} from the start of this renewal\n`);
}

interface StatusRow {
  name: string;
  state: 'held' | 'released' | 'unverified';
  holder: string | null;
  generation: number | null;
  ttlMs: number | null;
  /** How long this instance has seen the hub's ref unchanged (its own monotonic clock). */
  seenUnchangedMs: number;
  /** Unchanged for ttl + margin: any instance may take it. */
  expired: boolean;
  /** Held by this instance through `lease acquire`. */
  mine: boolean;
  /** Wall time the holder wrote (informative: clocks differ). */
  writtenAt: string | null;
  reason?: string;
}

async function statusCommand(a: LeaseArgs): Promise<void> {
  const ttlMs = parseTtl(a.ttl);
  if (a.name !== undefined) needName(a);
  const ctx = await openContext(a.C);
  try {
    const net = netTimeoutMs(ttlMs);
    const oids = a.name ? new Map([[a.name, await fetchLease(ctx, a.name, net)]]) : await fetchAllLeases(ctx, net);
    const now = monoNs();
    const verify = await leaseVerifier(ctx);
    const rows: StatusRow[] = [];
    for (const [name, oid] of [...oids].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
      if (!validName(name)) continue;
      const mem = await readMemory(ctx, name);
      const obs = observe(mem.obs, oid, now);
      const view: LeaseView = await verify(name, oid);
      await writeMemory(ctx, name, { ...mem, obs, known: view.kind === 'verified' ? Math.max(mem.known, view.record.generation) : mem.known });
      if (view.kind === 'absent') {
        if (a.name) rows.push({ name, state: 'released', holder: null, generation: null, ttlMs: null, seenUnchangedMs: 0, expired: true, mine: false, writtenAt: null, reason: 'not on the hub' });
        continue;
      }
      const d = decide(view, obs, now, ttlMs, mem.known);
      const rec = view.record;
      rows.push({
        name,
        state: view.kind === 'unverified' ? 'unverified' : view.record.state,
        holder: rec ? `${rec.agent}/${rec.instance}` : null,
        generation: rec?.generation ?? null,
        ttlMs: rec?.ttlMs ?? null,
        seenUnchangedMs: Number((now - obs.sinceNs) / 1_000_000n),
        expired: d.take,
        mine: mem.held?.oid === oid,
        writtenAt: rec ? new Date(rec.at).toISOString() : null,
        ...(view.kind === 'unverified' ? { reason: `not believed: ${view.reason}` } : {}),
      });
    }
    if (a.json) {
      printJson({ ok: true, leases: rows });
      return;
    }
    if (rows.length === 0) process.stdout.write('no leases on the hub\n');
    for (const r of rows) {
      const who = r.state === 'unverified' ? `held by an unverified writer (${r.reason})` : r.holder ? `${r.state} by ${r.holder}${r.mine ? ' (this instance)' : ''}` : 'free';
      const gen = r.generation === null ? '' : `, generation ${r.generation}`;
      const ttl = r.ttlMs === null ? '' : `, ttl ${fmtMs(r.ttlMs)}`;
      const age = r.state === 'held' || r.state === 'unverified' ? `, unchanged for ${fmtMs(r.seenUnchangedMs)}${r.expired ? ' (expired: may be taken)' : ''}` : '';
      process.stdout.write(`${r.name}\t${who}${gen}${ttl}${age}\n`);
    }
  } finally {
    ctx.repo.close();
  }
}
