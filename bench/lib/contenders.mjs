/**
 * What is timed: an agentgit instance, the plain-git baseline, git-sync, and
 * the floor. Each owns a work tree and an environment like a cron job's.
 *
 * Plain git (the baseline): `git add -A; git commit; git pull
 * --no-rebase` with `merge=union` on the logs (in .git/info/attributes), then
 * `git push`, as one `sh -c` script: what an operator would put in cron.
 * git-sync: the public script (simonthum/git-sync), found through $GIT_SYNC or
 * PATH; with `branch.main.sync=true` and `branch.main.syncNewFiles=true`.
 * The floor: `git status --porcelain` + `git fetch`, in a plain clone of the
 * agentgit hub repo (the same files agentgit keeps).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { BIN, git, instanceEnv, NODE, parseTrace, ROOT as ROOT_DIR, run } from './util.mjs';

export const PLAIN_ROUND =
  'git add -A && { git commit -q -m "sync $(date -u +%FT%TZ)" >/dev/null || true; } && git pull -q --no-rebase --no-edit && git push -q';
export const FLOOR = 'git status --porcelain >/dev/null && git fetch -q';
const UNION_ATTRIBUTES = 'memory/**/*.md merge=union\nmemory/HISTORY.md merge=union\n*.jsonl merge=union\n';

/**
 * After setup: pack every repo (clones and hub repos) and turn automatic gc off
 * (gc.auto=0), so a background `git gc --auto` never lands in one contender's
 * timing. Repository maintenance is the same for every tool and out of scope.
 */
export async function quiesce(dirs, env) {
  await Promise.all(
    dirs.map(async (d) => {
      await git(d, ['config', 'gc.auto', '0'], env);
      await git(d, ['gc', '-q', '--prune=now'], env);
    }),
  );
}

/** An agentgit instance (bin/agentgit → dist/cli/main.js). */
export class Agent {
  constructor(dir, name, env) {
    this.dir = dir;
    this.name = name;
    this.env = env;
  }

  static async found(url, hubEnv, base, name, populate) {
    const dir = join(base, name, 'state');
    mkdirSync(dir, { recursive: true });
    const a = new Agent(dir, name, instanceEnv(join(base, name, 'home'), hubEnv));
    populate(dir);
    await a.cli(['init', '-C', dir, '--remote', url, '--agent', 'kevin', '--instance', name], { ok: true });
    const s = await a.sync();
    if (s.code !== 0) throw new Error(`first sync of ${name} failed (${s.code}): ${s.stderr}`);
    return a;
  }

  /** `agentgit clone`, admitted by `founder` (`agentgit trust add`), then one sync. */
  static async join(url, hubEnv, base, name, founder) {
    const [a] = await Agent.joinMany(url, hubEnv, base, [name], founder);
    return a;
  }

  /** Several clones at once; the founder admits them one by one; then each syncs once. */
  static async joinMany(url, hubEnv, base, names, founder) {
    const clones = await Promise.all(
      names.map(async (name) => {
        const dir = join(base, name, 'state');
        mkdirSync(join(base, name), { recursive: true });
        const a = new Agent(dir, name, instanceEnv(join(base, name, 'home'), hubEnv));
        const c = await a.cli(['clone', url, dir, '--instance', name], { ok: true, cwd: join(base, name) });
        return { a, line: /agentgit trust add '([^']+)'/.exec(c.stdout)?.[1] };
      }),
    );
    for (const { line } of clones) {
      if (!line) continue;
      const t = await founder.cli(['trust', 'add', line], { cwd: founder.dir });
      if (t.code !== 0) throw new Error(`trust add by ${founder.name} failed (${t.code}): ${t.stderr}${t.stdout}`);
    }
    for (const { a } of clones) {
      const s = await a.sync();
      if (s.code !== 0) throw new Error(`first sync of ${a.name} failed (${s.code}): ${s.stderr}`);
    }
    return clones.map((c) => c.a);
  }

  cli(args, opts = {}) {
    return run(NODE, [BIN, ...args], { cwd: opts.cwd ?? this.dir, env: { ...this.env, ...(opts.env ?? {}) }, ok: opts.ok, timeoutMs: 600_000 });
  }

  /**
   * One `agentgit sync --quiet` (the cron line), traced: AGENTGIT_TRACE=1 adds
   * one short stderr write per git call and gives the git calls, fetches and
   * pushes of the round.
   */
  async sync(args = ['--quiet'], env = {}) {
    const r = await this.cli(['sync', '-C', this.dir, ...args], { env: { AGENTGIT_TRACE: '1', ...env } });
    r.trace = parseTrace(r.stderr);
    return r;
  }

  /** Make the heartbeat "not due" (steady state) or "due", as the next round sees it. */
  setHeartbeat(due) {
    const f = join(this.dir, '.git', 'agentgit', 'state.json');
    const s = existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : {};
    s.lastHeartbeatAt = due ? 0 : Date.now();
    writeFileSync(f, JSON.stringify(s, null, 2) + '\n');
  }

  head() {
    return git(this.dir, ['rev-parse', 'HEAD'], this.env);
  }
}

