/**
 * Per-machine consent to policy changes. `.agentgit/config.json` is synced:
 * any instance can change it. What runs a command or relaxes a guard on a
 * machine takes effect there only once that machine's operator accepts it
 * (`agentgit policy accept`); until then the machine runs the new policy
 * with those relaxations left out (fail closed). Tightenings apply at once.
 *
 * Risky (needs consent), compared with the policy this machine accepted:
 * - `rebuild.command` new or changed (it runs on every machine);
 * - `defaults: false`;
 * - a path the accepted policy keeps local (secret, derived, ephemeral:
 *   the default globs and the accepted rules) that the new one would sync,
 *   or a log whose entries it guards that the new one would not;
 * - a `secrets` glob removed;
 * - `logs.allowRewrite` widened;
 * - `maxFileBytes` raised;
 * - `trust.openEnrollment: true`.
 *
 * Pure: reading and writing the accepted policy is src/sync/context.ts.
 */
import { DEFAULT_SECRET_GLOBS } from './defaults.js';
import { defaultConfig, Policy, type PolicyConfig, type RebuildSpec } from './policy.js';

export interface PolicyChange {
  /** The policy key the change is in: `rebuild.command`, `layers[2]`, `secrets`… */
  key: string;
  /** What it would do on this machine, for the operator. */
  what: string;
}

const sameCommand = (a: RebuildSpec | null, b: RebuildSpec | null): boolean => JSON.stringify(a?.command ?? null) === JSON.stringify(b?.command ?? null);
const fmtCmd = (r: RebuildSpec | null): string => (r ? JSON.stringify(r.command) : 'none');

/**
 * Paths a glob surely matches (a few: top level and one directory down),
 * to compare how two policies classify what the glob names. Negations and
 * globs it cannot turn into a path give none.
 */
