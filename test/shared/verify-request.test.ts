/**
 * createVerifier's resource-server check (RFC 9449 §7; docs/protocol.md §15):
 * requests to a real HTTP server whose handler calls `verifier.verifyRequest`,
 * tokens from a real issuer's keys (JWKS over HTTP), proofs from a client key.
 */
import { generateKeyPair as dpopKeyPair, generateProof } from 'dpop'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isAppError } from '../../shared/errors.ts'
import { createMemoryReplayCache } from '../../shared/dpop/index.ts'
import { createVerifier, type Verifier } from '../../shared/verifier.ts'
import { DpopNonceError } from '../../shared/verify-request.ts'
import { proofKey, signProof, type ProofKey } from '../support/dpop-proofs.ts'
import { startIssuer, type TestIssuer } from '../realtime/support.ts'

let issuer: TestIssuer
let verifier: Verifier
let server: Server
let base: string
let key: ProofKey

/** A service whose one route answers with the verdict of verifyRequest. */
function service(check: () => Verifier): Promise<Server> {
  const s = createServer((req, res) => {
    const url = `http://${req.headers.host}${req.url}`
    check()
      .verifyRequest({ method: req.method ?? 'GET', url, headers: req.headers })
      .then(
        ({ claims, jkt }) => res.end(JSON.stringify({ ok: true, sub: claims.sub, jkt })),
        (err: unknown) => {
          if (!isAppError(err)) throw err
          res.end(
            JSON.stringify({
              ok: false,
              code: err.code,
              ...(err instanceof DpopNonceError && { nonce: err.nonce }),
            }),
          )
        },
      )
  })
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)))
}

let current: () => Verifier = () => verifier

beforeAll(async () => {
  issuer = await startIssuer()
  verifier = createVerifier({ issuer: issuer.url, audience: 'realtime' })
  server = await service(() => current())
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  key = await proofKey()
})

afterAll(async () => {
  verifier?.close()
  await new Promise((resolve) => server?.close(resolve))
})

async function ask(path: string, headers: Record<string, string>, method = 'GET') {
  const res = await fetch(`${base}${path}`, { method, headers })
  return (await res.json()) as {
    ok: boolean
    code?: string
    sub?: string
    jkt?: string
    nonce?: string
  }
}

const bound = (jkt = key.jkt) => issuer.mint({ sub: 'bound-user', cnf: { jkt } })

describe('verifier.verifyRequest', () => {
  it('admits a bound token with Authorization: DPoP and a proof of this request', async () => {
    const token = await bound()
    const proof = await signProof(key, { htm: 'GET', htu: `${base}/things`, accessToken: token })
    expect(await ask('/things?page=2', { authorization: `DPoP ${token}`, dpop: proof })).toEqual({
      ok: true,
      sub: 'bound-user',
      jkt: key.jkt,
    })
  })

  it("admits proofs made by panva's dpop client", async () => {
    const pair = await dpopKeyPair('ES256')
    const { calculateThumbprint } = await import('dpop')
    const token = await bound(await calculateThumbprint(pair.publicKey))
    const proof = await generateProof(pair, `${base}/things`, 'POST', undefined, token)
    const got = await ask('/things', { authorization: `DPoP ${token}`, dpop: proof }, 'POST')
    expect(got.ok).toBe(true)
  })

  it('still admits an unbound token as Bearer', async () => {
    const token = await issuer.mint({ sub: 'plain' })
    expect(await ask('/x', { authorization: `Bearer ${token}` })).toMatchObject({
      ok: true,
      sub: 'plain',
    })
  })

  it.each<[string, () => Promise<Record<string, string>>, string]>([
    [
      'a bound token presented as Bearer (stolen, no key)',
      async () => ({ authorization: `Bearer ${await bound()}` }),
      'dpop_required',
    ],
    [
      'a bound token as DPoP without a proof',
      async () => ({ authorization: `DPoP ${await bound()}` }),
      'dpop_required',
    ],
    [
      'an unbound token presented as DPoP',
      async () => {
        const token = await issuer.mint({ sub: 'plain' })
        return {
          authorization: `DPoP ${token}`,
          dpop: await signProof(key, { htm: 'GET', htu: `${base}/x`, accessToken: token }),
        }
      },
      'dpop_invalid',
    ],
    [
      'a proof by another key (a thief with their own key)',
      async () => {
        const token = await bound()
        const thief = await proofKey()
        return {
          authorization: `DPoP ${token}`,
          dpop: await signProof(thief, { htm: 'GET', htu: `${base}/x`, accessToken: token }),
        }
      },
      'dpop_invalid',
    ],
    [
      'a proof for another token (ath)',
      async () => {
        const token = await bound()
        return {
          authorization: `DPoP ${token}`,
          dpop: await signProof(key, { htm: 'GET', htu: `${base}/x`, accessToken: await bound() }),
        }
      },
      'dpop_invalid',
    ],
    [
      'a proof for another method',
      async () => {
        const token = await bound()
        return {
          authorization: `DPoP ${token}`,
          dpop: await signProof(key, { htm: 'POST', htu: `${base}/x`, accessToken: token }),
        }
      },
      'dpop_invalid',
    ],
    [
      'a proof for another URL',
      async () => {
        const token = await bound()
        return {
          authorization: `DPoP ${token}`,
          dpop: await signProof(key, { htm: 'GET', htu: `${base}/y`, accessToken: token }),
        }
      },
      'dpop_invalid',
    ],
    [
      'a proof too old',
      async () => {
        const token = await bound()
        const iat = Math.floor(Date.now() / 1000) - 120
        return {
          authorization: `DPoP ${token}`,
          dpop: await signProof(key, { htm: 'GET', htu: `${base}/x`, accessToken: token, iat }),
        }
      },
      'dpop_invalid',
    ],
    ['no Authorization', async () => ({}), 'token_missing'],
    ['a forged token', async () => ({ authorization: 'DPoP a.b.c' }), 'token_malformed'],
  ])('refuses %s: %s', async (_, headers, code) => {
    expect(await ask('/x', await headers())).toMatchObject({ ok: false, code })
  })

  it('refuses a replayed proof', async () => {
    const token = await bound()
    const headers = {
      authorization: `DPoP ${token}`,
      dpop: await signProof(key, { htm: 'GET', htu: `${base}/x`, accessToken: token }),
    }
    expect((await ask('/x', headers)).ok).toBe(true)
    expect(await ask('/x', headers)).toMatchObject({ ok: false, code: 'dpop_invalid' })
  })

  it('asks for a nonce when configured, and admits the retry carrying it', async () => {
    current = () => nonced
    const nonced = createVerifier({
      issuer: issuer.url,
      dpop: {
        replayCache: createMemoryReplayCache({ maxEntries: 10 }),
        nonce: { current: () => 'n-1', accept: (n) => n === 'n-1' },
      },
    })
    try {
      const token = await bound()
      const first = await ask('/x', {
        authorization: `DPoP ${token}`,
        dpop: await signProof(key, { htm: 'GET', htu: `${base}/x`, accessToken: token }),
      })
      expect(first).toEqual({ ok: false, code: 'dpop_nonce_required', nonce: 'n-1' })
      const retry = await ask('/x', {
        authorization: `DPoP ${token}`,
        dpop: await signProof(key, {
          htm: 'GET',
          htu: `${base}/x`,
          accessToken: token,
          nonce: first.nonce!,
        }),
      })
      expect(retry.ok).toBe(true)
    } finally {
      current = () => verifier
      nonced.close()
    }
  })
})
