import { defineConfig } from 'vitest/config';

// Two projects: the unit tests run in parallel; the lab tests (each file starts its own
// world of real servers on loopback) run one file at a time so they don't starve each other.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000 } },
      {
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
