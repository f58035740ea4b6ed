/**
 * A fetch over https that races a push (issue #16). Smart HTTP v1 is
 * stateless: the refs are advertised by one request, wanted by the next.
 * When a ref is force-moved in between (a heartbeat ref, republished every
 * round), the id we want is no longer reachable on the hub and it answers
 * "not our ref". Found by the reliability suite's busy-agent scenario on a
 * mixed fleet; the fetch now asks again with the new advertisement.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchHttpsRefspecs } from '../../../src/git/iso/upload-pack.js';
import { cleanupTemp, git, plainRepo, tempDir, testEnv } from '../../helpers/agents.js';
import { gitEnv, hubsAvailable, startHttpsHub, type HttpsHub } from '../../helpers/hubs.js';

const avail = hubsAvailable();
let hub: HttpsHub;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!avail.https) return;
  hub = await startHttpsHub();
  env = gitEnv(testEnv(tempDir()), hub.clientEnv, { GIT_TERMINAL_PROMPT: '0' });
}, 60_000);
afterAll(async () => {
  await hub?.stop();
  cleanupTemp();
});

describe.skipIf(!avail.https)('a fetch racing a push (https, isomorphic-git engine)', () => {
  it('a ref force-moved between the advertisement and the want: the fetch asks again and gets the new id', async () => {
    const repo = await hub.createRepo('race.git');
    const src = join(tempDir(), 'src');
    const commitFile = plainRepo(src, env);
    const commit = (text: string): string => commitFile('beat.txt', text);
    const old = commit('old\n');
    git(src, ['push', '-q', repo.url, `${old}:refs/agentgit/hub/a`], env);
    // a new, unrelated heartbeat: `old` becomes unreachable on the hub once the ref moves
    git(src, ['checkout', '-q', '--orphan', 'other'], env);
    const fresh = commit('fresh\n');
    git(src, ['push', '-q', repo.url, `${fresh}:refs/heads/other`], env);
    const dst = join(tempDir(), 'dst');
    git(tempDir(), ['init', '-q', '-b', 'main', dst], env);
    const seen: string[] = [];
    let moved = false;
    const r = await fetchHttpsRefspecs(join(dst, '.git'), repo.url, ['+refs/agentgit/hub/*:refs/agentgit/instances/*'], {
      env,
      onRequest: (line) => {
        seen.push(line);
        // right after the first advertisement, another instance republishes its heartbeat
        if (!moved && /^GET .*info\/refs/.test(line)) {
          moved = true;
          git(repo.repoPath, ['update-ref', 'refs/agentgit/hub/a', fresh], env);
          git(repo.repoPath, ['update-ref', '-d', 'refs/heads/other'], env);
          git(repo.repoPath, ['reflog', 'expire', '--expire=now', '--all'], env);
        }
      },
    });
    expect(moved).toBe(true);
    expect(seen.filter((l) => /^GET .*info\/refs/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(r.matched.get('refs/agentgit/hub/a')).toBe(fresh);
    expect(git(dst, ['rev-parse', 'refs/agentgit/instances/a'], env).trim()).toBe(fresh);
  });
});
