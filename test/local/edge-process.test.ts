/**
 * `npm start`'s edge output: the local edge started as start.ts starts it
 * (edge/local/edge-process.ts, wrangler dev), with its output collected.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEdge, type EdgeProcess } from '../../edge/local/edge-process.ts'
import { isRoutineLine } from '../../edge/local/quiet-output.ts'

describe('isRoutineLine', () => {
  it.each([
    '[wrangler:info] GET /auth/revocations 200 OK (25ms)',
    '[wrangler:info] GET /auth/revocations?after=42 200 OK (3ms)',
    '[wrangler:info] GET /healthz 200 OK (832ms)',
    '[wrangler:info] GET /__scheduled?cron=*%2F5+*+*+*+* 200 OK (40ms)',
  ])('drops %j', (line) => expect(isRoutineLine(line)).toBe(true))

  it.each([
    '[wrangler:info] GET /auth/revocations 401 Unauthorized (51ms)',
    '[wrangler:info] GET /healthz 500 Internal Server Error (2ms)',
    '[wrangler:info] POST /auth/login 200 OK (300ms)',
    '[wrangler:info] GET /auth/revocationsX 200 OK (1ms)',
    '[wrangler:info] Ready on http://127.0.0.1:8787',
    '{"level":"error","msg":"unhandled error"}',
    'GET /auth/revocations 200 OK',
  ])('keeps %j', (line) => expect(isRoutineLine(line)).toBe(false))
})

describe('the local edge as npm start runs it', () => {
  const lines: string[] = []
  let edge: EdgeProcess
  let stateDir: string

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'edgegate-local-output-'))
    edge = await startEdge({ port: 0, stateDir, output: (line) => lines.push(line) })
  })

  afterAll(async () => {
    await edge?.stop()
    await rm(stateDir, { recursive: true, force: true })
  })

  async function get(path: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${edge.url}${path}`, { headers })
    await res.body?.cancel()
    return res.status
  }

  async function lineMatching(pattern: RegExp) {
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      const hit = lines.find((l) => pattern.test(l))
      if (hit) return hit
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`no output line matched ${pattern}; got:\n${lines.join('')}`)
  }

  it('leaves out routine feed polls and health checks, and keeps the refusal', async () => {
    const feed = { authorization: `Bearer ${edge.feedToken}` }
    for (let after = 0; after < 5; after++)
      expect(await get(`/auth/revocations?after=${after}`, feed)).toBe(200)
    expect(await get('/healthz')).toBe(200)
    expect(
      await get('/auth/revocations?after=0', { authorization: 'Bearer wrong-feed-token' }),
    ).toBe(401)
    // wrangler writes its request lines in order, so once the refusal's is out the polls' would be too.
    await lineMatching(/\[wrangler:info\] GET \/auth\/revocations 401/)
    await lineMatching(/"msg":"request refused".*"code":"unauthorized"/)
    expect(lines.filter((l) => /GET \/auth\/revocations.* 200\b/.test(l))).toEqual([])
    expect(lines.filter((l) => /GET \/healthz.* 200\b/.test(l))).toEqual([])
    expect(lines.join('')).not.toContain('wrong-feed-token')
    expect(lines.join('')).toMatch(/Ready on http:\/\/127\.0\.0\.1:\d+/)
  })
})

describe('the local edge on a port someone else holds', () => {
  it("fails with wrangler's own reason, not a bare exit code", async () => {
    const holder = createServer().listen(0, '127.0.0.1')
    await once(holder, 'listening')
    const { port } = holder.address() as AddressInfo
    const stateDir = await mkdtemp(join(tmpdir(), 'edgegate-local-busy-'))
    try {
      // A port the caller named is theirs: no second try on another one.
      const failure = await startEdge({ port, stateDir, stdio: 'ignore' }).then(
        (edge) => edge.stop().then(() => 'started'),
        (err: Error) => err.message,
      )
      expect(failure).toMatch(/^wrangler dev exited with \d+ before it was ready; its last lines:/)
      expect(failure).toContain(`Address already in use (127.0.0.1:${port})`)
      // The key-encryption key and tokens in the env file stay hidden in what is kept.
      expect(failure).toMatch(/env\.ADMIN_TOKEN \("\(hidden\)"\)/)
    } finally {
      holder.close()
      await rm(stateDir, { recursive: true, force: true })
    }
  })
})
