/**
 * Making a directory an agentgit repo (init), joining existing state
 * (clone), and repairing the per-clone setup that git does not version:
 * merge drivers, attributes, hooks, author identity. Idempotent.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfigText, POLICY_PATH, type Policy } from '../policy/policy.js';
import { Repo } from '../git/repo.js';
import { credentialUrlMessage, stripUserinfo, urlHasCredentials } from '../git/url.js';
import { ensureKey, keyPath, MissingKeyError } from '../identity/keys.js';
import { SIGNERS_PATH } from '../identity/signers.js';
import { allDone } from './all-done.js';
import { readPolicy, UsageError } from './context.js';
import { readNoFollow, writeNoFollow, writeWorkTreeFile } from './safe-write.js';
import { INSTANCE_TRAILER, withInstanceTrailer } from '../git/trailers.js';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const AGENTGIT_BIN = join(PROJECT_ROOT, 'bin', 'agentgit');
const KINDS = ['log', 'json', 'text', 'binary'] as const;
const BEGIN = '# >>> agentgit (managed block: change .agentgit/config.json, then run `agentgit init` again)';
const END = '# <<< agentgit';

/**
 * git checks every object a fetch or clone brings (fsck, warnings are
 * errors): what it refuses never enters the repo (docs/security.md, "Hostile
 * trees"). A zero-padded tree mode (old tools wrote it) stays harmless.
 */
const FSCK_CONFIG: Array<[string, string]> = [
  ['transfer.fsckObjects', 'true'],
  ['fetch.fsck.zeroPaddedFilemode', 'ignore'],
];

export interface SetupOptions {
  /** Make a new signing key even though this instance's configured key is gone. */
  newKey?: boolean;
  agent?: string;
  instance?: string;
  branch?: string;
  remote?: string;
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command git runs for a driver: absolute node and bin, no PATH needed (cron). */
export function driverCommand(kind: string): string {
  return `${q(process.execPath)} ${q(AGENTGIT_BIN)} merge-driver ${kind} %O %A %B %L %P`;
}

export function newInstanceId(): string {
  const host = hostname().split('.')[0]!.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 24) || 'host';
  return `${host}-${randomBytes(3).toString('hex')}`;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export function checkName(what: string, v: string): string {
  if (!NAME_RE.test(v)) throw new UsageError(`--${what} "${v}": use letters, digits, '.', '_' or '-' (at most 64)`);
  return v;
}

/** Replace (or append) the managed block of a text file. Returns whether it changed. */
export async function writeManagedBlock(file: string, lines: string[]): Promise<boolean> {
  // never through a symbolic link (a hostile tree's, or a mistake): refused, named
  const text = (await readNoFollow(file))?.toString('utf8') ?? '';
  const block = [BEGIN, ...lines, END].join('\n') + '\n';
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END, start);
  let next: string;
  if (start >= 0 && end > start) {
    next = text.slice(0, start) + block + text.slice(end + END.length).replace(/^\n/, '');
  } else {
    next = text + (text && !text.endsWith('\n') ? '\n' : '') + block;
  }
  if (next === text) return false;
  await mkdir(dirname(file), { recursive: true });
  await writeNoFollow(file, next);
  return true;
}

