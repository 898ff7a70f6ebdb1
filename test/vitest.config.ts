import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const root = fileURLToPath(new URL('..', import.meta.url))
/**
 * A test's timeout only catches a hang; every test waits on events, never on timing. Some
 * tests are long by nature: hundreds of edge requests in a row (300 refreshes, 300 from one
 * address), real scrypt hashes, several token lifetimes in a browser. On this 2-core machine
 * those took 15-40 s with two CPU hogs beside the suite, and one passed 30 s with three.
 */
const TEST_TIMEOUT_MS = 120_000

/**
 * The worker's secrets in tests. wrangler.toml requires them (`[secrets] required`), and the
 * workers plugin has wrangler look for them where `wrangler dev` does (.dev.vars, .env, the
 * environment), not in `miniflare.bindings`: without them in the environment it warned
 * "Missing required secrets" once per test file. Node-side tests inherit them; the local
 * edge they start never does (edge/local/edge-process.ts drops them from wrangler's environment).
 */
const TEST_SECRETS = {
  ADMIN_TOKEN: 'test-admin-token',
  REVOCATION_FEED_TOKEN: 'test-feed-token',
  KEY_ENCRYPTION_KEY: 'ZWRnZWdhdGUtdGVzdC1rZWstMzItYnl0ZXMtbG9uZyE',
}
Object.assign(process.env, TEST_SECRETS)

export default defineConfig({
  test: {
    root,
    // Two files at a time, whatever the machine: the Node-side files each start real processes
    // (an edge, nodes, Redis, Chromium) and mostly wait on them, so two overlap well even on
    // 2 cores; more would only crowd the cores. Every test waits on events, never on timing.
    maxWorkers: 2,
    // Request logs are shown for failing tests only.
    silent: 'passed-only',
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: 'test/.artifacts/vitest.json' }]]
      : ['default'],
    projects: [
      {
        // Edge tests run inside workerd against real D1 and Durable Objects.
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: `${root}/wrangler.toml` },
            miniflare: {
              bindings: {
                ...TEST_SECRETS,
                // A short rotation period lets lifecycle tests cross several periods quickly.
                ROTATION_PERIOD: '3600',
                // No realtime node in workerd tests; the push test sets its own target.
                REALTIME_URLS: '',
                TEST_MIGRATIONS: await readD1Migrations(`${root}/edge/migrations`),
              },
            },
          })),
        ],
        test: {
          name: 'edge',
          root,
          testTimeout: TEST_TIMEOUT_MS,
          include: ['test/edge/**/*.test.ts'],
          setupFiles: ['test/edge/apply-migrations.ts'],
        },
      },
      {
        // The edge as a library: a team's Worker mounting createEdge (test/fixtures/edge-worker).
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: `${root}/test/fixtures/edge-worker/wrangler.toml` },
            miniflare: {
              bindings: {
                ADMIN_TOKEN: 'test-admin-token',
                REVOCATION_FEED_TOKEN: 'test-feed-token',
                KEY_ENCRYPTION_KEY: 'ZWRnZWdhdGUtdGVzdC1rZWstMzItYnl0ZXMtbG9uZyE',
                TEST_MIGRATIONS: await readD1Migrations(`${root}/edge/migrations`),
              },
            },
          })),
        ],
        test: {
          name: 'edge-worker',
          root,
          testTimeout: TEST_TIMEOUT_MS,
          include: ['test/edge-worker/**/*.test.ts'],
          setupFiles: ['test/edge/apply-migrations.ts'],
        },
      },
      {
        // Node-side tests: stock verifiers, the realtime service, real sockets.
        test: {
          name: 'node',
          root,
          include: [
            'test/local/**/*.test.ts',
            'test/shared/**/*.test.ts',
            'test/package/**/*.test.ts',
            'test/interop/**/*.test.ts',
            'test/realtime/**/*.test.ts',
            'test/browser/**/*.test.ts',
            'test/cluster/**/*.test.ts',
          ],
          environment: 'node',
          testTimeout: TEST_TIMEOUT_MS,
          hookTimeout: TEST_TIMEOUT_MS,
          // One migrated, seeded D1 per run, copied for each edge a file starts.
          globalSetup: ['test/support/edge-state.ts'],
        },
      },
    ],
  },
})
