import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // multi-instance tests mostly wait on git and ssh processes: run files side by side
    maxWorkers: 4,
    testTimeout: 240_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // property tests: a fixed seed in npm test (test/setup/fast-check.ts)
    setupFiles: ['test/setup/fast-check.ts'],
  },
});
