/**
 * A software WebAuthn authenticator for the edge tests: a P-256 (ES256) key
 * made with WebCrypto, authenticator data, client data and a "none"
 * attestation built byte by byte (CBOR by @simplewebauthn's own encoder), so
 * every field a hostile client controls can be bent on purpose.
 */
import { isoBase64URL, isoCBOR } from '@simplewebauthn/server/helpers'

type Cbor = Parameters<typeof isoCBOR.encode>[0]
const b64 = (bytes: Uint8Array) => isoBase64URL.fromBuffer(new Uint8Array(bytes))

async function sha256(data: Uint8Array | string): Promise<Uint8Array> {
  const bytes = new Uint8Array(typeof data === 'string' ? new TextEncoder().encode(data) : data)
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function uint32(n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

/** WebCrypto signs ECDSA as r‖s; WebAuthn carries an ASN.1 DER SEQUENCE of two INTEGERs. */
function derSignature(raw: Uint8Array): Uint8Array {
  const int = (bytes: Uint8Array) => {
    let i = 0
    while (i < bytes.length - 1 && bytes[i] === 0) i += 1
    let v = bytes.slice(i)
    if (v[0]! & 0x80) v = concat(new Uint8Array([0]), v)
    return concat(new Uint8Array([0x02, v.length]), v)
  }
  const half = raw.length / 2
  const body = concat(int(raw.slice(0, half)), int(raw.slice(half)))
  return concat(new Uint8Array([0x30, body.length]), body)
}

/** What a test may bend in one ceremony. */
export interface Bend {
  /** The origin written into clientDataJSON. */
  origin?: string
  /** The RP id whose hash goes into authenticator data. */
  rpId?: string
  /** Sign with this key instead of the credential's. */
  signWith?: CryptoKey
  /** The counter to report instead of the next one. */
  counter?: number
  /** The challenge to sign instead of the one in the options. */
  challenge?: string
}

/** Creation options as the edge sends them (the fields this authenticator reads). */
interface CreationOptions {
  challenge: string
  rp: { id?: string }
  user: { id: string }
}

/** A software authenticator holding one credential at a time. */
export class SoftAuthenticator {
  /** The credential id, base64url. */
  readonly id = b64(crypto.getRandomValues(new Uint8Array(16)))
  counter = 0
  userHandle = ''
  /** The origin a browser would write into client data. */
  readonly origin: string
  /** The COSE algorithm to claim: -7 (ES256) unless testing a refused one. */
  readonly alg: number
  private keys!: CryptoKeyPair

  constructor(origin: string, alg = -7) {
    this.origin = origin
    this.alg = alg
  }

  /** A fresh P-256 key pair, e.g. to sign with a key the edge does not know. */
  static async keyPair(): Promise<CryptoKeyPair> {
    return (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
  }

  /** Answer creation options with a `RegistrationResponseJSON` ("none" attestation). */
  async create(options: CreationOptions, bend: Bend = {}) {
    this.keys = await SoftAuthenticator.keyPair()
    this.userHandle = options.user.id
    const raw = new Uint8Array(
      (await crypto.subtle.exportKey('raw', this.keys.publicKey)) as ArrayBuffer,
    )
    const cose = isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, this.alg],
        [-1, 1],
        [-2, raw.slice(1, 33)],
        [-3, raw.slice(33, 65)],
      ]) as Cbor,
    )
    const credentialId = isoBase64URL.toBuffer(this.id)
    const authData = concat(
      await sha256(bend.rpId ?? options.rp.id ?? ''),
      new Uint8Array([0x45]), // UP | UV | AT
      uint32(bend.counter ?? this.counter),
      new Uint8Array(16), // AAGUID: none
      new Uint8Array([credentialId.length >> 8, credentialId.length & 0xff]),
      credentialId,
      cose,
    )
    const clientDataJSON = JSON.stringify({
      type: 'webauthn.create',
      challenge: bend.challenge ?? options.challenge,
      origin: bend.origin ?? this.origin,
      crossOrigin: false,
    })
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]) as Cbor,
    )
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key' as const,
      response: {
        clientDataJSON: isoBase64URL.fromUTF8String(clientDataJSON),
        attestationObject: b64(attestationObject),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform' as const,
    }
  }

  /** Answer request options with an `AuthenticationResponseJSON`; the counter moves by one. */
  async get(options: { challenge: string; rpId?: string }, bend: Bend = {}) {
    this.counter += 1
    const authData = concat(
      await sha256(bend.rpId ?? options.rpId ?? ''),
      new Uint8Array([0x05]), // UP | UV
      uint32(bend.counter ?? this.counter),
    )
    const clientDataJSON = JSON.stringify({
      type: 'webauthn.get',
      challenge: bend.challenge ?? options.challenge,
      origin: bend.origin ?? this.origin,
      crossOrigin: false,
    })
    const signed = concat(authData, await sha256(clientDataJSON))
    const raw = new Uint8Array(
      await crypto.subtle.sign(
        { name: 'ECDSA', hash: 'SHA-256' },
        bend.signWith ?? this.keys.privateKey,
        signed,
      ),
    )
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key' as const,
      response: {
        clientDataJSON: isoBase64URL.fromUTF8String(clientDataJSON),
        authenticatorData: b64(authData),
        signature: b64(derSignature(raw)),
        userHandle: this.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform' as const,
    }
  }
}
