import { afterEach, describe, expect, it } from 'vitest'
import { originAllowed, ownOrigin } from '../../../realtime/admission/origin-guard.ts'
import { cleanup, startIssuer } from '../support.ts'
import {
  overTransport,
  refusedWith,
  startRecordingServer,
  TRANSPORTS,
} from './handshake-helpers.ts'

afterEach(cleanup)

describe('ownOrigin', () => {
  it.each([
    [{ host: '127.0.0.1:3000' }, false, false, 'http://127.0.0.1:3000'],
    [{ host: 'rt.example.com' }, true, false, 'https://rt.example.com'],
    [{ host: 'RT.Example.com:443' }, true, false, 'https://rt.example.com'],
    [{ host: 'rt.example.com:80' }, false, false, 'http://rt.example.com'],
    [{ host: '[::1]:3000' }, false, false, 'http://[::1]:3000'],
    [
      { host: 'node:3000', 'x-forwarded-host': 'rt.example.com', 'x-forwarded-proto': 'https' },
      false,
      true,
      'https://rt.example.com',
    ],
    [
      {
        host: 'node:3000',
        'x-forwarded-host': 'rt.example.com, evil.test',
        'x-forwarded-proto': 'https,http',
      },
      false,
      true,
      'https://rt.example.com',
    ],
    [{ host: 'node:3000', 'x-forwarded-proto': 'https' }, false, true, 'https://node:3000'],
  ])('headers %j (tls %s, trustProxy %s) give %s', (headers, secure, trustProxy, expected) => {
    expect(ownOrigin({ headers, secure }, trustProxy)).toBe(expected)
  })

  it('ignores X-Forwarded-Host and X-Forwarded-Proto unless the proxy is trusted', () => {
    const headers = {
      host: '127.0.0.1:3000',
      'x-forwarded-host': 'evil.test',
      'x-forwarded-proto': 'https',
    }
    expect(ownOrigin({ headers, secure: false }, false)).toBe('http://127.0.0.1:3000')
  })

  it.each([
    ['no Host', {}],
    ['userinfo in Host', { host: 'evil.test@127.0.0.1:3000' }],
    ['a path in Host', { host: '127.0.0.1:3000/evil' }],
    ['several Hosts', { host: '127.0.0.1:3000, evil.test' }],
    ['an empty Host', { host: '' }],
    ['a non-http forwarded scheme', { host: 'rt.example.com', 'x-forwarded-proto': 'javascript' }],
  ])('gives no own origin for %s', (_name, headers) => {
    expect(ownOrigin({ headers, secure: false }, true)).toBeUndefined()
  })
})

describe('originAllowed', () => {
  const allowed = new Set(['http://app.test'])
  it('admits the own origin and the allow-list, and nothing else', () => {
    expect(originAllowed(allowed, 'http://rt.test', 'http://rt.test')).toBe(true)
    expect(originAllowed(allowed, 'http://app.test', 'http://rt.test')).toBe(true)
    expect(originAllowed(allowed, 'http://evil.test', 'http://rt.test')).toBe(false)
    expect(originAllowed(allowed, 'http://rt.test', undefined)).toBe(false)
  })
})

describe.each(TRANSPORTS)('the server own origin over %s', (transport) => {
  const { open, refuse } = overTransport(transport)

  it('admits a client whose Origin is the URL it connects to, with an allow-list that does not name it', async () => {
    const issuer = await startIssuer()
    const { url, passed } = await startRecordingServer(issuer, {
      allowedOrigins: ['http://app.test'],
    })
    await open(url, { auth: { token: await issuer.mint() }, extraHeaders: { origin: url } })
    expect(passed.map((a) => a.sub)).toEqual(['user-1'])
  })

  it('admits the own origin with the default empty allow-list too', async () => {
    const issuer = await startIssuer()
    const { url, passed } = await startRecordingServer(issuer)
    await open(url, { auth: { token: await issuer.mint() }, extraHeaders: { origin: url } })
    expect(passed).toHaveLength(1)
  })

  it('refuses a look-alike of its own origin with origin_forbidden', async () => {
    const issuer = await startIssuer()
    const { url, passed } = await startRecordingServer(issuer)
    const { port } = new URL(url)
    const refused = await refuse(url, {
      auth: { token: await issuer.mint() },
      extraHeaders: { origin: `http://127.0.0.1:${Number(port) + 1}` },
    })
    expect(refused).toEqual(refusedWith('origin_forbidden'))
    expect(passed).toEqual([])
  })
})

describe('look-alikes of the server own origin', () => {
  const { open, refuse } = overTransport('websocket')

  it.each([
    ['another port', (port: number) => `http://127.0.0.1:${port + 1}`],
    ['another scheme', (port: number) => `https://127.0.0.1:${port}`],
    ['no port', () => 'http://127.0.0.1'],
    ['a suffix on the host', (port: number) => `http://127.0.0.1.evil.test:${port}`],
    ['a suffix after the port', (port: number) => `http://127.0.0.1:${port}.evil.test`],
    ['a prefix on the host', (port: number) => `http://evil.127.0.0.1:${port}`],
    ['userinfo', (port: number) => `http://evil.test@127.0.0.1:${port}`],
    ['a trailing slash', (port: number) => `http://127.0.0.1:${port}/`],
    ['a path', (port: number) => `http://127.0.0.1:${port}/evil`],
    ['another name for the same host', (port: number) => `http://localhost:${port}`],
    ['an upper-case scheme', (port: number) => `HTTP://127.0.0.1:${port}`],
    ['null', () => 'null'],
  ])('refuses %s with origin_forbidden', async (_name, originFor) => {
    const issuer = await startIssuer()
    const { url, passed } = await startRecordingServer(issuer, {
      allowedOrigins: ['http://app.test'],
    })
    const origin = originFor(Number(new URL(url).port))
    const refused = await refuse(url, {
      auth: { token: await issuer.mint() },
      extraHeaders: { origin },
    })
    expect(refused).toEqual(refusedWith('origin_forbidden'))
    expect(passed).toEqual([])
  })

  it('takes no X-Forwarded-Host from a client when the proxy is not trusted', async () => {
    const issuer = await startIssuer()
    const { url, passed } = await startRecordingServer(issuer)
    const refused = await refuse(url, {
      auth: { token: await issuer.mint() },
      extraHeaders: { origin: 'http://evil.test', 'x-forwarded-host': 'evil.test' },
    })
    expect(refused).toEqual(refusedWith('origin_forbidden'))
    expect(passed).toEqual([])
  })

  it('behind a trusted proxy, admits the forwarded origin and refuses the bare node address under https', async () => {
    const issuer = await startIssuer()
    const { url, passed } = await startRecordingServer(issuer, { trustProxy: true })
    const forwarded = { 'x-forwarded-host': 'rt.example.com', 'x-forwarded-proto': 'https' }
    await open(url, {
      auth: { token: await issuer.mint() },
      extraHeaders: { ...forwarded, origin: 'https://rt.example.com' },
    })
    const refused = await refuse(url, {
      auth: { token: await issuer.mint() },
      extraHeaders: { ...forwarded, origin: url },
    })
    expect(refused).toEqual(refusedWith('origin_forbidden'))
    expect(passed).toHaveLength(1)
  })
})
