import { createMiddleware } from 'hono/factory'
import * as v from 'valibot'
import { MAX_BODY_BYTES } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from '../types.ts'
import { describeIssues } from '../../shared/issues.ts'

/** Options of {@link jsonBody}. */
export interface JsonBodyOptions {
  /** Largest body in bytes. @default MAX_BODY_BYTES (8 KiB) */
  maxBytes?: number
  /** Admit a request with no body and no Content-Type, as `undefined`. @default false */
  optional?: boolean
}

/**
 * Middleware that admits a JSON body only if it is `application/json`, within
 * the size limit (checked while streaming, before anything is parsed or
 * hashed), valid UTF-8, valid JSON, and matches `schema`. The parsed value is
 * in `c.get('body')`, typed from the schema.
 *
 * @param schema - the route's body schema
 * @param options - {@link JsonBodyOptions}
 * @example
 * ```ts
 * app.post('/auth/login', jsonBody(LoginBody), (c) => login(c, c.get('body')))
 * ```
 */
export function jsonBody<S extends v.GenericSchema, O extends boolean = false>(
  schema: S,
  options: JsonBodyOptions & { optional?: O } = {},
) {
  const maxBytes = options.maxBytes ?? MAX_BODY_BYTES
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new TypeError('jsonBody: maxBytes must be a positive integer')
  type Body = O extends true ? v.InferOutput<S> | undefined : v.InferOutput<S>
  return createMiddleware<AppEnv & { Variables: { body: Body } }>(async function jsonBody(c, next) {
    if (options.optional && c.req.header('content-type') === undefined && isEmpty(c.req.raw)) {
      c.set('body', undefined as Body)
      return next()
    }
    if (!isMediaType(c.req.header('content-type'), 'application/json')) {
      throw new AppError('unsupported_media_type', 'content-type is not application/json')
    }
    const text = await readText(c.req.raw, maxBytes)
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new AppError('invalid_request', 'body is not valid JSON')
    }
    const result = v.safeParse(schema, value)
    if (!result.success) throw new AppError('invalid_request', describeIssues(result.issues))
    c.set('body', result.output as Body)
    await next()
  })
}

function isEmpty(req: Request): boolean {
  const length = req.headers.get('content-length')
  return req.body === null || length === '0'
}

/**
 * Whether a Content-Type is `mediaType`, optionally with a UTF-8 charset parameter.
 *
 * @param header - the Content-Type header
 * @param mediaType - the expected type, lower case
 */
export function isMediaType(header: string | undefined, mediaType: string): boolean {
  if (!header) return false
  const [type, ...params] = header.split(';').map((s) => s.trim().toLowerCase())
  if (type !== mediaType) return false
  return params.every((p) => p === '' || p === 'charset=utf-8' || p === 'charset="utf-8"')
}

/**
 * Read the body as UTF-8 text within `maxBytes`.
 *
 * @param req - the request
 * @param maxBytes - the limit
 * @throws AppError `payload_too_large`, or `invalid_request` when it is not UTF-8
 */
export async function readText(req: Request, maxBytes: number): Promise<string> {
  const bytes = await readLimited(req, maxBytes)
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    throw new AppError('invalid_request', 'body is not valid UTF-8')
  }
}

/** Read the body, refusing as soon as it passes `maxBytes` (a declared length is checked first). */
async function readLimited(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.get('content-length')
  if (declared !== null && Number(declared) > maxBytes) {
    throw new AppError('payload_too_large', `body over ${maxBytes} bytes`)
  }
  if (!req.body) return new Uint8Array(0)
  const reader = req.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel()
      throw new AppError('payload_too_large', `body over ${maxBytes} bytes`)
    }
    chunks.push(value)
  }
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
