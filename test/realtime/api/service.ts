/**
 * Helpers for server-API tests: service tokens from the loopback test
 * issuer, and a JSON POST to the realtime port.
 */
import type { TestIssuer } from '../support.ts'

/** Mint a service token (docs/protocol.md §8): aud realtime-api, sub = client_id, no sid/name/rooms. */
export function serviceToken(
  issuer: TestIssuer,
  claims: Record<string, unknown> = {},
  options: Parameters<TestIssuer['mint']>[1] = {},
): Promise<string> {
  const clientId = (claims.client_id as string | undefined) ?? 'svc-test'
  return issuer.mint(
    {
      aud: 'realtime-api',
      sub: clientId,
      client_id: clientId,
      scope: 'publish disconnect',
      sid: undefined,
      name: undefined,
      rooms: undefined,
      ...claims,
    },
    options,
  )
}

/** A server-API answer: status, headers and the parsed body. */
export interface ApiReply {
  status: number
  headers: Headers
  body: any
}

/** POST `body` (JSON unless a string) to the realtime port's `path` with a bearer token. */
export async function post(
  url: string,
  path: string,
  body: unknown,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<ApiReply> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token !== undefined && { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // Not JSON: the raw text.
  }
  return { status: res.status, headers: res.headers, body: parsed }
}
