/**
 * Hostile and borderline values for each access-token claim, for the tests
 * that hold realtime's hand check of the claims (realtime/auth/access-claims.ts)
 * equal to `AccessClaimsSchema`: each is either a value the schema takes at
 * its edge, or one it refuses for a reason the hand check must also see.
 */

const ascii = (n: number, c = 'a') => c.repeat(n)
/** 256 code points, 512 UTF-16 units: the `sub` bound counts code points. */
const astral = (n: number) => '😀'.repeat(n)

/** Values of no claim's type, or of every claim's wrong type. */
export const ANY_VALUES: unknown[] = [
  undefined,
  null,
  true,
  0,
  -0,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '',
  ' ',
  'x',
  [],
  {},
  ['x'],
  [1],
  // A sparse array: the schema reads its hole as undefined.
  [, 'x'],
]

/** A well-formed SHA-256 JWK thumbprint (`cnf.jkt`, docs/protocol.md §15). */
export const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'

/** Per claim, values at and past the schema's edges. */
export const CLAIM_VALUES: Record<string, unknown[]> = {
  iss: ['https://edge.example', ''],
  aud: ['realtime', ['realtime'], ['a', 'b'], ['realtime', 7], [['realtime']], ['realtime', null]],
  sub: [
    'u-1',
    ascii(256),
    ascii(257),
    astral(256),
    astral(257),
    'a\u0000b',
    'a\u001fb',
    'a\u007fb',
    'a\u0085b',
    'a\u009fb',
    'a\u00a0b',
    'a\u2028b',
    'a\nb',
    ' ',
    '\ud800',
    'a\ud800b',
  ],
  sid: ['s', 'session-1', '\u0000'],
  jti: ['j', 'jti-1', ' '],
  name: ['alice', '', 'a\u0000'],
  iat: [0, -1, 1.25, 1e21, Number.MAX_VALUE, Number.NEGATIVE_INFINITY, '1'],
  nbf: [0, 1.25, Number.POSITIVE_INFINITY, '1', null],
  exp: [1, 1.5, Number.POSITIVE_INFINITY, '1', null],
  scope: [
    '',
    'chat:read',
    'chat:read chat:write',
    ' chat:read',
    'chat:read ',
    'chat:read  chat:write',
    'chat:read\tchat:write',
    'a"b',
    'a\\b',
    'a~b!',
    'a\u007fb',
    'é',
    ascii(1024),
    ascii(1025),
    `${ascii(511)} ${ascii(512)}`,
  ],
  rooms: [
    [],
    ['lobby'],
    ['team:a:*'],
    ['*'],
    ['**'],
    ['a*b'],
    ['a*'],
    ['*a'],
    [''],
    ['bad room'],
    ['a/b'],
    [ascii(128)],
    [ascii(129)],
    [`${ascii(127)}*`],
    [`${ascii(128)}*`],
    ['lobby', 7],
    ['lobby', ['x']],
    'lobby',
  ],
  cnf: [
    { jkt: JKT },
    { jkt: JKT, 'x5t#S256': 'x' },
    { jkt: JKT.slice(1) },
    { jkt: `${JKT}A` },
    { jkt: `${JKT.slice(1)}=` },
    { jkt: `${JKT.slice(1)}+` },
    { jkt: 7 },
    {},
    [],
    null,
    JKT,
  ],
}

/** The claims' names, in the schema's order. */
export const CLAIM_NAMES = Object.keys(CLAIM_VALUES)
