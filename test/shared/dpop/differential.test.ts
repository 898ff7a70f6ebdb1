/**
 * verifyDpopProof held against an independent oracle: oauth4webapi's
 * resource-server validation (`validateJwtAccessToken` on a request with
 * `Authorization: DPoP` and a `DPoP` header), which checks proofs with its own
 * parser and WebCrypto, not jose. Many mutations of a good proof (header
 * fields, claims, signature bytes); both must accept or refuse the same set.
 *
 * Where the two differ on purpose, the difference is named and asserted, not
 * skipped: oauth4webapi allows `iat` 300 s either way, §15 allows 60 s, so
 * mutations stay outside the 60–300 s band except in the one test that shows it;
 * and a proof's own past `exp` (see DIVERGENT).
 */
import * as oauth from 'oauth4webapi'
import { exportJWK, generateKeyPair, SignJWT, base64url, type CryptoKey, type JWK } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { verifyDpopProof } from '../../../shared/dpop/index.ts'
import {
  proofKey,
  sha256,
  signProof,
  type ProofFields,
  type ProofKey,
} from '../../support/dpop-proofs.ts'

const AS: oauth.AuthorizationServer = {
  issuer: 'https://as.test',
  jwks_uri: 'https://as.test/jwks',
}
const AUD = 'https://rs.test'
const URL_ = 'https://rs.test/api/things'
let asKey: { privateKey: CryptoKey; jwk: JWK }
let key: ProofKey
let other: ProofKey
let token: string

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true })
  asKey = {
    privateKey: pair.privateKey,
    jwk: { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' },
  }
  key = await proofKey()
  other = await proofKey()
  token = await accessToken(key.jkt)
})

async function accessToken(jkt: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ client_id: 'c', cnf: { jkt } })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
    .setIssuer(AS.issuer)
    .setAudience(AUD)
    .setSubject('u')
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .setJti(crypto.randomUUID())
    .sign(asKey.privateKey)
}

/** The oracle's verdict on one request carrying `proof`. */
async function oracle(proof: string, method = 'POST', url = URL_): Promise<boolean> {
  const request = new Request(url, {
    method,
    headers: { authorization: `DPoP ${token}`, dpop: proof },
  })
  try {
    await oauth.validateJwtAccessToken(AS, request, AUD, {
      requireDPoP: true,
      signingAlgorithms: ['ES256', 'EdDSA'],
      [oauth.customFetch]: async () =>
        new Response(JSON.stringify({ keys: [asKey.jwk] }), {
          headers: { 'content-type': 'application/json' },
        }),
    })
    return true
  } catch {
    return false
  }
}

/** Ours on the same request. */
async function ours(proof: string, method = 'POST', url = URL_): Promise<boolean> {
  try {
    await verifyDpopProof(proof, { htm: method, htu: url, accessToken: token, jkt: key.jkt })
    return true
  } catch {
    return false
  }
}

const now = () => Math.floor(Date.now() / 1000)
const good = (fields: Partial<ProofFields> = {}) =>
  signProof(key, { htm: 'POST', htu: URL_, accessToken: token, ...fields })

/** Re-encode one part of a compact JWS. */
function withPart(jws: string, index: 0 | 1 | 2, edit: (bytes: Uint8Array) => Uint8Array): string {
  const parts = jws.split('.')
  parts[index] = base64url.encode(edit(base64url.decode(parts[index]!)))
  return parts.join('.')
}

function editJson(jws: string, index: 0 | 1, edit: (o: Record<string, unknown>) => void): string {
  return withPart(jws, index, (bytes) => {
    const o = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>
    edit(o)
    return new TextEncoder().encode(JSON.stringify(o))
  })
}

/** A good proof signed straight with WebCrypto, so header fields jose refuses to sign can be set. */
async function rawSigned(extraHeader: Record<string, unknown>): Promise<string> {
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o))
  const header = enc({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk, ...extraHeader })
  const payload = enc({
    htm: 'POST',
    htu: URL_,
    iat: now(),
    jti: crypto.randomUUID(),
    ath: await sha256(token),
  })
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key.privateKey,
    new TextEncoder().encode(`${header}.${payload}`),
  )
  return `${header}.${payload}.${base64url.encode(new Uint8Array(signature))}`
}

