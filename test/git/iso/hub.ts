/** A bare hub of either kind for the engine's end-to-end tests: its URL, its path on disk, and the env a client needs. */
import { makeBareHub } from '../../helpers/agents.js';
import type { HttpsHub } from '../../helpers/hubs.js';

export async function hubFor(kind: 'file' | 'https', https: HttpsHub | null, name: string): Promise<{ url: string; hubPath: string; hubEnv: Record<string, string> }> {
  if (kind === 'file') {
    const p = makeBareHub();
    return { url: p, hubPath: p, hubEnv: {} };
  }
  const r = await https!.createRepo(name);
  return { url: r.url, hubPath: r.repoPath, hubEnv: https!.clientEnv };
}
