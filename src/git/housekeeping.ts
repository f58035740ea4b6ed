/**
 * git's own test for automatic housekeeping (`git maintenance run --auto`,
 * `git gc --auto`), read from a repository's files: a local repository's
 * after a round's commit (Repo.housekeeping), a hub's after a push made
 * in-process (git/hub-push.ts), where git's receive-pack would ask.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** A git config integer (`10k`, `1m`, `2g` allowed); `fallback` when absent or not a number. */
export function gitInt(value: string | undefined, fallback: number): number {
  const m = value === undefined ? null : /^\s*(-?\d+)\s*([kmg]?)\s*$/i.exec(value);
  if (!m) return fallback;
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
}

/**
 * Whether git's automatic housekeeping is due in `gitDir`, by git's own
 * test: more than gc.auto/256 loose objects in objects/17 (gc.auto: 6700),
 * or more than gc.autoPackLimit packs (50) not kept by a `.keep`.
 */
export function housekeepingDueAt(gitDir: string, config: Map<string, string>): boolean {
  if ((config.get('maintenance.auto') ?? 'true') === 'false') return false;
  const auto = gitInt(config.get('gc.auto'), 6700);
  const packLimit = gitInt(config.get('gc.autopacklimit'), 50);
  const objects = join(gitDir, 'objects');
  if (auto > 0) {
    const threshold = Math.ceil(auto / 256);
    let loose = 0;
    try {
      for (const f of readdirSync(join(objects, '17'))) if (/^[0-9a-f]{38}$|^[0-9a-f]{62}$/.test(f) && ++loose > threshold) return true;
    } catch {
      /* no objects/17: none loose there */
    }
  }
  if (auto > 0 && packLimit > 0) {
    try {
      const packs = readdirSync(join(objects, 'pack'));
      const kept = new Set(packs.filter((f) => f.endsWith('.keep')).map((f) => f.slice(0, -5)));
      if (packs.filter((f) => f.endsWith('.pack') && !kept.has(f.slice(0, -5))).length > packLimit) return true;
    } catch {
      /* no packs */
    }
  }
  return false;
}
