/**
 * The layer policy: which paths are logs, JSON, docs, binary or local, and
 * the options each kind takes. Parsing and classification are pure; reading
 * `.agentgit/config.json` from disk happens in the shell (src/sync).
 */
import ignore, { type Ignore } from 'ignore';
import type { JsonOptions, Kind } from '../merge/types.js';
import {
  DEFAULT_JSON,
  DEFAULT_LAYERS,
  DEFAULT_MAX_FILE_BYTES,
  DEFAULT_MAX_MERGE_BYTES,
  DEFAULT_MAX_TREE_DEPTH,
  DEFAULT_SECRET_GLOBS,
  INTERNAL_LAYERS,
  type LayerRule,
} from './defaults.js';
import { parseDuration } from './duration.js';
import { PolicyError } from '../errors.js';

export const POLICY_PATH = '.agentgit/config.json';
const KINDS: readonly Kind[] = ['log', 'json', 'text', 'binary', 'local'];

export interface HealthThresholds {
  /** Share of synced files that may differ from the hub before warn, and before fail. */
  driftWarn: number;
  driftFail: number;
  /** Seconds since the last successful sync before warn and fail. */
  lagWarnSeconds: number;
  lagFailSeconds: number;
  /** Seconds a derived-state rebuild may take before warn. */
  recoveryWarnSeconds: number;
  /** A round with nothing to push still publishes its heartbeat when the last is older than this. */
  heartbeatSeconds: number;
}

export interface RebuildSpec {
  command: string[];
  paths: string[];
  timeoutSeconds: number;
}

export interface PolicyConfig {
  version: 1;
  layers: LayerRule[];
  defaults: boolean;
  secrets: string[];
  json: JsonOptions;
  logs: { allowRewrite: string[] };
  maxMergeBytes: number;
  maxFileBytes: number;
  /** How many directories deep an incoming tree may go (git/paths.ts). */
  maxTreeDepth: number;
  health: HealthThresholds;
  rebuild: RebuildSpec | null;
  trust: { openEnrollment: boolean };
  /** `agentgit compact auto` (docs/compaction.md): as written in the file (it round-trips through the accepted record); absent = never. */
  compaction: { logsOlderThan?: string; historyEvery?: string };
}

export interface CompactionSchedule {
  /** Compact daily logs older than this many days. */
  logsOlderThanDays: number | null;
  /** Start a new epoch when the current one (or the root) is older than this (ms, by commit date). */
  historyEveryMs: number | null;
}

/** The `compaction` block's values as numbers; throws PolicyError naming the key on a bad value. */
export function compactionSchedule(c: PolicyConfig['compaction']): CompactionSchedule {
  const out: CompactionSchedule = { logsOlderThanDays: null, historyEveryMs: null };
  if (c.logsOlderThan !== undefined) {
    const m = typeof c.logsOlderThan === 'string' ? /^(\d{1,5})d$/.exec(c.logsOlderThan) : null;
    if (!m) throw new PolicyError(`${POLICY_PATH}: "compaction.logsOlderThan" must be a number of days like "90d"; fix it (nothing is compacted until then)`);
    out.logsOlderThanDays = Number(m[1]);
  }
  if (c.historyEvery !== undefined) {
    const ms = typeof c.historyEvery === 'string' && !/^[\d.]+$/.test(c.historyEvery.trim()) ? parseDuration(c.historyEvery) : null;
    if (ms === null) throw new PolicyError(`${POLICY_PATH}: "compaction.historyEvery" must be a duration like "30d", "12h" or "1w"; fix it (nothing is compacted until then)`);
    out.historyEveryMs = ms;
  }
  return out;
}

export { PolicyError };

export const DEFAULT_HEALTH: HealthThresholds = {
  driftWarn: 0.01,
  driftFail: 0.1,
  lagWarnSeconds: 300,
  lagFailSeconds: 900,
  recoveryWarnSeconds: 30,
  heartbeatSeconds: 120,
};