/** Everything per clone that git does not version. Cheap enough to run every sync. */
export async function repairClone(repo: Repo, policy: Policy, s: { agent: string; instance: string; newKey?: boolean }, known?: Map<string, string>): Promise<string[]> {
  const fixed: string[] = [];
  const cfg = known ?? (await repo.configAll());
  const want: Record<string, string> = {
    'agentgit.agent': s.agent,
    'agentgit.instance': s.instance,
    'user.name': `${s.agent}/${s.instance}`,
    'user.email': `${s.instance}@${s.agent}.agentgit.invalid`,
    'core.quotepath': 'false',
    'core.precomposeunicode': 'true',
    'merge.renames': 'false',
  };
  for (const [k, v] of FSCK_CONFIG) want[k] = v;
  for (const k of KINDS) {
    want[`merge.agentgit-${k}.name`] = `agentgit ${k} merge`;
    want[`merge.agentgit-${k}.driver`] = driverCommand(k);
  }
  // SSH commit signing with the instance key (outside the repo, 0600). A key
  // already configured and present is kept, even if cron's environment would
  // locate $AGENTGIT_HOME elsewhere: switching keys would un-admit the instance.
  // A configured key that is gone is never replaced silently (see MissingKeyError):
  // only the key at the standard place (just imported) or --new-key stands in.
  const configured = cfg.get('user.signingkey');
  const present = (p: string): boolean => existsSync(p) && existsSync(p + '.pub');
  let signingKey: string;
  if (configured && present(configured)) signingKey = configured;
  else if (present(keyPath(s.agent, s.instance))) signingKey = (await ensureKey(s.agent, s.instance)).privatePath;
  else if (configured && cfg.get('agentgit.instance') === s.instance && !s.newKey) {
    throw new MissingKeyError(existsSync(configured) ? configured + '.pub' : configured, `${s.agent}/${s.instance}`);
  } else signingKey = (await ensureKey(s.agent, s.instance)).privatePath;
  want['gpg.format'] = 'ssh';
  want['user.signingkey'] = signingKey;
  want['commit.gpgsign'] = 'true';
  want['gpg.ssh.allowedSignersFile'] = join(repo.root, SIGNERS_PATH);
  for (const [k, v] of Object.entries(want)) {
    if (cfg.get(k.toLowerCase()) !== v) {
      await repo.setConfig(k, v);
      fixed.push(`config ${k}`);
    }
  }
  if (await writeManagedBlock(join(repo.gitDir, 'info', 'attributes'), policy.attributesLines())) fixed.push('.git/info/attributes');
  const hooksPath = cfg.get('core.hookspath');
  const hooksDir = hooksPath ? resolve(repo.root, hooksPath.replace(/^~(?=\/)/, process.env.HOME ?? '~')) : join(repo.gitDir, 'hooks');
  for (const name of HOOKS) {
    const hook = join(hooksDir, name);
    // synchronous reads: two small files, every round
    const template = readFileSync(join(PROJECT_ROOT, 'hooks', name), 'utf8');
    let current = '';
    try {
      current = readFileSync(hook, 'utf8');
    } catch {
      // no hook yet
    }
    const body = template.replace('@NODE@', process.execPath).replace('@AGENTGIT@', AGENTGIT_BIN);
    if (current === body) continue;
    if (current && !current.includes(`agentgit ${name} hook`)) {
      await writeFile(hook + '.before-agentgit', current);
      fixed.push(`kept your old hook as ${hook}.before-agentgit`);
    }
    await mkdir(hooksDir, { recursive: true });
    await writeFile(hook, body);
    await chmod(hook, 0o755);
    fixed.push(`${name} hook`);
  }
  return fixed;
}

/** The git hooks agentgit installs (hooks/NAME): the commit guard and the secret scan of a push by hand. */
const HOOKS = ['pre-commit', 'pre-push'] as const;

/** Versioned setup files: policy (when absent), .gitattributes and .gitignore blocks. Returns whether it wrote any. */
export async function writeVersionedSetup(root: string, policy: Policy, createPolicy = true): Promise<boolean> {
  const pfile = join(root, POLICY_PATH);
  const created = createPolicy && !existsSync(pfile);
  if (created) await writeWorkTreeFile(root, POLICY_PATH, defaultConfigText());
  const written = await allDone([writeManagedBlock(join(root, '.gitattributes'), policy.attributesLines()), writeManagedBlock(join(root, '.gitignore'), policy.ignoreLines())]);
  return created || written.some(Boolean);
}

/** Make `dir` a Git repo (or adopt the one there) and configure it. */
export async function initRepo(dir: string, o: SetupOptions): Promise<{ repo: Repo; adopted: boolean; instance: string; agent: string }> {
  if (o.remote && urlHasCredentials(o.remote)) throw new UsageError(credentialUrlMessage(o.remote)); // before anything is made
  await mkdir(dir, { recursive: true });
  let repo = await Repo.openAt(dir);
  const adopted = repo !== null;
  if (!repo) {
    const branch = o.branch ?? 'main';
    checkBranch(branch);
    await Repo.init(dir, branch);
    repo = (await Repo.openAt(dir))!;
  }
  const cfg = await repo.configAll();
  const instance = o.instance ? checkName('instance', o.instance) : cfg.get('agentgit.instance') ?? newInstanceId();
  const agent = o.agent ? checkName('agent', o.agent) : cfg.get('agentgit.agent') ?? (await agentFromHistory(repo)) ?? 'agent';
  const branch = o.branch ?? cfg.get('agentgit.branch') ?? (await repo.currentBranch()) ?? 'main';
  checkBranch(branch);
  if (adopted && (await repo.currentBranch()) !== branch && !(await repo.revParse('HEAD'))) {
    await repo.setHeadBranch(branch);
  }
  await repo.setConfig('agentgit.branch', branch);
  if (o.remote) await setRemote(repo, o.remote);
  else if (!cfg.get('agentgit.remote') && cfg.get('remote.origin.url')) {
    const origin = cfg.get('remote.origin.url')!;
    if (urlHasCredentials(origin)) throw new UsageError(`${credentialUrlMessage(origin)} (\`git remote set-url origin ${stripUserinfo(origin)}\`)`);
    await repo.setConfig('agentgit.remote', 'origin');
  }
  const policy = await readPolicy(repo.root);
  await writeVersionedSetup(repo.root, policy);
  await repairClone(repo, await readPolicy(repo.root), { agent, instance, newKey: o.newKey });
  return { repo, adopted, instance, agent };
}

