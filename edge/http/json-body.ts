import { createMiddleware } from 'hono/factory'
import * as v from 'valibot'
import { MAX_BODY_BYTES } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from '../types.ts'
import { describeIssues } from '../../shared/issues.ts'
import { isMediaType, readText } from '../../shared/read-body.ts'

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
  if (!Number.isInteger(maxBytes) || maxBytes <= 0)
    throw new TypeError('jsonBody: maxBytes must be a positive integer')
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