export function defaultConfig(): PolicyConfig {
  return {
    version: 1,
    layers: [],
    defaults: true,
    secrets: [],
    json: { ...DEFAULT_JSON, idKeys: [...DEFAULT_JSON.idKeys], volatile: [...DEFAULT_JSON.volatile], counters: [], timestampKeys: [...DEFAULT_JSON.timestampKeys] },
    logs: { allowRewrite: [] },
    maxMergeBytes: DEFAULT_MAX_MERGE_BYTES,
    maxFileBytes: DEFAULT_MAX_FILE_BYTES,
    maxTreeDepth: DEFAULT_MAX_TREE_DEPTH,
    health: { ...DEFAULT_HEALTH },
    rebuild: null,
    trust: { openEnrollment: false },
    compaction: {},
  };
}

/** The text `agentgit init` writes when the repo has no policy file. */
export function defaultConfigText(): string {
  const text = {
    version: 1,
    $comment: 'agentgit layer policy: see docs/merging.md. User layers are checked first, then the defaults.',
    layers: [] as LayerRule[],
    secrets: [] as string[],
    json: { counters: [] as string[] },
    logs: { allowRewrite: [] as string[] },
  };
  return JSON.stringify(text, null, 2) + '\n';
}

const TOP_KEYS = new Set(['version', '$comment', 'layers', 'defaults', 'secrets', 'json', 'logs', 'maxMergeBytes', 'maxFileBytes', 'maxTreeDepth', 'health', 'rebuild', 'trust', 'compaction']);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function strList(v: unknown, key: string): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new PolicyError(`${POLICY_PATH}: "${key}" must be a list of non-empty strings`);
  }
  return v as string[];
}

function num(v: unknown, key: string, min: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw new PolicyError(`${POLICY_PATH}: "${key}" must be a number >= ${min}`);
  }
  return v;
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k) && k !== '$comment') {
      throw new PolicyError(`${POLICY_PATH}: unknown key "${where}${k}" (allowed: ${allowed.join(', ')})`);
    }
  }
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * No string in the policy (patterns, commands, secrets, keys) may hold a
 * control character: a newline in a glob or a command is never meant, and
 * would smuggle extra lines into .gitignore/.gitattributes or a terminal.
 */
function rejectControlChars(v: unknown, at: string): void {
  if (typeof v === 'string') {
    const m = CONTROL.exec(v);
    if (m) {
      const code = m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      throw new PolicyError(`${POLICY_PATH}: "${at || '(top)'}" holds a control character (U+${code}); remove it, the policy is not used until then (nothing is lost)`);
    }
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => rejectControlChars(x, `${at}[${i}]`));
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      const key = at ? `${at}.${k}` : k;
      rejectControlChars(k, key);
      rejectControlChars(x, key);
    }
  }
}

/**
 * Parse and validate a policy file. `text` null or empty means "no file":
 * the defaults. Throws PolicyError naming the offending key.
 */
