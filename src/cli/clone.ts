/**
 * `agentgit clone URL DIR`: a new instance joins existing state (a new
 * server, a migration). Clones with a deadline, sets this instance up, and
 * runs a first sync (which pushes the setup when the hub was empty).
 */
import { syncRound } from '../sync/round.js';
import { cloneRepo, initRepo } from '../sync/setup.js';
import { UsageError } from '../sync/context.js';
import { existsSync, readdirSync } from 'node:fs';
import { reportSync } from './output.js';

export async function cloneCommand(a: { url: string; dir: string; agent?: string; instance?: string; timeout: number; json: boolean }): Promise<void> {
  if (existsSync(a.dir) && readdirSync(a.dir).length > 0) {
    throw new UsageError(`${a.dir} exists and is not empty; clone into a new directory, or use \`agentgit init -C ${a.dir} --remote ${a.url}\` to merge what is there with the hub`);
  }
  const repo = await cloneRepo(a.url, a.dir, { ...a, timeoutMs: a.timeout * 1000 });
  repo.close();
  const setup = await initRepo(a.dir, { agent: a.agent, instance: a.instance });
  setup.repo.close();
  if (!a.json) process.stdout.write(`cloned ${a.url} into ${setup.repo.root} as ${setup.agent}/${setup.instance}\n`);
  const o = await syncRound({ dir: a.dir, push: true, timeoutSec: a.timeout, waitSec: 5 });
  reportSync(o, { json: a.json, quiet: !a.json });
}