export function samplePaths(glob: string): string[] {
  if (glob.startsWith('!') || glob.startsWith('#')) return [];
  let g = glob.replace(/^\//, '');
  const anchored = glob.startsWith('/') || /\/./.test(g);
  if (g.endsWith('/')) g += 'x';
  const fill = (s: string): string => s.replace(/\[[^\]]*\]/g, 'x').replace(/\*\*/g, 'x').replace(/[*?]/g, 'x').replace(/\\(.)/g, '$1');
  const out = new Set<string>();
  out.add(fill(g.replace(/\*\*\//g, '')));
  out.add(fill(g.replace(/\*\*\//g, 'd/')));
  if (!anchored) out.add('d/' + fill(g));
  return [...out].filter((p) => p !== '' && !p.startsWith('/') && !p.split('/').includes('..'));
}

/** The globs that make paths `kind` under a policy (for local: its secrets too, with the defaults). */
function globsOf(p: Policy, kind: 'local' | 'log'): string[] {
  const rules = p.rules.filter((r) => r.kind === kind).map((r) => r.pattern);
  return kind === 'local' ? [...DEFAULT_SECRET_GLOBS, ...p.config.secrets, ...rules] : rules;
}

/**
 * Paths the accepted policy keeps local (or guards as logs) that the
 * proposed one alone would sync (or stop guarding), each with the key
 * responsible. Found by sampling: the accepted policy's globs of that kind,
 * and the proposed policy's own rules of other kinds.
 */
function moved(accepted: Policy, proposed: Policy, kind: 'local' | 'log'): PolicyChange[] {
  const samples = new Set<string>();
  for (const g of globsOf(accepted, kind)) for (const s of samplePaths(g)) samples.add(s);
  for (const r of proposed.config.layers) if (r.kind !== kind) for (const s of samplePaths(r.pattern)) samples.add(s);
  const byKey = new Map<string, string[]>();
  for (const s of [...samples].sort()) {
    // secret paths: only a removed `secrets` glob can release one, reported as such
    if (accepted.kindOf(s) !== kind || accepted.isSecretPath(s)) continue;
    const c = proposed.classify(s);
    if (c.kind === kind || (kind === 'log' && c.kind === 'local')) continue;
    const i = c.rule ? proposed.config.layers.indexOf(c.rule) : -1;
    const key = i >= 0 ? `layers[${i}]` : proposed.config.defaults ? 'layers' : 'defaults';
    const list = byKey.get(key) ?? [];
    list.push(s);
    byKey.set(key, list);
  }
  const out: PolicyChange[] = [];
  for (const [key, paths] of byKey) {
    const m = /^layers\[(\d+)\]$/.exec(key);
    const rule = m ? proposed.config.layers[Number(m[1])]! : null;
    const by = rule ? `rule ${JSON.stringify(rule.pattern)} (${rule.kind})` : key === 'defaults' ? '"defaults": false' : 'the rules';
    const shown = paths.slice(0, 3).map((p) => JSON.stringify(p)).join(', ');
    const more = paths.length > 3 ? ` and ${paths.length - 3} more` : '';
    out.push({
      key,
      what: kind === 'local' ? `${by} would sync ${shown}${more}, kept local (secret/derived/ephemeral) on this machine` : `${by} would stop guarding the entries of log ${shown}${more} (truncations would be published)`,
    });
  }
  return out;
}

/** What the proposed policy relaxes compared with the accepted one: empty when it needs no consent. */
export function riskyChanges(accepted: PolicyConfig, proposed: PolicyConfig): PolicyChange[] {
  // the usual case, every round: the file is the accepted policy
  const a = JSON.stringify(accepted);
  const p = JSON.stringify(proposed);
  if (a === p) return [];
  const key = `${a}\n${p}`;
  if (memo?.key === key) return memo.changes;
  const changes = computeRisky(accepted, proposed);
  memo = { key, changes };
  return changes;
}

let memo: { key: string; changes: PolicyChange[] } | null = null;

function computeRisky(accepted: PolicyConfig, proposed: PolicyConfig): PolicyChange[] {
  const out: PolicyChange[] = [];
  if (proposed.rebuild && !sameCommand(accepted.rebuild, proposed.rebuild)) {
    out.push({ key: 'rebuild.command', what: `runs ${fmtCmd(proposed.rebuild)} after syncs (accepted: ${fmtCmd(accepted.rebuild)})` });
  }
  if (accepted.defaults && !proposed.defaults) out.push({ key: 'defaults', what: '"defaults": false drops the default layers (secret, derived and ephemeral paths included)' });
  const removed = accepted.secrets.filter((g) => !proposed.secrets.includes(g));
  if (removed.length) out.push({ key: 'secrets', what: `no longer protects ${removed.map((g) => JSON.stringify(g)).join(', ')} as secret` });
  const wider = proposed.logs.allowRewrite.filter((g) => !accepted.logs.allowRewrite.includes(g));
  if (wider.length) out.push({ key: 'logs.allowRewrite', what: `lets ${wider.map((g) => JSON.stringify(g)).join(', ')} be truncated or rewritten and published` });
  if (proposed.maxFileBytes > accepted.maxFileBytes) out.push({ key: 'maxFileBytes', what: `raises the size limit from ${accepted.maxFileBytes} to ${proposed.maxFileBytes} bytes` });
  if (proposed.maxTreeDepth > accepted.maxTreeDepth) out.push({ key: 'maxTreeDepth', what: `raises the depth limit for incoming trees from ${accepted.maxTreeDepth} to ${proposed.maxTreeDepth}` });
  if (proposed.maxMergeBytes > accepted.maxMergeBytes) out.push({ key: 'maxMergeBytes', what: `raises the in-memory merge limit from ${accepted.maxMergeBytes} to ${proposed.maxMergeBytes} bytes` });
  if (proposed.trust.openEnrollment && !accepted.trust.openEnrollment) out.push({ key: 'trust.openEnrollment', what: 'lets any new instance admit itself' });
  const a = new Policy(accepted);
  const p = new Policy(proposed);
  out.push(...moved(a, p, 'local'), ...moved(a, p, 'log'));
  return out;
}

/** The proposed policy with every relaxation of the accepted one left out. */
export function effectiveConfig(accepted: PolicyConfig, proposed: PolicyConfig): PolicyConfig {
  return {
    ...proposed,
    defaults: proposed.defaults || accepted.defaults,
    secrets: [...new Set([...proposed.secrets, ...accepted.secrets])],
    logs: { allowRewrite: proposed.logs.allowRewrite.filter((g) => accepted.logs.allowRewrite.includes(g)) },
    maxFileBytes: Math.min(proposed.maxFileBytes, accepted.maxFileBytes),
    maxTreeDepth: Math.min(proposed.maxTreeDepth, accepted.maxTreeDepth),
    maxMergeBytes: Math.min(proposed.maxMergeBytes, accepted.maxMergeBytes),
    rebuild: proposed.rebuild === null || sameCommand(accepted.rebuild, proposed.rebuild) ? proposed.rebuild : accepted.rebuild,
    trust: { openEnrollment: proposed.trust.openEnrollment && accepted.trust.openEnrollment },
  };
}

/** The policy this machine runs: the proposed one, floored by the accepted one. */
export function effectivePolicy(accepted: PolicyConfig, proposed: PolicyConfig): Policy {
  if (JSON.stringify(accepted) === JSON.stringify(proposed)) return new Policy(proposed);
  return new Policy(effectiveConfig(accepted, proposed), new Policy(accepted));
}

/**
 * What this machine records as accepted after running under `proposed`
 * (a sync round does this): everything when nothing is pending, since then
 * it only tightens; else the accepted policy plus the proposed tightenings
 * of its lists and limits (new secret globs, narrower rewrites, a lower
 * size limit, no rebuild), so a later commit cannot undo them unasked.
 */
export function ratchet(accepted: PolicyConfig, proposed: PolicyConfig): PolicyConfig {
  if (riskyChanges(accepted, proposed).length === 0) return proposed;
  const e = effectiveConfig(accepted, proposed);
  return {
    ...accepted,
    secrets: e.secrets,
    logs: e.logs,
    maxFileBytes: e.maxFileBytes,
    trust: e.trust,
    rebuild: proposed.rebuild === null ? null : accepted.rebuild,
  };
}

/** The baseline of a machine that has accepted nothing yet: the defaults. */
export function baseline(): PolicyConfig {
  return defaultConfig();
}