export function parsePolicy(text: string | null): PolicyConfig {
  const cfg = defaultConfig();
  if (text === null || text.trim() === '') return cfg;
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new PolicyError(`${POLICY_PATH}: not valid JSON (${(e as Error).message}); fix it, or restore the committed one with \`git checkout -- ${POLICY_PATH}\``);
  }
  if (!isObj(raw)) throw new PolicyError(`${POLICY_PATH}: must hold a JSON object`);
  rejectControlChars(raw, '');
  for (const k of Object.keys(raw)) {
    if (!TOP_KEYS.has(k)) throw new PolicyError(`${POLICY_PATH}: unknown key "${k}" (allowed: ${[...TOP_KEYS].join(', ')})`);
  }
  if (raw.version !== undefined && raw.version !== 1) throw new PolicyError(`${POLICY_PATH}: "version" must be 1`);
  if (raw.layers !== undefined) {
    if (!Array.isArray(raw.layers)) throw new PolicyError(`${POLICY_PATH}: "layers" must be a list of {"pattern", "kind"}`);
    cfg.layers = raw.layers.map((r, i) => {
      const at = `layers[${i}]`;
      if (!isObj(r)) throw new PolicyError(`${POLICY_PATH}: "${at}" must be an object {"pattern", "kind"}`);
      onlyKeys(r, ['pattern', 'kind', 'counters', 'volatile'], `${at}.`);
      if (typeof r.pattern !== 'string' || r.pattern.trim() === '') throw new PolicyError(`${POLICY_PATH}: "${at}.pattern" must be a non-empty glob`);
      if (typeof r.kind !== 'string' || !KINDS.includes(r.kind as Kind)) {
        throw new PolicyError(`${POLICY_PATH}: "${at}.kind" must be one of ${KINDS.join(', ')}`);
      }
      const rule: LayerRule = { pattern: r.pattern, kind: r.kind as Kind };
      if (r.counters !== undefined) rule.counters = strList(r.counters, `${at}.counters`);
      if (r.volatile !== undefined) rule.volatile = strList(r.volatile, `${at}.volatile`);
      return rule;
    });
  }
  if (raw.defaults !== undefined) {
    if (typeof raw.defaults !== 'boolean') throw new PolicyError(`${POLICY_PATH}: "defaults" must be true or false`);
    cfg.defaults = raw.defaults;
  }
  if (raw.secrets !== undefined) cfg.secrets = strList(raw.secrets, 'secrets');
  if (raw.json !== undefined) {
    if (!isObj(raw.json)) throw new PolicyError(`${POLICY_PATH}: "json" must be an object`);
    onlyKeys(raw.json, ['idKeys', 'volatile', 'counters', 'timestampKeys'], 'json.');
    if (raw.json.idKeys !== undefined) cfg.json.idKeys = strList(raw.json.idKeys, 'json.idKeys');
    if (raw.json.volatile !== undefined) cfg.json.volatile = strList(raw.json.volatile, 'json.volatile');
    if (raw.json.counters !== undefined) cfg.json.counters = strList(raw.json.counters, 'json.counters');
    if (raw.json.timestampKeys !== undefined) cfg.json.timestampKeys = strList(raw.json.timestampKeys, 'json.timestampKeys');
  }
  if (raw.logs !== undefined) {
    if (!isObj(raw.logs)) throw new PolicyError(`${POLICY_PATH}: "logs" must be an object`);
    onlyKeys(raw.logs, ['allowRewrite'], 'logs.');
    if (raw.logs.allowRewrite !== undefined) cfg.logs.allowRewrite = strList(raw.logs.allowRewrite, 'logs.allowRewrite');
  }
  if (raw.maxMergeBytes !== undefined) cfg.maxMergeBytes = num(raw.maxMergeBytes, 'maxMergeBytes', 1);
  if (raw.maxFileBytes !== undefined) cfg.maxFileBytes = num(raw.maxFileBytes, 'maxFileBytes', 1);
  if (raw.maxTreeDepth !== undefined) cfg.maxTreeDepth = num(raw.maxTreeDepth, 'maxTreeDepth', 1);
  if (raw.health !== undefined) {
    if (!isObj(raw.health)) throw new PolicyError(`${POLICY_PATH}: "health" must be an object`);
    const keys = Object.keys(DEFAULT_HEALTH) as (keyof HealthThresholds)[];
    onlyKeys(raw.health, keys, 'health.');
    for (const k of keys) if (raw.health[k] !== undefined) cfg.health[k] = num(raw.health[k], `health.${k}`, 0);
  }
  if (raw.rebuild !== undefined && raw.rebuild !== null) {
    const r = raw.rebuild;
    if (!isObj(r)) throw new PolicyError(`${POLICY_PATH}: "rebuild" must be an object {"command", "paths", "timeoutSeconds"}`);
    onlyKeys(r, ['command', 'paths', 'timeoutSeconds'], 'rebuild.');
    const command = strList(r.command, 'rebuild.command');
    if (command.length === 0) throw new PolicyError(`${POLICY_PATH}: "rebuild.command" must name a program`);
    cfg.rebuild = {
      command,
      paths: r.paths === undefined ? ['**'] : strList(r.paths, 'rebuild.paths'),
      timeoutSeconds: r.timeoutSeconds === undefined ? 300 : num(r.timeoutSeconds, 'rebuild.timeoutSeconds', 1),
    };
  }
  if (raw.trust !== undefined) {
    if (!isObj(raw.trust)) throw new PolicyError(`${POLICY_PATH}: "trust" must be an object`);
    onlyKeys(raw.trust, ['openEnrollment'], 'trust.');
    if (raw.trust.openEnrollment !== undefined) {
      if (typeof raw.trust.openEnrollment !== 'boolean') throw new PolicyError(`${POLICY_PATH}: "trust.openEnrollment" must be true or false`);
      cfg.trust.openEnrollment = raw.trust.openEnrollment;
    }
  }
  if (raw.compaction !== undefined) {
    const c = raw.compaction;
    if (!isObj(c)) throw new PolicyError(`${POLICY_PATH}: "compaction" must be an object like {"logsOlderThan": "90d", "historyEvery": "30d"}`);
    onlyKeys(c, ['logsOlderThan', 'historyEvery'], 'compaction.');
    compactionSchedule(c);
    cfg.compaction = { ...(c.logsOlderThan !== undefined ? { logsOlderThan: c.logsOlderThan as string } : {}), ...(c.historyEvery !== undefined ? { historyEvery: c.historyEvery as string } : {}) };
  }
  return cfg;
}

