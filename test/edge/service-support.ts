import { expect } from 'vitest'
import type { ServiceTokenResponse } from '../../shared/claims.ts'
import { ADMIN_TOKEN, call, freshAddress, postJson, uniqueName } from './support.ts'

/** A service client created through the admin API. */
export interface TestClient {
  client_id: string
  client_secret: string
  name: string
  scope: string
}

/**
 * Create a service client through `POST /admin/clients` and expect 201.
 *
 * @param scope - its scopes @default all four
 */
export async function createClient(
  scope = 'publish disconnect presence:read grants',
): Promise<TestClient> {
  const name = uniqueName('svc')
  const res = await postJson(
    '/admin/clients',
    { name, scope },
    { authorization: `Bearer ${ADMIN_TOKEN}` },
  )
  expect(res.status).toBe(201)
  const body = (await res.json()) as { client_id: string; client_secret: string }
  return { ...body, name, scope }
}

/** `POST /admin/clients/:id/disable` and expect 204. */
export async function disableClient(clientId: string): Promise<void> {
  const res = await call(`/admin/clients/${encodeURIComponent(clientId)}/disable`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  })
  expect(res.status).toBe(204)
}

/** HTTP Basic for a client (RFC 6749 §2.3.1: each part form-urlencoded first). */
export function basic(clientId: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replaceAll('%20', '+')
  const bytes = new TextEncoder().encode(`${enc(clientId)}:${enc(secret)}`)
  return `Basic ${btoa(String.fromCharCode(...bytes))}`
}

/**
 * `POST /auth/token` with a form body, from a fresh address unless one is given.
 *
 * @param form - the form fields
 * @param headers - extra headers (e.g. `authorization`)
 */
export function tokenRequest(form: Record<string, string>, headers: Record<string, string> = {}) {
  return call('/auth/token', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'cf-connecting-ip': freshAddress(),
      ...headers,
    },
    body: new URLSearchParams(form).toString(),
  })
}

/** Get a service token with Basic auth and expect 200. */
export async function serviceToken(
  client: TestClient,
  scope?: string,
): Promise<ServiceTokenResponse> {
  const res = await tokenRequest(
    { grant_type: 'client_credentials', ...(scope !== undefined && { scope }) },
    { authorization: basic(client.client_id, client.client_secret) },
  )
  expect(res.status).toBe(200)
  return (await res.json()) as ServiceTokenResponse
}