/** The agent name of an existing agentgit history (authors read `AGENT/INSTANCE`). */
async function agentFromHistory(repo: Repo): Promise<string | null> {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})\//.exec((await repo.lastAuthorMatching(`^${INSTANCE_TRAILER}:`)) ?? '');
  return m ? m[1]! : null;
}

function checkBranch(b: string): void {
  if (!/^[A-Za-z0-9._/-]+$/.test(b) || b.startsWith('-') || b.includes('..')) throw new UsageError(`--branch "${b}" is not a usable branch name`);
}

/** Point the repo at a hub. Refuses URLs with a credential in them (git/url.ts). */
export async function setRemote(repo: Repo, url: string): Promise<void> {
  if (urlHasCredentials(url)) throw new UsageError(credentialUrlMessage(url));
  const existing = await repo.config('remote.origin.url');
  let name = 'origin';
  if (existing && existing !== url) name = 'hub';
  await repo.setRemoteUrl(name, url);
  await repo.setConfig('agentgit.remote', name);
}

/** `git clone` with a deadline, then configure. */
export async function cloneRepo(url: string, dir: string, o: SetupOptions & { timeoutMs: number }): Promise<Repo> {
  await setRemoteCheck(url);
  const parent = dirname(resolve(dir));
  await mkdir(parent, { recursive: true });
  if (o.branch) checkBranch(o.branch);
  // no checkout: nothing of the hub's is written before its history is
  // verified (cli/clone.ts checks it out after); git's fsck checks every object
  await Repo.clone(url, resolve(dir), { timeoutMs: o.timeoutMs, fsck: FSCK_CONFIG });
  const repo = (await Repo.openAt(dir))!;
  await repo.setConfig('agentgit.remote', 'origin');
  const branch = await cloneBranch(repo, o.branch);
  await repo.setConfig('agentgit.branch', branch);
  return repo;
}

/**
 * The branch a fresh clone syncs, checked out. A bare hub made with plain
 * `git init --bare` has HEAD on `master` while agentgit pushed `main`: git
 * then leaves an unborn branch, and syncing that would start a second,
 * unrelated history. Pick the asked branch, else the hub's HEAD when it
 * exists, else `main`, `master` or the hub's only branch.
 */
async function cloneBranch(repo: Repo, asked: string | undefined): Promise<string> {
  const current = await repo.currentBranch();
  const remote = [...(await repo.refs(['refs/remotes/origin'])).keys()].map((r) => r.slice('refs/remotes/origin/'.length)).filter((b) => b !== 'HEAD');
  const want = asked ?? (current && remote.includes(current) ? current : remote.find((b) => b === 'main') ?? remote.find((b) => b === 'master') ?? (remote.length === 1 ? remote[0] : undefined));
  if (!want) {
    if (remote.length > 1) {
      throw new UsageError(`the hub has several branches (${remote.join(', ')}) and its HEAD names none of them; choose one with --branch`);
    }
    return current ?? 'main'; // an empty hub: this instance founds the state
  }
  if (current === want && (await repo.revParse('HEAD'))) return want;
  // the branch only: the work tree is written once the history is verified (cli/clone.ts)
  if (remote.includes(want)) await repo.trackBranch(want, 'origin');
  await repo.setHeadBranch(want); // not on the hub yet: the first push creates it
  return want;
}

