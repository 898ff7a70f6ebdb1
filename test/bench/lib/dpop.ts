/**
 * DPoP proofs for the bench's load generator (docs/protocol.md §15), signed
 * synchronously with node:crypto so that, like the tokens, they are made
 * before the clock starts and cost the measured server nothing.
 */
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, type JWK } from 'jose'

/** A client's DPoP key: sign proofs with it, bind tokens to `jkt`. */
export interface BenchDpopKey {
  jkt: string
  /** A handshake proof (`htm` GET) for `htu` and `token`. */
  proof(htu: string, token: string): string
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url')

/** A fresh P-256 key pair, as the SDK holds one. */
export async function benchDpopKey(): Promise<BenchDpopKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' }) as JWK
  const jwk = { kty, crv, x, y }
  const header = b64url(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk }))
  return {
    jkt: await calculateJwkThumbprint(jwk, 'sha256'),
    proof(htu, token) {
      const payload = b64url(
        JSON.stringify({
          htu,
          htm: 'GET',
          jti: randomUUID(),
          iat: Math.floor(Date.now() / 1000),
          ath: createHash('sha256').update(token).digest('base64url'),
        }),
      )
      const input = `${header}.${payload}`
      const signature = sign('sha256', Buffer.from(input), {
        key: privateKey as KeyObject,
        dsaEncoding: 'ieee-p1363',
      })
      return `${input}.${b64url(signature)}`
    },
  }
}