export interface Classification {
  kind: Kind;
  rule: LayerRule | null;
  secret: boolean;
}

/** A compiled policy: classification of repo-relative paths. */
export class Policy {
  readonly rules: LayerRule[];
  /** One matcher per rule, built when first needed (see `groups`). */
  private readonly matchers: (Ignore | undefined)[];
  /**
   * Runs of consecutive rules of one kind, each with one matcher for all its
   * patterns: a path matches the run's matcher exactly when it matches one of
   * its rules (no negated pattern is ever put in a run with others), so the
   * first matching run holds the first matching rule. One `ignores()` call
   * per run instead of per rule: the default policy's 50 rules are 8 runs,
   * and classifying 10,000 paths (an init) took a second and more.
   */
  private groupsBuilt: { from: number; to: number; matcher: Ignore }[] | null = null;
  private secretBuilt: Ignore | null = null;
  private rewriteBuilt: Ignore | null = null;
  private readonly cache = new Map<string, Classification>();

  /**
   * `floor`: the policy this machine last accepted (src/policy/consent.ts).
   * A path it keeps local stays local here whatever `config` says: a synced
   * policy cannot move a path out of the local/secret layers on its own.
   */
  constructor(
    readonly config: PolicyConfig,
    readonly floor: Policy | null = null,
  ) {
    this.rules = [...INTERNAL_LAYERS, ...config.layers, ...(config.defaults ? DEFAULT_LAYERS : [])];
    this.matchers = this.rules.map(() => undefined);
  }

  // The matchers are built when first asked: a round with nothing to commit
  // classifies no path, and some policies are made only for their lines
  // (attributesLines, ignoreLines).
  private get groups(): { from: number; to: number; matcher: Ignore }[] {
    if (this.groupsBuilt) return this.groupsBuilt;
    const groups: { from: number; to: number; matcher: Ignore }[] = [];
    for (let i = 0; i < this.rules.length; ) {
      let j = i + 1;
      if (!negated(this.rules[i]!.pattern)) while (j < this.rules.length && this.rules[j]!.kind === this.rules[i]!.kind && !negated(this.rules[j]!.pattern)) j++;
      groups.push({ from: i, to: j, matcher: ignore().add(this.rules.slice(i, j).map((r) => r.pattern)) });
      i = j;
    }
    return (this.groupsBuilt = groups);
  }

  private get secretMatcher(): Ignore {
    return (this.secretBuilt ??= ignore().add([...DEFAULT_SECRET_GLOBS, ...this.config.secrets]));
  }

  private get rewriteMatcher(): Ignore {
    return (this.rewriteBuilt ??= ignore().add(this.config.logs.allowRewrite));
  }

