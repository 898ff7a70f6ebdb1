import { createMiddleware } from 'hono/factory'
import { MAX_BODY_BYTES } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from '../types.ts'
import { isMediaType, readText } from '../../shared/read-body.ts'

/** A parsed form: each parameter once, empty values left out (RFC 6749 §3.1). */
export type FormParams = ReadonlyMap<string, string>

/**
 * Middleware that admits an `application/x-www-form-urlencoded` body (RFC
 * 6749 §4.4.2) within `MAX_BODY_BYTES`, as UTF-8, with no parameter sent
 * twice (RFC 6749 §3.2); the parameters are in `c.get('form')`. Anything
 * else is 415, 413 or 400 `invalid_request`, before any handler work.
 *
 * @example
 * ```ts
 * app.post('/auth/token', formBody, (c) => token(c, c.get('form')))
 * ```
 */
export const formBody = createMiddleware<AppEnv & { Variables: { form: FormParams } }>(
  async function formBody(c, next) {
    if (!isMediaType(c.req.header('content-type'), 'application/x-www-form-urlencoded')) {
      throw new AppError(
        'unsupported_media_type',
        'content-type is not application/x-www-form-urlencoded',
      )
    }
    const text = await readText(c.req.raw, MAX_BODY_BYTES)
    const form = new Map<string, string>()
    const seen = new Set<string>()
    for (const [key, value] of new URLSearchParams(text)) {
      if (seen.has(key)) throw new AppError('invalid_request', 'a parameter is sent more than once')
      seen.add(key)
      if (value !== '') form.set(key, value)
    }
    c.set('form', form)
    await next()
  },
)
