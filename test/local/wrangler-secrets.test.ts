/**
 * The workers pool reads wrangler.toml through wrangler, which checks its
 * `[secrets] required` against the environment (not the pool's
 * `miniflare.bindings`) and warned "Missing required secrets" once per edge
 * test file. test/vitest.config.ts gives the test run those secrets; this is
 * wrangler's own check, run the way the pool runs it, in that environment.
 */
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'

const CONFIG = fileURLToPath(new URL('../../wrangler.toml', import.meta.url))

afterEach(() => vi.restoreAllMocks())

describe("the test run's environment", () => {
  it("satisfies wrangler.toml's required secrets: no 'Missing required secrets' warning", async () => {
    const said: string[] = []
    for (const method of ['warn', 'log', 'error', 'info'] as const)
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        said.push(args.map(String).join(' '))
      })
    const wrangler = await import('wrangler')
    const { workerOptions } = wrangler.unstable_getMiniflareWorkerOptions(CONFIG)
    expect(said.filter((line) => line.includes('Missing required secrets'))).toEqual([])
    expect(Object.keys(workerOptions.bindings ?? {})).toEqual(
      expect.arrayContaining(['ADMIN_TOKEN', 'REVOCATION_FEED_TOKEN', 'KEY_ENCRYPTION_KEY']),
    )
  })
})
