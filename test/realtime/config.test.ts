import { describe, expect, it } from 'vitest'
import { ConfigErrors, readServiceConfig, VARIABLES } from '../../realtime/config.ts'
import { cleanup, startIssuer, startServer } from './support.ts'

/** The problems `env` is refused with, or [] when it is accepted. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    readServiceConfig(env)
    return []
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigErrors)
    return (err as ConfigErrors).problems
  }
}

describe('readServiceConfig', () => {
  it('starts from the documented defaults with an empty environment', () => {
    const config = readServiceConfig({})
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      shutdownTimeoutMs: 10_000,
      logLevel: 'info',
    })
    expect(config.server).toMatchObject({
      issuer: 'http://127.0.0.1:8787',
      jwksUrl: 'http://127.0.0.1:8787/.well-known/jwks.json',
      audience: 'realtime',
      allowedOrigins: ['http://127.0.0.1:8787'],
      tokenSource: { allowQueryToken: false },
      requireEnvelopeToken: false,
      clockToleranceSeconds: 5,
      connectTimeoutMs: 5000,
      limits: { ratePerSecond: 10, perAddress: 200, perUser: 20 },
      messageRate: { perSecond: 20, burst: 40 },
      connectionStateRecovery: false,
      trustProxy: false,
      jwks: { cooldownMs: 30_000, maxStaleMs: 3_600_000 },
    })
    expect(config.server).not.toHaveProperty('loginUrl')
    expect(config.server).not.toHaveProperty('revocationFeed')
    expect(config.server).not.toHaveProperty('redisUrl')
  })

  it('bounds what a node queues per socket at 1 MiB unless MAX_QUEUED_BYTES_PER_SOCKET says otherwise', () => {
    expect(readServiceConfig({}).server.maxQueuedBytesPerSocket).toBe(1024 * 1024)
    const set = readServiceConfig({ MAX_QUEUED_BYTES_PER_SOCKET: '65536' })
    expect(set.server.maxQueuedBytesPerSocket).toBe(65_536)
    for (const bad of ['0', '-1', '1mb', '1023']) {
      expect(problemsOf({ MAX_QUEUED_BYTES_PER_SOCKET: bad })).toEqual([
        expect.stringMatching(/^MAX_QUEUED_BYTES_PER_SOCKET=/),
      ])
    }
  })

  it('documents every variable it reads', () => {
    const read = new Set<string>()
    readServiceConfig(
      new Proxy({}, { get: (_, key) => (typeof key === 'string' && read.add(key), undefined) }),
    )
    expect([...read].filter((name) => !(name in VARIABLES))).toEqual([])
  })

  it('derives the issuer, the JWKS URL and the allowed origin from EDGE_URL', () => {
    const { server } = readServiceConfig({ EDGE_URL: 'https://edge.example.com/' })
    expect(server).toMatchObject({
      issuer: 'https://edge.example.com',
      jwksUrl: 'https://edge.example.com/.well-known/jwks.json',
      allowedOrigins: ['https://edge.example.com'],
    })
  })

  it('reads lists, switches and numbers', () => {
    const { server, port } = readServiceConfig({
      REALTIME_PORT: '0',
      AUDIENCE: 'realtime, chat',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example:8443',
      ALLOW_QUERY_TOKEN: 'true',
      REQUIRE_ENVELOPE_TOKEN: '1',
      TRUST_PROXY: '0',
      TOKEN_COOKIE: '__Host-at',
      CONNECTION_STATE_RECOVERY_MS: '60000',
      MESSAGE_RATE: '1',
      MESSAGE_BURST: '3',
      LOGIN_URL: 'https://app.example/login',
    })
    expect(port).toBe(0)
    expect(server).toMatchObject({
      audience: ['realtime', 'chat'],
      allowedOrigins: ['https://a.example', 'https://b.example:8443'],
      tokenSource: { allowQueryToken: true, cookieName: '__Host-at' },
      requireEnvelopeToken: true,
      trustProxy: false,
      connectionStateRecovery: { maxDisconnectionDurationMs: 60_000 },
      messageRate: { perSecond: 1, burst: 3 },
      loginUrl: 'https://app.example/login',
    })
    expect(readServiceConfig({ ALLOWED_ORIGINS: '*' }).server.allowedOrigins).toBe('*')
  })

  const bad: [string, string][] = [
    ['REALTIME_PORT', 'abc'],
    ['REALTIME_PORT', '70000'],
    ['REALTIME_PORT', '-1'],
    ['REALTIME_PORT', '80.5'],
    ['REALTIME_PORT', '0x50'],
    ['EDGE_URL', 'not a url'],
    ['EDGE_URL', 'ftp://edge.example.com'],
    ['ISSUER', 'edge.example.com'],
    ['JWKS_URL', 'file:///etc/jwks.json'],
    ['AUDIENCE', ' , '],
    ['ALLOWED_ORIGINS', 'https://a.example/path'],
    ['ALLOWED_ORIGINS', 'a.example'],
    ['TOKEN_COOKIE', 'at token'],
    ['ALLOW_QUERY_TOKEN', 'yes'],
    ['REQUIRE_ENVELOPE_TOKEN', 'on'],
    ['TRUST_PROXY', 'TRUE '],
    ['CLOCK_TOLERANCE', '301'],
    ['CONNECT_TIMEOUT_MS', '50'],
    ['CONNECTION_RATE', '0'],
    ['MAX_CONNECTIONS_PER_ADDRESS', '0'],
    ['MAX_CONNECTIONS_PER_USER', '1e3'],
    ['MESSAGE_RATE', '0'],
    ['MAX_ROOMS_PER_SOCKET', '0'],
    ['MAX_ROOMS_PER_USER', 'many'],
    ['MESSAGE_BURST', ''.padEnd(20, '9')],
    ['CONNECTION_STATE_RECOVERY_MS', '-5'],
    ['LOGIN_URL', 'javascript:alert(1)'],
    ['JWKS_COOLDOWN_MS', 'soon'],
    ['JWKS_MAX_STALE_MS', '999999999999'],
    ['SHUTDOWN_TIMEOUT_MS', '600001'],
    ['LOG_LEVEL', 'verbose'],
    ['REVOCATION_POLL_MS', '10'],
    ['REDIS_URL', 'http://cache.example'],
    ['SOCKETIO_JWT_COMPAT_MS', '-1'],
    ['SOCKETIO_JWT_COMPAT_MS', '60001'],
    ['SOCKETIO_JWT_COMPAT_MS', '5s'],
    ['PRESENCE_GRACE_MS', '-5'],
    ['PRESENCE_BATCH_MS', '999'],
  ]

  it.each(bad)('reports %s=%j with exactly one message naming the variable', (name, value) => {
    const problems = problemsOf({ [name]: value })
    expect(problems).toHaveLength(1)
    expect(problems[0]!.startsWith(name)).toBe(true)
  })

  it('reports every bad variable at once, one message each', () => {
    const env = {
      REALTIME_PORT: 'abc',
      CLOCK_TOLERANCE: '301',
      LOG_LEVEL: 'verbose',
      ALLOW_QUERY_TOKEN: 'yes',
      EDGE_URL: 'nope',
    }
    const problems = problemsOf(env)
    expect(problems.map((p) => p.split(/[=:]/)[0]).sort()).toEqual(Object.keys(env).sort())
    expect(() => readServiceConfig(env)).toThrow(ConfigErrors)
  })

  it('does not echo a credential from a bad REDIS_URL', () => {
    const problems = problemsOf({ REDIS_URL: 'http://user:s3cret-pass@cache.example:6379' })
    expect(problems).toHaveLength(1)
    expect(problems[0]).not.toContain('s3cret-pass')
  })

  it('leaves the socketio-jwt compat mode off unless SOCKETIO_JWT_COMPAT_MS is above 0', () => {
    expect(readServiceConfig({}).server.socketioJwtCompat).toBe(false)
    expect(readServiceConfig({ SOCKETIO_JWT_COMPAT_MS: '0' }).server.socketioJwtCompat).toBe(false)
    expect(readServiceConfig({ SOCKETIO_JWT_COMPAT_MS: '5000' }).server.socketioJwtCompat).toEqual({
      timeoutMs: 5000,
    })
  })

  it('refuses ALLOWED_ORIGINS=* with TOKEN_COOKIE in one line naming both (cross-site socket hijacking)', () => {
    const problems = problemsOf({ ALLOWED_ORIGINS: '*', TOKEN_COOKIE: 'at' })
    expect(problems).toEqual([
      'ALLOWED_ORIGINS=* with TOKEN_COOKIE: any site could connect as its visitor; list the origins',
    ])
    expect(problemsOf({ ALLOWED_ORIGINS: ' * ', TOKEN_COOKIE: 'at' })).toHaveLength(1)
    expect(problemsOf({ ALLOWED_ORIGINS: '*' })).toEqual([])
    expect(problemsOf({ ALLOWED_ORIGINS: 'https://app.example', TOKEN_COOKIE: 'at' })).toEqual([])
  })

  it('reads the room caps, 100 per socket and 500 per user by default', () => {
    expect(readServiceConfig({}).server.rooms).toEqual({ perSocket: 100, perUser: 500 })
    const { server } = readServiceConfig({ MAX_ROOMS_PER_SOCKET: '5', MAX_ROOMS_PER_USER: '9' })
    expect(server.rooms).toEqual({ perSocket: 5, perUser: 9 })
  })

  it('reads the presence grace and batch periods, defaulting to 5000 and 1000 ms (docs/protocol.md §10)', () => {
    expect(readServiceConfig({}).server.presence).toEqual({ graceMs: 5000, batchMs: 1000 })
    expect(
      readServiceConfig({ PRESENCE_GRACE_MS: '250', PRESENCE_BATCH_MS: '2000' }).server.presence,
    ).toEqual({ graceMs: 250, batchMs: 2000 })
  })

  it('turns on the revocation feed only with a feed token', () => {
    const { server } = readServiceConfig({
      EDGE_URL: 'https://edge.example.com',
      REVOCATION_FEED_TOKEN: 'feed',
      REVOCATION_POLL_MS: '500',
    })
    expect(server.revocationFeed).toEqual({
      edgeUrl: 'https://edge.example.com',
      token: 'feed',
      intervalMs: 500,
    })
  })
})

describe('the heartbeat from the environment (issue 20 item 15)', () => {
  it('reads REALTIME_PING_INTERVAL_MS and REALTIME_PING_TIMEOUT_MS, defaulting to 25000 and 20000', () => {
    expect(readServiceConfig({}).server.heartbeat).toEqual({
      pingIntervalMs: 25_000,
      pingTimeoutMs: 20_000,
    })
    expect(
      readServiceConfig({ REALTIME_PING_INTERVAL_MS: '300', REALTIME_PING_TIMEOUT_MS: '200' })
        .server.heartbeat,
    ).toEqual({ pingIntervalMs: 300, pingTimeoutMs: 200 })
    expect(VARIABLES).toMatchObject({
      REALTIME_PING_INTERVAL_MS: '25000',
      REALTIME_PING_TIMEOUT_MS: '20000',
    })
  })

  it('refuses a heartbeat that is not a whole number of ms in range', () => {
    expect(
      problemsOf({ REALTIME_PING_INTERVAL_MS: '0', REALTIME_PING_TIMEOUT_MS: '2.5' }).map(
        (p) => p.split('=')[0],
      ),
    ).toEqual(['REALTIME_PING_INTERVAL_MS', 'REALTIME_PING_TIMEOUT_MS'])
  })

  it('a server started from that configuration advertises it in the Engine.IO handshake', async () => {
    const { server } = readServiceConfig({
      REALTIME_PING_INTERVAL_MS: '1500',
      REALTIME_PING_TIMEOUT_MS: '1200',
    })
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { heartbeat: server.heartbeat })
    const open = await (await fetch(`${url}/socket.io/?EIO=4&transport=polling`)).text()
    expect(JSON.parse(open.slice(1))).toMatchObject({ pingInterval: 1500, pingTimeout: 1200 })
    await cleanup()
  })
})

describe('DPoP from the environment (docs/protocol.md §15)', () => {
  it('has no public URL and no nonces by default, and a 100,000-entry replay cache', () => {
    const { server } = readServiceConfig({})
    expect(server).not.toHaveProperty('publicUrl')
    expect(server.dpop).toEqual({ replayCacheMaxEntries: 100_000 })
  })

  it('reads REALTIME_PUBLIC_URL, REALTIME_DPOP_NONCE and REALTIME_DPOP_REPLAY_MAX', () => {
    const secret = 'x'.repeat(32)
    const { server } = readServiceConfig({
      REALTIME_PUBLIC_URL: 'https://rt.example.com/',
      REALTIME_DPOP_NONCE: secret,
      REALTIME_DPOP_REPLAY_MAX: '5000',
    })
    expect(server.publicUrl).toBe('https://rt.example.com')
    expect(server.dpop).toEqual({ replayCacheMaxEntries: 5000, nonceSecret: secret })
  })

  it('refuses a public URL with a query or credentials, and a short nonce secret without echoing it', () => {
    const problems = problemsOf({
      REALTIME_PUBLIC_URL: 'https://rt.example.com/?x=1',
      REALTIME_DPOP_NONCE: 'short-secret-value',
      REALTIME_DPOP_REPLAY_MAX: '10',
    })
    expect(problems).toHaveLength(3)
    expect(problems.join('\n')).not.toContain('short-secret-value')
    expect(problems[1]).toMatch(/^REALTIME_DPOP_NONCE: expected a secret of at least 32/)
  })
})

describe('REALTIME_WEBHOOKS_DELIVER (a node that records but leaves delivery to another)', () => {
  const hooks = JSON.stringify([
    { url: 'https://hooks.example/in', secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}` },
  ])
  it('delivers by default, and reads false with REDIS_URL', () => {
    expect(readServiceConfig({ WEBHOOKS: hooks }).server.lifecycle?.deliver).toBe(true)
    const off = readServiceConfig({
      ...{ WEBHOOKS: hooks, REDIS_URL: 'redis://127.0.0.1:6379' },
      REALTIME_WEBHOOKS_DELIVER: 'false',
    })
    expect(off.server.lifecycle?.deliver).toBe(false)
  })

  it('refuses false on a single node with WEBHOOKS (nobody would ever deliver), and a value that is not a switch', () => {
    expect(problemsOf({ WEBHOOKS: hooks, REALTIME_WEBHOOKS_DELIVER: 'false' })).toEqual([
      expect.stringMatching(/^REALTIME_WEBHOOKS_DELIVER=false without REDIS_URL/),
    ])
    expect(problemsOf({ REALTIME_WEBHOOKS_DELIVER: 'no' })).toEqual([
      'REALTIME_WEBHOOKS_DELIVER="no": expected true or false',
    ])
  })
})
