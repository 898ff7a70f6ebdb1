/**
 * CORS on the realtime port (hardening issue 15 item 8): credentials are
 * allowed cross-site only when a cookie can carry the token, and `*` with a
 * token cookie is refused at construction.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createRealtimeServer } from '../../realtime/server.ts'
import { cleanup, startIssuer, startServer } from './support.ts'

afterEach(cleanup)

/** The CORS headers of an Engine.IO polling handshake sent from `origin`. */
async function corsHeaders(url: string, origin: string): Promise<Record<string, string | null>> {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin } })
  await res.body?.cancel()
  return {
    origin: res.headers.get('access-control-allow-origin'),
    credentials: res.headers.get('access-control-allow-credentials'),
  }
}

describe('CORS credentials', () => {
  it('are not allowed when no cookie token source is configured', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { allowedOrigins: ['http://app.test'] })
    expect(await corsHeaders(url, 'http://app.test')).toEqual({
      origin: 'http://app.test',
      credentials: null,
    })
  })

  it('are not allowed with allowedOrigins "*" and no cookie', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { allowedOrigins: '*' })
    expect((await corsHeaders(url, 'http://evil.test')).credentials).toBeNull()
  })

  it('are allowed, for listed origins only, when a cookie token source is configured', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, {
      allowedOrigins: ['http://app.test'],
      tokenSource: { cookieName: 'at' },
    })
    expect(await corsHeaders(url, 'http://app.test')).toEqual({
      origin: 'http://app.test',
      credentials: 'true',
    })
    expect((await corsHeaders(url, 'http://evil.test')).origin).toBeNull()
  })

  it('refuses allowedOrigins "*" with a token cookie at construction', () => {
    expect(() =>
      createRealtimeServer({
        issuer: 'http://127.0.0.1:1',
        allowedOrigins: '*',
        tokenSource: { cookieName: 'at' },
      }),
    ).toThrow(TypeError)
  })
})