/** Mutations of a good proof: a name and how to make it (a fresh jti each, so none is a replay). */
function mutations(): [string, () => Promise<string>][] {
  const list: [string, () => Promise<string>][] = [
    ['unchanged', () => good()],
    ['signed with WebCrypto directly', () => rawSigned({})],
    [
      'EdDSA key',
      async () =>
        signProof(await proofKey('EdDSA'), { htm: 'POST', htu: URL_, accessToken: token }),
    ],
    ['htm GET', () => good({ htm: 'GET' })],
    ['htm post', () => good({ htm: 'post' })],
    ['htu other path', () => good({ htu: `${URL_}/x` })],
    ['htu trailing slash', () => good({ htu: `${URL_}/` })],
    ['htu other host', () => good({ htu: 'https://evil.test/api/things' })],
    ['htu http', () => good({ htu: 'http://rs.test/api/things' })],
    ['htu with query', () => good({ htu: `${URL_}?q=1` })],
    ['htu with fragment', () => good({ htu: `${URL_}#f` })],
    ['htu upper-case host', () => good({ htu: 'https://RS.TEST/api/things' })],
    ['htu default port', () => good({ htu: 'https://rs.test:443/api/things' })],
    ['htu not a URL', () => good({ htu: '/api/things' })],
    ['htu a number', () => good({ claims: { htu: 5 } })],
    ['iat now - 30', () => good({ iat: now() - 30 })],
    ['iat now + 30', () => good({ iat: now() + 30 })],
    ['iat now - 400', () => good({ iat: now() - 400 })],
    ['iat now + 400', () => good({ iat: now() + 400 })],
    ['iat missing', () => good({ iat: null })],
    ['iat a string', () => good({ claims: { iat: String(now()) } })],
    ['jti missing', () => good({ jti: null })],
    ['jti a number', () => good({ claims: { jti: 42 } })],
    ['ath missing', () => signProof(key, { htm: 'POST', htu: URL_ })],
    ['ath of another token', () => good({ accessToken: `${token}x` })],
    ['ath a number', () => good({ claims: { ath: 1 } })],
    ['exp in the past', () => good({ claims: { exp: now() - 10 } })],
    ['nbf in the future', () => good({ claims: { nbf: now() + 100 } })],
    ['extra claim', () => good({ claims: { extra: 'x' } })],
    ['alg none', () => good({ alg: 'none' })],
    ['alg HS256', () => good({ alg: 'HS256' })],
    [
      'alg ES384 header on an ES256 signature',
      async () => editJson(await good(), 0, (o) => (o.alg = 'ES384')),
    ],
    ['typ JWT', () => good({ typ: 'JWT' })],
    ['typ missing', () => good({ typ: null })],
    ['typ DPOP+JWT', () => good({ typ: 'DPOP+JWT' })],
    ['jwk missing', () => good({ jwk: null })],
    ['jwk private', () => good({ jwk: key.privateJwk })],
    ['jwk of another key', () => good({ jwk: other.publicJwk })],
    [
      'another key signs and names itself',
      () => signProof(other, { htm: 'POST', htu: URL_, accessToken: token }),
    ],
    ['jwk with an extra member', () => good({ jwk: { ...key.publicJwk, use: 'sig' } })],
    ['jwk a string', () => good({ header: { jwk: 'x' } })],
    ['crit header', () => rawSigned({ crit: ['x'], x: 1 })],
    ['kid header', () => good({ header: { kid: 'k' } })],
    [
      'signature byte flipped',
      async () => withPart(await good(), 2, (b) => b.map((x, i) => (i === 5 ? x ^ 1 : x))),
    ],
    ['signature truncated', async () => withPart(await good(), 2, (b) => b.slice(0, 32))],
    ['signature empty', async () => (await good()).replace(/\.[^.]+$/, '.')],
    ['payload edited after signing', async () => editJson(await good(), 1, (o) => (o.htm = 'GET'))],
    [
      'payload edited to the same meaning',
      async () => editJson(await good(), 1, (o) => (o.extra = 1)),
    ],
    ['header edited after signing', async () => editJson(await good(), 0, (o) => (o.kid = 'x'))],
    ['two parts', async () => (await good()).split('.').slice(0, 2).join('.')],
    ['four parts', async () => `${await good()}.x`],
    [
      'payload not JSON',
      async () => withPart(await good(), 1, () => new TextEncoder().encode('nope')),
    ],
    [
      'payload an array',
      async () => withPart(await good(), 1, () => new TextEncoder().encode('[]')),
    ],
  ]
  return list
}

/**
 * Where the two differ by design, each asserted on its own below: a proof carrying an `exp`
 * already past is refused by ours (jose's `jwtVerify` checks any `exp`; RFC 9449 defines
 * none for proofs, and honouring a proof that says it has expired would be odd) and accepted
 * by oauth4webapi, which ignores `exp` in proofs.
 */
const DIVERGENT = new Set<string>(['exp in the past'])

describe('verifyDpopProof against oauth4webapi (differential)', () => {
  it('accepts and refuses the same mutated proofs', async () => {
    const rows: { name: string; ours: boolean; oracle: boolean }[] = []
    for (const [name, make] of mutations()) {
      const proof = await make()
      rows.push({ name, ours: await ours(proof), oracle: await oracle(proof) })
    }
    const disagreements = rows.filter((r) => r.ours !== r.oracle && !DIVERGENT.has(r.name))
    expect(disagreements).toEqual([])
    // The set is not trivial: both accept some and refuse most.
    expect(rows.filter((r) => r.ours).length).toBeGreaterThanOrEqual(5)
    expect(rows.filter((r) => !r.ours).length).toBeGreaterThanOrEqual(30)
  })

  it('the one designed difference: iat 61-300 s away is refused by §15 and accepted by oauth4webapi', async () => {
    for (const offset of [-120, 120]) {
      const proof = await good({ iat: now() + offset })
      expect(await ours(proof)).toBe(false)
      expect(await oracle(proof)).toBe(true)
    }
  })

  it('the designed difference on exp: a proof whose own exp has passed is refused by ours only', async () => {
    const proof = await good({ claims: { exp: now() - 10 } })
    expect(await ours(proof)).toBe(false)
    expect(await oracle(proof)).toBe(true)
  })

  it('the request side: another method or URL is refused by both', async () => {
    const proof = await good()
    expect([await ours(proof, 'PUT'), await oracle(proof, 'PUT')]).toEqual([false, false])
    const elsewhere = 'https://rs.test/api/other'
    expect([await ours(proof, 'POST', elsewhere), await oracle(proof, 'POST', elsewhere)]).toEqual([
      false,
      false,
    ])
    expect([
      await ours(proof, 'POST', `${URL_}?x=1`),
      await oracle(proof, 'POST', `${URL_}?x=1`),
    ]).toEqual([true, true])
  })
})