async function setRemoteCheck(url: string): Promise<void> {
  if (urlHasCredentials(url)) throw new UsageError(credentialUrlMessage(url));
}

/**
 * Joining state whose history shares no commit with ours (a fresh template,
 * or a workspace started apart): the hub's state is the fleet's, so it wins
 * for every file that differs; the newcomer's version goes to the conflict
 * record (`.agentgit/conflicts.jsonl`, rule `join`), and from there nothing
 * is lost. Append-only logs are the exception: their entries are united
 * (every entry kept once). Files only the newcomer has are added. Builds a
 * merge commit with both histories as parents; touches no ref or file.
 */
export async function joinUnrelated(
  repo: Repo,
  policy: Policy,
  ours: string,
  theirs: string,
  o: { instance: string; sign: boolean },
): Promise<{ commit: string; recorded: string[]; added: string[]; united: string[] }> {
  const { mergeFile } = await import('../merge/index.js');
  const { isClockPath } = await import('./clocks.js');
  const { CONFLICTS_PATH } = await import('./integrate.js');
  const changes = await repo.diffTree(theirs, ours); // from the hub's tree to ours
  const entries: { path: string; mode: string; oid: string }[] = [];
  const recorded: string[] = [];
  const added: string[] = [];
  const united: string[] = [];
  const lines: string[] = [];
  const at = new Date(await repo.committerTime(ours)).toISOString();
  // long values are cut, as in every conflict record: the full version is in history (the join commit's first parent)
  const cut = (v: string): string => (v.length > 64 * 1024 ? v.slice(0, 64 * 1024) + '…[cut; full text in history]' : v);
  const text = (b: Buffer): string => cut(b.includes(0) ? `base64:${b.toString('base64')}` : b.toString('utf8'));
  let oursRecord: Buffer | null = null;
  for (const c of changes) {
    if (c.status === 'D') continue; // only the hub has it: the hub's stays
    if (isClockPath(c.path) || c.path === SIGNERS_PATH) continue; // the hub's clocks and admitted keys
    if (c.path === CONFLICTS_PATH) {
      oursRecord = await repo.objects.read(c.newOid);
      continue;
    }
    if (c.status === 'A') {
      entries.push({ path: c.path, mode: c.newMode, oid: c.newOid });
      added.push(c.path);
      continue;
    }
    const [hub, mine] = await Promise.all([repo.objects.read(c.oldOid), repo.objects.read(c.newOid)]);
    if (!hub || !mine) throw new Error(`object missing while joining ${c.path}; run \`git fsck\``);
    if (policy.kindOf(c.path) === 'log' && c.newMode === c.oldMode) {
      const r = mergeFile({ path: c.path, kind: 'log', base: null, ours: hub, theirs: mine }, policy.config.maxMergeBytes);
      if (r.report.conflicts.length === 0) {
        entries.push({ path: c.path, mode: c.oldMode, oid: await repo.writeBlob(r.bytes) });
        united.push(c.path);
        continue;
      }
    }
    recorded.push(c.path);
    lines.push(
      JSON.stringify({
        at,
        path: c.path,
        key: '',
        rule: 'join',
        winner: { value: text(hub), clock: null },
        loser: { value: text(mine), clock: null },
      }),
    );
  }
  if (lines.length > 0 || oursRecord) {
    const hubRecord = await repo.objects.read(`${theirs}:${CONFLICTS_PATH}`);
    let record = hubRecord ? hubRecord.toString('utf8') : '';
    if (record && !record.endsWith('\n')) record += '\n';
    const have = new Set(record.split('\n'));
    const extra = oursRecord ? oursRecord.toString('utf8').split('\n').filter((l) => l.trim()) : [];
    for (const l of [...extra, ...lines]) {
      if (!have.has(l)) {
        record += l + '\n';
        have.add(l);
      }
    }
    entries.push({ path: CONFLICTS_PATH, mode: '100644', oid: await repo.writeBlob(Buffer.from(record, 'utf8')) });
  }
  const tree = await repo.buildTree(theirs, entries);
  const message = withInstanceTrailer(`agentgit: ${o.instance} joins the hub's state\n\nHistories had no commit in common: the hub's version of each differing file is kept,\nthis instance's version is in ${CONFLICTS_PATH}.`, o.instance);
  const commit = await repo.commitTree(tree, [ours, theirs], message, { sign: o.sign });
  return { commit, recorded, added, united };
}
