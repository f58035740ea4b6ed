// `npm run build`, second step: bundle dist/cli into dist/bundle with
// rolldown.config.mjs, quietly (the rolldown CLI lists every chunk; errors
// still print and fail the build).
import { build } from 'rolldown';
import config from '../rolldown.config.mjs';

await build(config);