  static fromText(text: string | null): Policy {
    return new Policy(parsePolicy(text));
  }

  /** Kind of a path by its name alone (content checks happen in the merge). */
  classify(path: string): Classification {
    const hit = this.cache.get(path);
    if (hit) return hit;
    const secret = this.isSecretPath(path);
    let result: Classification = { kind: 'text', rule: null, secret };
    if (secret) result = { kind: 'local', rule: null, secret };
    else {
      const i = this.firstRule(path);
      if (i >= 0) result = { kind: this.rules[i]!.kind, rule: this.rules[i]!, secret: false };
    }
    if (this.floor && result.kind !== 'local') {
      const f = this.floor.classify(path);
      if (f.kind === 'local') result = { kind: 'local', rule: f.rule, secret: f.secret };
    }
    this.cache.set(path, result);
    return result;
  }

  /** Index of the first rule that matches `path`, -1 when none does. */
  private firstRule(path: string): number {
    for (const g of this.groups) {
      if (!safeIgnores(g.matcher, path)) continue;
      if (g.to - g.from === 1) return g.from;
      for (let i = g.from; i < g.to; i++) if (safeIgnores((this.matchers[i] ??= ignore().add(this.rules[i]!.pattern)), path)) return i;
    }
    return -1;
  }

  kindOf(path: string): Kind {
    return this.classify(path).kind;
  }

  isSecretPath(path: string): boolean {
    return safeIgnores(this.secretMatcher, path) || (this.floor?.isSecretPath(path) ?? false);
  }

  /**
   * Is the path a log whose committed entries the commit guard protects?
   * Also when only the accepted floor says so: a synced rule that turns a
   * log into a doc cannot switch the guard off on its own.
   */
  guardsEntries(path: string): boolean {
    return this.kindOf(path) === 'log' || (this.floor?.guardsEntries(path) ?? false);
  }

  allowsLogRewrite(path: string): boolean {
    return safeIgnores(this.rewriteMatcher, path);
  }

  /** JSON options for one file: global options plus its layer rule's. */
  jsonOptions(path: string): JsonOptions {
    const rule = this.classify(path).rule;
    const j = this.config.json;
    return {
      idKeys: j.idKeys,
      timestampKeys: j.timestampKeys,
      volatile: rule?.volatile ? [...j.volatile, ...rule.volatile] : j.volatile,
      counters: rule?.counters ? [...j.counters, ...rule.counters] : j.counters,
    };
  }

  /**
   * `.gitattributes` lines so plain git uses the drivers. gitattributes uses
   * last-match-wins, the policy first-match-wins: rules are written reversed.
   * Directory patterns (`dir/`) become `dir/**`.
   */
  attributesLines(): string[] {
    const lines: string[] = [];
    for (const r of [...this.rules].reverse()) {
      if (r.kind === 'local' || r.pattern.startsWith('!')) continue;
      let p = r.pattern.endsWith('/') ? r.pattern + '**' : r.pattern;
      if (/\s/.test(p)) p = `"${p.replace(/"/g, '\\"')}"`;
      lines.push(`${p} merge=agentgit-${r.kind}`);
    }
    return lines;
  }

  /** `.gitignore` lines for the local layers (secrets, derived, ephemeral). */
  ignoreLines(): string[] {
    const out = new Set<string>();
    for (const g of [...DEFAULT_SECRET_GLOBS, ...this.config.secrets]) out.add(g);
    for (const r of this.rules) if (r.kind === 'local') out.add(r.pattern);
    return [...out];
  }
}

/**
 * A pattern `ignore` may read as a negation ("!x": re-include). Alone it
 * matches nothing; beside others it would re-include what they match, so it
 * is never grouped. Any "!" counts (a BOM or an escape before it): a pattern
 * left alone is always matched exactly as before.
 */
function negated(pattern: string): boolean {
  return pattern.includes('!');
}

/** `ignore` throws on paths it considers invalid (absolute, `..`): treat as no match. */
function safeIgnores(m: Ignore, path: string): boolean {
  try {
    return m.ignores(path);
  } catch {
    return false;
  }
}