async function configurePlain(dir, env, name) {
  for (const [k, v] of [
    ['user.name', `plain/${name}`],
    ['user.email', `${name}@plain.invalid`],
    ['pull.rebase', 'false'],
    ['commit.gpgsign', 'false'],
  ]) {
    await git(dir, ['config', k, v], env);
  }
  mkdirSync(join(dir, '.git', 'info'), { recursive: true });
  writeFileSync(join(dir, '.git', 'info', 'attributes'), UNION_ATTRIBUTES);
}

/** A plain git clone driven by a shell script (the plain-git and git-sync baselines, the floor). */
export class Plain {
  constructor(dir, name, env) {
    this.dir = dir;
    this.name = name;
    this.env = env;
  }

  static async found(url, hubEnv, base, name, populate) {
    const dir = join(base, name, 'work');
    mkdirSync(dir, { recursive: true });
    const p = new Plain(dir, name, instanceEnv(join(base, name, 'home'), hubEnv));
    await git(dir, ['init', '-q', '-b', 'main'], p.env);
    await configurePlain(dir, p.env, name);
    populate(dir);
    await git(dir, ['add', '-A'], p.env);
    await git(dir, ['commit', '-q', '-m', 'initial state'], p.env);
    await git(dir, ['remote', 'add', 'origin', url], p.env);
    await git(dir, ['push', '-q', '-u', 'origin', 'main'], p.env);
    return p;
  }

  static async join(url, hubEnv, base, name) {
    const dir = join(base, name, 'work');
    mkdirSync(join(base, name), { recursive: true });
    const p = new Plain(dir, name, instanceEnv(join(base, name, 'home'), hubEnv));
    await git(join(base, name), ['clone', '-q', url, dir], p.env);
    await configurePlain(dir, p.env, name);
    return p;
  }

  sh(script) {
    return run('sh', ['-c', script], { cwd: this.dir, env: this.env, timeoutMs: 600_000 });
  }

  round() {
    return this.sh(PLAIN_ROUND);
  }

  floor() {
    return this.sh(FLOOR);
  }

  head() {
    return git(this.dir, ['rev-parse', 'HEAD'], this.env);
  }
}

/**
 * The git-sync script: $GIT_SYNC, else the anchor copy beside the project
 * (../shared/anchors/git-sync, the peer every run measures), else `git-sync`
 * on PATH; null when absent (nothing is written in its place).
 */
export function findGitSync(root = ROOT_DIR) {
  const env = process.env.GIT_SYNC;
  if (env) return existsSync(env) ? env : null;
  for (const up of ['..', join('..', '..')]) {
    const anchor = resolve(root, up, 'shared', 'anchors', 'git-sync');
    if (existsSync(anchor)) return anchor;
  }
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (d && existsSync(join(d, 'git-sync'))) return join(d, 'git-sync');
  }
  return null;
}

export class GitSync extends Plain {
  static async setup(plain, script) {
    const g = new GitSync(plain.dir, plain.name, plain.env);
    g.script = script;
    await git(g.dir, ['config', 'branch.main.sync', 'true'], g.env);
    await git(g.dir, ['config', 'branch.main.syncNewFiles', 'true'], g.env);
    return g;
  }

  round() {
    return run('bash', [this.script], { cwd: this.dir, env: this.env, timeoutMs: 600_000 });
  }
}
