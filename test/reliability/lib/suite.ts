/**
 * One describe block per world (a hub kind and its instances). The blocks run
 * concurrently (a 2-core machine syncs two worlds at once); the scenarios of one
 * world run in order, each an `it` that asserts the promises it checked on the
 * way. The checker runs after every scenario in the long run, and after the
 * last scenario of each world in the `npm test` sample (it covers every write
 * of every scenario of that world).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubsAvailable, type HubKind } from '../../helpers/hubs.js';
import { check, summary, type CheckResult } from './checker.js';
import { canMountTmpfs } from './faults.js';
import { LONG } from './report.js';
import { recordSkip, runScenario, type ScenarioDef } from './scenarios.js';
import { World, type Engine } from './world.js';

export function hubMissing(kind: HubKind): string | null {
  if (kind === 'file') return null;
  const a = hubsAvailable();
  return a[kind] ? null : (a.reason ?? `${kind} hub binaries missing`);
}

export interface SuiteOptions {
  kind: HubKind;
  /** the instances' engine; default git (isomorphic-git and mixed: file and https hubs only) */
  engine?: Engine;
  label?: string;
  scenarios: ScenarioDef[];
  names: string[];
  /** put the last instance on a tmpfs (for local-disk-full) */
  tmpfsLast?: boolean;
  /** run the checker after every scenario (else once, after the last) */
  checkEach: boolean;
}

export function expectCheck(c: CheckResult | null): void {
  expect(c, 'the checker did not run').not.toBeNull();
  const r = c!;
  expect(r.problems, `${summary(r)}\n${r.problems.slice(0, 30).join('\n')}`).toEqual([]);
  expect(r.entriesLost).toBe(0);
  expect(r.entriesDuplicated).toBe(0);
  expect(r.itemsLost + r.itemsDuplicated).toBe(0);
  expect(r.jsonWrong).toBe(0);
  expect(r.identical).toBe(true);
  expect(r.ok).toBe(true);
  expect(r.entries).toBeGreaterThan(0);
}

export function defineSuite(o: SuiteOptions): void {
  const missing = hubMissing(o.kind);
  const tmpfs = o.tmpfsLast && canMountTmpfs().ok ? { [o.names[o.names.length - 1]!]: LONG ? 256 : 64 } : undefined;
  const timeout = LONG ? 2_400_000 : 240_000;
  const engine = o.engine ?? 'git';
  if (engine !== 'git' && o.kind === 'ssh') throw new Error(`the ${engine} engine has no ssh transport (docs/engines.md): an ssh world runs on git only`);
  const title = `${o.label ?? 'reliability'} over a ${o.kind} hub on ${engine === 'mixed' ? 'a mixed fleet (git and isomorphic-git)' : engine}`;
  if (missing) console.warn(`[reliability] ${title} skipped: this machine lacks: ${missing}`);
  describe.skipIf(!!missing)(`${title}${missing ? ` (skipped: ${missing})` : ''}`, { concurrent: true }, () => {
    let world: World | undefined;
    beforeAll(async () => {
      world = await World.create({ kind: o.kind, engine, names: o.names, tmpfs });
      console.log(`[reliability] ${title}: ${o.names.join(', ')}${tmpfs ? ` (${Object.keys(tmpfs)[0]} on a tmpfs)` : ''}, seed ${world.seed}`);
    }, 300_000);
    afterAll(async () => {
      await world?.stop();
    }, 120_000);
    const defs = o.scenarios.filter((d) => d.kinds.includes(o.kind));
    for (const def of defs) {
      const lack = def.lacks?.(o.kind) ?? null;
      if (lack) {
        console.warn(`[reliability] ${o.kind} ${engine} ${def.id} skipped: this machine lacks a capability: ${lack}`);
        recordSkip(o.kind, engine, def, lack);
      }
      (lack ? it.skip : it.sequential)(`${def.id}: ${def.title}${lack ? ` (skipped: ${lack})` : ''}`, async () => {
        if (!world) throw new Error('the world was not created');
        const r = await runScenario(world, def, { check: o.checkEach });
        expect(r.violations, r.violations.join('\n')).toEqual([]);
        if (o.checkEach) expectCheck(r.check);
      }, timeout);
    }
    if (!o.checkEach) {
      it.sequential(`checker: after ${defs.map((d) => d.id).join(', ')}`, async () => {
        if (!world) throw new Error('the world was not created');
        const c = await check(world);
        console.log(`[reliability] ${title}: checker after all scenarios: ${summary(c)}${c.problems.length ? `\n  - ${c.problems.slice(0, 20).join('\n  - ')}` : ''}`);
        expectCheck(c);
      }, timeout);
    }
  });
}
