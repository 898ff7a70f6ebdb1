import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop'

/**
 * Where a client keeps its DPoP key pair (docs/protocol.md §15). The pair
 * is stored as the `CryptoKeyPair` object itself, never exported: the
 * private key is made non-extractable and stays inside WebCrypto.
 */
export interface DpopKeyStore {
  /** The stored pair, if any. */
  load(): Promise<KeyPair | undefined>
  /** Keep `pair` (replacing any other). */
  save(pair: KeyPair): Promise<void>
  /** Forget the pair (after a logout), so the next session gets a new one. */
  clear(): Promise<void>
}

/**
 * A {@link DpopKeyStore} in this object's memory: what Node clients use. A
 * new process is a new key, and so needs a new login.
 *
 * @example
 * ```ts
 * new EdgeAuth({ edgeUrl, dpop: { store: memoryKeyStore() } })
 * ```
 */
export function memoryKeyStore(): DpopKeyStore {
  let held: KeyPair | undefined
  return {
    load: async () => held,
    save: async (pair) => void (held = pair),
    clear: async () => void (held = undefined),
  }
}

/**
 * A {@link DpopKeyStore} in IndexedDB, so a reload keeps the session's key
 * (and with it the session). IndexedDB structured-clones the `CryptoKey`
 * objects: the non-extractable private key is stored without ever being
 * exported, and no script can read its bytes.
 *
 * @param name - the database's name. @default 'edgegate-dpop'
 * @example
 * ```ts
 * new EdgeAuth({ edgeUrl, dpop: { store: indexedDbKeyStore('my-app-dpop') } })
 * ```
 */
export function indexedDbKeyStore(name = 'edgegate-dpop'): DpopKeyStore {
  const STORE = 'keys'
  const KEY = 'current'
  const open = () =>
    new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, 1)
      request.onupgradeneeded = () => request.result.createObjectStore(STORE)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
  const run = async <T>(
    mode: IDBTransactionMode,
    op: (store: IDBObjectStore) => IDBRequest,
  ): Promise<T> => {
    const db = await open()
    try {
      return await new Promise<T>((resolve, reject) => {
        const tx = db.transaction(STORE, mode)
        const request = op(tx.objectStore(STORE))
        tx.oncomplete = () => resolve(request.result as T)
        tx.onerror = () => reject(tx.error)
        tx.onabort = () => reject(tx.error)
      })
    } finally {
      db.close()
    }
  }
  return {
    load: async () => (await run<KeyPair | undefined>('readonly', (s) => s.get(KEY))) ?? undefined,
    save: (pair) => run('readwrite', (s) => s.put(pair, KEY)),
    clear: () => run('readwrite', (s) => s.delete(KEY)),
  }
}

/** Whether this runtime can bind: WebCrypto is there (browsers on https or localhost, Node 20+). */
export function canBind(): boolean {
  return typeof globalThis.crypto?.subtle?.generateKey === 'function'
}

/** The default store: IndexedDB in a browser, memory elsewhere. */
export function defaultKeyStore(): DpopKeyStore {
  return typeof indexedDB === 'undefined' ? memoryKeyStore() : indexedDbKeyStore()
}

/** A client's DPoP key and the proofs it signs. */
export interface DpopSigner {
  /** The RFC 7638 thumbprint of the key (what `cnf.jkt` must be). */
  thumbprint(): Promise<string>
  /** A proof for one request: `htm`, `htu`, the server's nonce, and `ath` of `accessToken`. */
  proof(
    htm: string,
    htu: string,
    options?: { nonce?: string; accessToken?: string },
  ): Promise<string>
  /** Forget the key: the next proof is signed by a new one. */
  reset(): Promise<void>
}

/**
 * A DPoP signer over a key store: the key pair is loaded from `store`, or
 * made (non-extractable P-256, ES256) and saved there on first use. Proofs
 * are panva's `dpop` `generateProof`: a fresh `jti` and `iat` each.
 *
 * @param store - {@link DpopKeyStore}. @default IndexedDB in browsers, else memory
 * @example
 * ```ts
 * const signer = createDpopSigner()
 * const proof = await signer.proof('POST', 'https://auth.example.com/auth/login')
 * ```
 */
export function createDpopSigner(store: DpopKeyStore = defaultKeyStore()): DpopSigner {
  let pair: Promise<KeyPair> | undefined
  const key = () =>
    (pair ??= (async () => {
      const stored = await store.load()
      if (stored) return stored
      const fresh = await generateKeyPair('ES256', { extractable: false })
      await store.save(fresh)
      return fresh
    })().catch((err: unknown) => {
      pair = undefined
      throw err
    }))
  return {
    thumbprint: async () => calculateThumbprint((await key()).publicKey),
    proof: async (htm, htu, options = {}) =>
      generateProof(await key(), htu, htm, options.nonce, options.accessToken),
    async reset() {
      pair = undefined
      await store.clear()
    },
  }
}
