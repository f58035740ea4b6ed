/**
 * A cron round's look at a hub on this machine (issue #14): the hub's
 * branch head read from its ref files, offered to the round only when every
 * heartbeat the hub holds is the one our last fetch brought. The round's
 * fetch would then bring nothing (the same branch head, the same
 * heartbeats): it is skipped, as the watcher's local rounds skip it. The
 * hub is trusted for ordering only, and this reads nothing else: a hub that
 * moved meanwhile refuses the push, and the round's next attempt fetches.
 *
 * Anything unusual on the hub's side (a link, a file too large, a name git
 * would not write, a packed ref this reader cannot parse) answers "cannot
 * tell", and the round fetches as before.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Repo } from '../git/repo.js';
import { isSshUrl } from '../git/ssh.js';
import { HUB_PREFIX, LOCAL_PREFIX } from './heartbeat.js';

/** At most this many heartbeat refs are compared in-process; more: git fetches. */
const MAX_HEARTBEATS = 1024;

/** The heartbeat ref names on the hub (loose and packed), or null when this reader cannot tell. */
function hubHeartbeats(hubDir: string): Set<string> | null {
  const names = new Set<string>();
  const walk = (rel: string): boolean => {
    let ents;
    try {
      ents = readdirSync(join(hubDir, rel), { withFileTypes: true });
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
    for (const e of ents) {
      const name = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!walk(name)) return false;
      } else if (e.isFile() && !e.name.endsWith('.lock')) names.add(name);
      else if (!e.isFile()) return false; // a link or anything else: git decides
      if (names.size > MAX_HEARTBEATS) return false;
    }
    return true;
  };
  if (!walk(HUB_PREFIX.slice(0, -1))) return null;
  let packed = '';
  try {
    const st = lstatSync(join(hubDir, 'packed-refs'));
    if (!st.isFile() || st.size > 64 << 20) return null;
    packed = readFileSync(join(hubDir, 'packed-refs'), 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return null;
  }
  for (const l of packed.split('\n')) {
    const m = /^[0-9a-f]{40,64} (\S+)$/.exec(l);
    if (m && m[1]!.startsWith(HUB_PREFIX)) names.add(m[1]!);
  }
  return names.size > MAX_HEARTBEATS ? null : names;
}

/** Whether every heartbeat on the hub equals our copy of it (what the last fetch brought). */
export function heartbeatsFetched(repo: Repo, hubDir: string): boolean {
  const names = hubHeartbeats(hubDir);
  if (names === null) return false;
  const hub = Repo.bareAt(hubDir);
  for (const name of names) {
    const theirs = hub.readRef(name);
    if (theirs === undefined || theirs === null) return false;
    if (repo.readRef(LOCAL_PREFIX + name.slice(HUB_PREFIX.length)) !== theirs) return false;
  }
  return true;
}

/**
 * For a round started by cron (or by hand): the hub's branch head when the
 * hub is a repository on this machine and its heartbeats are all fetched
 * already; undefined (the round fetches) otherwise.
 */
export async function quietHubHead(repo: Repo, url: string, config: Map<string, string>, branch: string): Promise<(() => string | null | undefined) | undefined> {
  if (isSshUrl(url) || (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^file:\/\//i.test(url))) return undefined;
  const { localHubDir, readHubRef } = await import('./watch.js');
  const hubDir = localHubDir(url, repo.root, config);
  if (hubDir === null) return undefined;
  return () => (heartbeatsFetched(repo, hubDir) ? readHubRef(hubDir, branch) : undefined);
}
