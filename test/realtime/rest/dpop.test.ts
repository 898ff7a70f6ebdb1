/**
 * DPoP-bound tokens on REST routes (RFC 9449 §7; docs/protocol.md §15): edgegate/express
 * and edgegate/hono on real ports, tokens from a real issuer, proofs from a client key.
 * A refusal is 401 with the DPoP challenge of RFC 9449 §7.1 and the route never runs.
 */
import { serve } from '@hono/node-server'
import express from 'express'
import { Hono } from 'hono'
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { edgegateAuth as expressAuth } from '../../../realtime/rest/express.ts'
import { edgegateAuth as honoAuth, type EdgegateVariables } from '../../../realtime/rest/hono.ts'
import type { RestAuthOptions } from '../../../realtime/rest/rest-auth.ts'
import { proofKey, signProof, type ProofKey } from '../../support/dpop-proofs.ts'
import { cleanup, startIssuer, type TestIssuer } from '../support.ts'

afterEach(cleanup)
const closers: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

let key: ProofKey
beforeAll(async () => {
  key = await proofKey()
})

type App = { url: string; ran: () => number }

async function expressApp(options: RestAuthOptions): Promise<App> {
  const app = express()
  let ran = 0
  const auth = expressAuth(options)
  closers.push(() => auth.close())
  app.use('/api', auth)
  app.get('/api/me', (req, res) => {
    ran++
    res.json({ sub: (req as { auth?: { sub: string } }).auth?.sub })
  })
  const server: HttpServer = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ran: () => ran }
}

async function honoApp(options: RestAuthOptions): Promise<App> {
  const app = new Hono<{ Variables: EdgegateVariables }>()
  let ran = 0
  const auth = honoAuth(options)
  closers.push(() => auth.close())
  app.use('/api/*', auth)
  app.get('/api/me', (c) => {
    ran++
    return c.json({ sub: c.get('edgegate').sub })
  })
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s))
  })
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ran: () => ran }
}

const CHALLENGE = (error: string) =>
  new RegExp(`^DPoP realm="api", error="${error}", error_description="[^"]+", algs="ES256 EdDSA"$`)

