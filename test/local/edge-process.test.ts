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
import { decodeJwt } from 'jose'
import { demoUsersSql } from '../../edge/local/demo-users.ts'
import { startEdge, type EdgeProcess } from '../../edge/local/edge-process.ts'
import { isRoutineLine } from '../../edge/local/quiet-output.ts'

describe('isRoutineLine', () => {
  // The worker logs every request itself (edge/http/log.ts); wrangler's own line repeats it.
  it.each([
    '[wrangler:info] GET /auth/revocations 200 OK (25ms)',
    '[wrangler:info] GET /auth/revocations?after=42 200 OK (3ms)',
    '[wrangler:info] GET /healthz 200 OK (832ms)',
    '[wrangler:info] GET /__scheduled?cron=*%2F5+*+*+*+* 200 OK (40ms)',
    '[wrangler:info] POST /auth/login 200 OK (300ms)',
    '[wrangler:info] GET /auth/revocations 401 Unauthorized (51ms)',
    '[wrangler:info] GET /healthz 500 Internal Server Error (2ms)',
  ])('drops %j', (line) => expect(isRoutineLine(line)).toBe(true))

  it.each([
    '[wrangler:info] Ready on http://127.0.0.1:8787',
    '{"level":"error","msg":"unhandled error"}',
    '{"level":"info","msg":"request","method":"POST","route":"/auth/login","status":200,"ms":3}',
    'GET /auth/revocations 200 OK',
    '[wrangler:warn] GET /x 200 OK',
  ])('keeps %j', (line) => expect(isRoutineLine(line)).toBe(false))
})

describe('the local edge as npm start runs it', () => {
  const lines: string[] = []
  let edge: EdgeProcess
  let stateDir: string
  // start.ts seeds the demo users the same way, on every start.
  const start = async () =>
    startEdge({
      port: 0,
      stateDir,
      seedSql: await demoUsersSql(),
      // Not in wrangler.toml's [vars]: wrangler drops such names from an env file.
      vars: { REFRESH_LIMIT_PER_SESSION: '2' },
      output: (line) => lines.push(line),
    })

  // vitest sets NODE_ENV=test, which alone keeps Miniflare from calling Cloudflare; npm start has none.
  const nodeEnv = process.env.NODE_ENV

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'edgegate-local-output-'))
    delete process.env.NODE_ENV
    edge = await start()
  })

  afterAll(async () => {
    process.env.NODE_ENV = nodeEnv
    await edge?.stop()
    await rm(stateDir, { recursive: true, force: true })
  })

  async function get(path: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${edge.url}${path}`, { headers })
    await res.body?.cancel()
    return res.status
  }

  async function post(path: string, body: unknown) {
    const res = await fetch(`${edge.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as Record<string, string> }
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
    // The worker writes its lines in order, so once the refusal's is out the polls' would be too.
    await lineMatching(/"msg":"request","method":"GET","route":"\/auth\/revocations","status":401/)
    await lineMatching(/"msg":"request refused".*"code":"unauthorized"/)
    expect(lines.filter((l) => /auth\/revocations.*\b200\b/.test(l))).toEqual([])
    expect(lines.filter((l) => /healthz.*\b200\b/.test(l))).toEqual([])
    expect(lines.join('')).not.toContain('wrong-feed-token')
    expect(lines.join('')).toMatch(/Ready on http:\/\/127\.0\.0\.1:\d+/)
  })

  it('logs each request once', async () => {
    expect(await get('/.well-known/openid-configuration')).toBe(200)
    // wrangler logs a request as it answers it, so by the time a later request's line is out,
    // a line of wrangler's about the first would be too.
    expect(await get('/.well-known/jwks.json')).toBe(200)
    await lineMatching(/"route":"\/\.well-known\/jwks\.json","status":200/)
    expect(lines.filter((l) => l.includes('/.well-known/openid-configuration'))).toHaveLength(1)
  })

  it('calls nothing at Cloudflare: no request.cf download, so offline no stack trace', () => {
    expect(lines.join('')).not.toMatch(/Request\.cf|workers\.cloudflare\.com|getaddrinfo/)
  })

  it('passes a variable wrangler.toml does not declare to the worker', async () => {
    const login = await post('/auth/login', { username: 'bob', password: 'bob-password-1' })
    expect(login.status).toBe(200)
    let token = login.body.refresh_token
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      const res = await post('/auth/refresh', { refresh_token: token })
      statuses.push(res.status)
      if (res.status === 200) token = res.body.refresh_token!
    }
    expect(statuses).toEqual([200, 200, 429])
  })

  it('restarts on the same state without a refusal or warning, the demo users unchanged', async () => {
    const subOf = async () => {
      const res = await post('/auth/login', { username: 'alice', password: 'alice-password-1' })
      expect(res.status).toBe(200)
      return decodeJwt(res.body.access_token!).sub
    }
    const before = await subOf()
    await edge.stop()
    lines.length = 0
    edge = await start()
    expect(await subOf()).toBe(before)
    await lineMatching(/"route":"\/auth\/login","status":200/)
    expect(lines.join('')).not.toMatch(/WARNING|username taken|conflict/)
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
