/**
 * Property tests run with a fixed seed in `npm test`, so CI passes or fails
 * on the code, not on the draw. Exploring new draws is a separate act:
 * `AGENTGIT_FC_SEED=random npx vitest run test/merge` (or a number).
 * Counterexamples that random runs found and that are not fixed yet are
 * listed in docs/merging.md ("Open defects found by the property tests").
 */
import fc from 'fast-check';

const env = process.env.AGENTGIT_FC_SEED;
if (env !== 'random') fc.configureGlobal({ seed: env === undefined ? 1 : Number(env) });
