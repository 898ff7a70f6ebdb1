import { AppError } from './errors.ts'

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

/**
 * Read a request's or a response's body, refusing as soon as it passes
 * `maxBytes` (a declared length is checked first), so an oversized body is
 * never held whole.
 *
 * @param req - the request or response
 * @param maxBytes - the limit
 * @throws AppError `payload_too_large`
 */
export async function readLimited(req: Request | Response, maxBytes: number): Promise<Uint8Array> {
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
