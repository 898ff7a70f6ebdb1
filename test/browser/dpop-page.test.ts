/**
 * A DPoP-bound session in a real browser (docs/protocol.md §15; Debian's
 * chromium via playwright-core) against the real edge (wrangler dev,
 * serving the built page) and a real realtime node: one flow, log in, see
 * the session bound, reload (the key survives in IndexedDB, the session
 * resumes with the same key), chat, and find the private key non-extractable.
 */
import type { Page, Response } from 'playwright-core'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDemoPage, startPageStack, type PageStack } from './page-stack.ts'

let stack: PageStack

beforeAll(async () => {
  // The edge asks for nonces too: the page's SDK answers them by itself.
  stack = await startPageStack({ name: 'browser-dpop', vars: { DPOP_NONCE: 'on' } })
}, 180_000)

afterAll(() => stack?.stop())

/** The access token's `cnf.jkt` from a token response the page received. */
async function boundKey(response: Response): Promise<unknown> {
  const body = (await response.json()) as { access_token: string; token_type: string }
  expect(body.token_type).toBe('DPoP')
  return (decodeJwt(body.access_token).cnf as { jkt?: unknown } | undefined)?.jkt
}

function connected(page: Page) {
  return page.waitForSelector('#status[data-state="connected"]', { timeout: 60_000 })
}

describe('a DPoP-bound session in Chromium', { timeout: 240_000 }, () => {
  it('logs in bound, survives a reload with the same non-extractable key, and chats', async () => {
    const page = await stack.newPage()
    const errors = stack.errorsOf(page)
    // The edge's nonce challenges (400 use_dpop_nonce + DPoP-Nonce), which the SDK answers.
    const challenges: Promise<{ error: unknown; nonce: boolean }>[] = []
    page.on('response', (r) => {
      if (r.status() === 400)
        challenges.push(
          r.json().then((body: { error?: unknown }) => ({
            error: body.error,
            nonce: Boolean(r.headers()['dpop-nonce']),
          })),
        )
    })
    await openDemoPage(page, stack.pageOrigin)
    await page.fill('#username', 'alice')
    await page.fill('#password', 'alice-password-1')
    const login = page.waitForResponse((r) => r.url().endsWith('/auth/login') && r.status() === 200)
    await page.click('#login-button')
    const jkt = await boundKey(await login)
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/)
    await connected(page)
    expect(await page.textContent('#binding')).toBe("Session bound to this browser's key (DPoP)")

    // A reload: the refresh cookie and the key in IndexedDB resume the same bound session.
    const resumed = page.waitForResponse(
      (r) => r.url().endsWith('/auth/refresh') && r.status() === 200,
    )
    await page.reload()
    expect(await boundKey(await resumed)).toBe(jkt)
    await connected(page)
    expect(await page.isHidden('#login')).toBe(true)
    expect(await page.textContent('#binding')).toBe("Session bound to this browser's key (DPoP)")
    await page.waitForSelector('#room-title:text-is("lobby")')
    await page.fill('#message-input', 'bound and reloaded')
    await page.click('#send')
    await page.waitForSelector('#messages li:has-text("bound and reloaded")')

    // The key lives in IndexedDB as a CryptoKeyPair; its private half never leaves WebCrypto.
    const key = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('edgegate-dpop')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      const pair = await new Promise<CryptoKeyPair>((resolve, reject) => {
        const request = db.transaction('keys').objectStore('keys').get('current')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
      db.close()
      let exported: string
      try {
        await crypto.subtle.exportKey('jwk', pair.privateKey)
        exported = 'exported'
      } catch (err) {
        exported = (err as Error).name
      }
      return {
        extractable: pair.privateKey.extractable,
        type: pair.privateKey.type,
        algorithm: pair.privateKey.algorithm as EcKeyAlgorithm,
        exported,
      }
    })
    expect(key).toEqual({
      extractable: false,
      type: 'private',
      algorithm: { name: 'ECDSA', namedCurve: 'P-256' },
      exported: 'InvalidAccessError',
    })
    // The only 400s are the nonce challenges (Chromium logs each as a failed load): login's and the resume's.
    const answered = await Promise.all(challenges)
    expect(answered.length).toBeGreaterThanOrEqual(1)
    for (const challenge of answered)
      expect(challenge).toEqual({ error: 'use_dpop_nonce', nonce: true })
    const challenge = /status of 400 \(Bad Request\)$/
    expect(errors.filter((e) => !challenge.test(e))).toEqual([])
    expect(errors.filter((e) => challenge.test(e))).toHaveLength(answered.length)
  })
})