describe.each([
  ['edgegate/express', expressApp],
  ['edgegate/hono', honoApp],
])('%s with DPoP-bound tokens', (_, start) => {
  let issuer: TestIssuer
  let app: App
  const boundToken = () => issuer.mint({ sub: 'u-dpop', cnf: { jkt: key.jkt } })
  const proofFor = (token: string, fields: Record<string, unknown> = {}) =>
    signProof(key, { htm: 'GET', htu: `${app.url}/api/me`, accessToken: token, ...fields })

  it('admits Authorization: DPoP with a proof of the request, and the route runs', async () => {
    issuer = await startIssuer()
    app = await start({ issuer: issuer.url })
    const token = await boundToken()
    const res = await fetch(`${app.url}/api/me?x=1`, {
      headers: { authorization: `DPoP ${token}`, dpop: await proofFor(token) },
    })
    expect([res.status, await res.json()]).toEqual([200, { sub: 'u-dpop' }])
    expect(app.ran()).toBe(1)
  })

  it.each<[string, (t: string) => Promise<Record<string, string>>, string, string]>([
    [
      'a stolen bound token sent as Bearer',
      async (t) => ({ authorization: `Bearer ${t}` }),
      'invalid_token',
      'dpop_required',
    ],
    [
      'a bound token without its proof',
      async (t) => ({ authorization: `DPoP ${t}` }),
      'invalid_token',
      'dpop_required',
    ],
    [
      'a proof by a thief’s key',
      async (t) => ({
        authorization: `DPoP ${t}`,
        dpop: await signProof(await proofKey(), {
          htm: 'GET',
          htu: `${app.url}/api/me`,
          accessToken: t,
        }),
      }),
      'invalid_dpop_proof',
      'dpop_invalid',
    ],
    [
      'a proof for another method',
      async (t) => ({ authorization: `DPoP ${t}`, dpop: await proofFor(t, { htm: 'DELETE' }) }),
      'invalid_dpop_proof',
      'dpop_invalid',
    ],
    [
      'a proof with alg none',
      async (t) => ({ authorization: `DPoP ${t}`, dpop: await proofFor(t, { alg: 'none' }) }),
      'invalid_dpop_proof',
      'dpop_invalid',
    ],
  ])(
    'refuses %s: 401, the DPoP challenge, and the route does not run',
    async (_, headers, error, code) => {
      issuer = await startIssuer()
      app = await start({ issuer: issuer.url })
      const token = await boundToken()
      const res = await fetch(`${app.url}/api/me`, { headers: await headers(token) })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toMatch(CHALLENGE(error))
      const body = await res.json()
      expect(body).toMatchObject({ error: code })
      expect(JSON.stringify(body)).not.toContain(token)
      expect(app.ran()).toBe(0)
    },
  )

  it('refuses a replayed proof', async () => {
    issuer = await startIssuer()
    app = await start({ issuer: issuer.url })
    const token = await boundToken()
    const headers = { authorization: `DPoP ${token}`, dpop: await proofFor(token) }
    expect((await fetch(`${app.url}/api/me`, { headers })).status).toBe(200)
    const again = await fetch(`${app.url}/api/me`, { headers })
    expect(again.status).toBe(401)
    expect(again.headers.get('www-authenticate')).toMatch(CHALLENGE('invalid_dpop_proof'))
    expect(app.ran()).toBe(1)
  })

  it('with nonces: 401 use_dpop_nonce and DPoP-Nonce, then the retry with it passes', async () => {
    issuer = await startIssuer()
    app = await start({
      issuer: issuer.url,
      dpopNonce: { current: () => 'nonce-7', accept: (n) => n === 'nonce-7' },
    })
    const token = await boundToken()
    const first = await fetch(`${app.url}/api/me`, {
      headers: { authorization: `DPoP ${token}`, dpop: await proofFor(token) },
    })
    expect(first.status).toBe(401)
    expect(first.headers.get('www-authenticate')).toMatch(CHALLENGE('use_dpop_nonce'))
    expect(first.headers.get('dpop-nonce')).toBe('nonce-7')
    const retry = await fetch(`${app.url}/api/me`, {
      headers: {
        authorization: `DPoP ${token}`,
        dpop: await proofFor(token, { nonce: first.headers.get('dpop-nonce')! }),
      },
    })
    expect(retry.status).toBe(200)
  })

  it('behind a proxy, origin names the public URL the proof is for', async () => {
    issuer = await startIssuer()
    app = await start({ issuer: issuer.url, origin: 'https://api.example.com' })
    const token = await boundToken()
    const proof = await signProof(key, {
      htm: 'GET',
      htu: 'https://api.example.com/api/me',
      accessToken: token,
    })
    const res = await fetch(`${app.url}/api/me`, {
      headers: { authorization: `DPoP ${token}`, dpop: proof },
    })
    expect(res.status).toBe(200)
  })
})

describe('edgegate/express with the realtime server as its verifier', () => {
  it('checks the proof of a bound token the server verified, and refuses it as Bearer', async () => {
    const { createRealtimeServer } = await import('../../../realtime/server.ts')
    const { chatEvents } = await import('../../../realtime/events/chat.ts')
    const { until } = await import('../waits.ts')
    const issuer = await startIssuer()
    const app = express()
    const httpServer: HttpServer = createServer(app)
    const realtime = createRealtimeServer({ issuer: issuer.url, events: chatEvents, httpServer })
    closers.push(() => realtime.close({ timeoutMs: 2000 }))
    const auth = expressAuth({ verifier: realtime })
    closers.push(() => auth.close())
    app.use('/api', auth)
    app.get('/api/me', (req, res) =>
      res.json({ sub: (req as { auth?: { sub: string } }).auth?.sub }),
    )
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
    await until(() => realtime.notReadyReasons().length === 0, { what: 'keys loaded' })
    const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`
    const token = await issuer.mint({ sub: 'u-rt', cnf: { jkt: key.jkt } })
    const proof = await signProof(key, { htm: 'GET', htu: `${url}/api/me`, accessToken: token })
    const ok = await fetch(`${url}/api/me`, {
      headers: { authorization: `DPoP ${token}`, dpop: proof },
    })
    expect([ok.status, await ok.json()]).toEqual([200, { sub: 'u-rt' }])
    const stolen = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    expect(stolen.status).toBe(401)
    expect(stolen.headers.get('www-authenticate')).toMatch(CHALLENGE('invalid_token'))
  })
})
