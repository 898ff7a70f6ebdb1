import { AppError } from '../../shared/errors.ts'
import { PRESENCE_CURSOR_MAX_CHARS } from '../constants.ts'

/**
 * The opaque `next` of a presence page (docs/protocol.md §10): the last
 * `sub` listed, base64url. Clients send it back and never parse it.
 */
export function encodeCursor(sub: string): string {
  return Buffer.from(sub, 'utf8').toString('base64url')
}

/**
 * The `sub` a cursor resumes after.
 *
 * @throws AppError `envelope_invalid` for anything {@link encodeCursor} did not make
 */
export function decodeCursor(cursor: string): string {
  if (
    cursor.length === 0 ||
    cursor.length > PRESENCE_CURSOR_MAX_CHARS ||
    !/^[A-Za-z0-9_-]+$/.test(cursor)
  ) {
    throw new AppError('envelope_invalid', 'presence cursor')
  }
  const sub = Buffer.from(cursor, 'base64url').toString('utf8')
  if (encodeCursor(sub) !== cursor) throw new AppError('envelope_invalid', 'presence cursor')
  return sub
}
