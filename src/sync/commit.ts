/**
 * Step 3 and 4 of a round: commit every change in synced layers, with the
 * guard (secrets, rewritten logs, size) and per-key write clocks for JSON.
 */
import { lstat, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { changedKeyPaths } from '../merge/json.js';
import { decodeText } from '../merge/util.js';
import type { Policy } from '../policy/policy.js';
import { writeBlob } from '../git/objects.js';
import type { Repo } from '../git/repo.js';
import { clockPathFor, formatClockFile, isClockPath, maxClock, parseClockFile } from './clocks.js';
import { checkFile, type Held } from './guard.js';
import type { ClockSource } from './hlc.js';

export interface CommitResult {
  commit: string | null;
  committed: string[];
  held: Held[];
  /** Files under a nested .git (another repository): reported, never committed. */
  nested: string[];
}

export interface CommitOptions {
  repo: Repo;
  policy: Policy;
  clocks: ClockSource;
  message: (files: string[]) => string;
  sign: boolean;
}

/** The work-tree file (a symlink as its target text); a file over `maxBytes` is not read, only sized. */
async function readWork(abs: string, maxBytes = Infinity): Promise<{ bytes: Buffer; size: number } | null> {
  try {
    const st = await lstat(abs);
    if (st.isSymbolicLink()) {
      const target = Buffer.from(await readlink(abs));
      return { bytes: target, size: target.length };
    }
    if (!st.isFile()) return null;
    if (st.size > maxBytes) return { bytes: Buffer.alloc(0), size: st.size };
    return { bytes: await readFile(abs), size: st.size };
  } catch {
    return null;
  }
}

export async function commitLocalChanges(o: CommitOptions): Promise<CommitResult> {
  const { repo, policy } = o;
  const status = await repo.status();
  if (status.length === 0) return { commit: null, committed: [], held: [], nested: [] };
  const held: Held[] = [];
  const nested: string[] = [];
  const add: string[] = [];
  const clockFiles = new Map<string, Record<string, string>>();
  const replace: { path: string; bytes: Uint8Array }[] = [];

  for (const s of status) {
    const path = s.path;
    if (path.endsWith('/')) {
      // untracked directory git would not descend into: a nested repository
      nested.push(path.slice(0, -1));
      continue;
    }
    const kind = policy.kindOf(path);
    if (kind === 'local' && !policy.isSecretPath(path)) continue; // ignored layer, tracked by mistake: leave it alone
    if (isClockPath(path)) {
      add.push(path);
      continue;
    }
    const work = await readWork(join(repo.root, path), policy.config.maxFileBytes);
    const tracked = s.xy !== '??' && s.xy[0] !== 'A';
    const before = tracked ? await repo.objects.read(`HEAD:${path}`) : null;
    const h = checkFile(policy, { path, before, after: work?.bytes ?? null, size: work?.size ?? 0 });
    if (h) {
      held.push(h);
      if (h.commitInstead && before && Buffer.compare(Buffer.from(h.commitInstead), before) !== 0) replace.push({ path, bytes: h.commitInstead });
      continue;
    }
    add.push(path);
    if (kind === 'log') continue; // logs merge by entry: no clocks needed
    // per-key clocks for JSON, a whole-file clock for everything else
    const cpath = clockPathFor(path);
    if (!clockFiles.has(cpath)) clockFiles.set(cpath, parseClockFile(await readWork(join(repo.root, cpath)).then((w) => w?.bytes ?? null)));
    const clocks = clockFiles.get(cpath)!;
    const existing = maxClock(Object.values(clocks));
    if (existing) o.clocks.see(existing);
    const stamp = o.clocks.next();
    if (!work) {
      clocks[''] = stamp;
      continue;
    }
    clocks[''] = stamp;
    if (kind === 'json') {
      const beforeText = before ? decodeText(before) : null;
      const afterText = decodeText(work.bytes);
      if (afterText !== null) {
        for (const k of changedKeyPaths(beforeText, afterText, policy.jsonOptions(path))) clocks[k] = stamp;
      }
    }
  }

  // write the clock files (synced, beside the data) and stage them
  for (const [cpath, clocks] of clockFiles) {
    const abs = join(repo.root, cpath);
    await mkdir(dirname(abs), { recursive: true });
    await writeFile(abs, formatClockFile(clocks));
    add.push(cpath);
  }
  await repo.addPaths([...new Set(add)]);
  // a held file a person staged by hand must not ride along
  if (held.length > 0 && (await repo.revParse('HEAD'))) {
    await repo.run(['reset', '-q', 'HEAD', '--pathspec-from-file=-', '--pathspec-file-nul'], {
      input: held.map((h) => h.path).join('\0') + '\0',
      env: { GIT_LITERAL_PATHSPECS: '1' },
    });
  }
  // held logs: commit the committed entries plus the new ones, leave the file as it is
  if (replace.length > 0) {
    const entries = [];
    for (const r of replace) {
      const mode = (await repo.text(['ls-files', '-s', '--', r.path], { env: { GIT_LITERAL_PATHSPECS: '1' } })).split(' ')[0] || '100644';
      entries.push({ path: r.path, mode, oid: await writeBlob(repo.gitDir, r.bytes) });
    }
    await repo.updateIndex(entries);
  }
  const staged = (await repo.run(['diff', '--cached', '--name-only', '-z', '--no-renames'])).stdout.toString('utf8').split('\0').filter(Boolean);
  if (staged.length === 0) return { commit: null, committed: [], held, nested };
  const visible = staged.filter((p) => !isClockPath(p));
  const args = ['commit', '-q', '--no-verify', '--allow-empty-message', '-F', '-'];
  if (o.sign) args.push('-S');
  await repo.run(args, { input: o.message(visible) });
  await o.clocks.save();
  const commit = await repo.revParse('HEAD');
  return { commit, committed: visible, held, nested };
}
