/**
 * docs/verifying.md's Python example (PyJWT's PyJWKClient, with `typ` checked
 * by hand), taken from the page as written and run by Debian's python3 with
 * python3-jwt (test/install-test-deps.sh) against a real local edge.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceTokenResponse } from '../../shared/claims.ts'
import { startSeededEdge, type SeededEdge } from '../support/edge.ts'

const DOC = fileURLToPath(new URL('../../docs/verifying.md', import.meta.url))
const DOC_ISSUER = "ISSUER = 'https://auth.example.com'"

let edge: SeededEdge
let dir: string

/** The page's Python block, verbatim but for the issuer, with a line that runs it on argv[1]. */
async function exampleScript(source: string, issuer: string): Promise<string> {
  const block = /## With PyJWT[\s\S]*?```python\n([\s\S]*?)```/.exec(source)?.[1]
  if (!block?.includes(DOC_ISSUER)) throw new Error('docs/verifying.md: no PyJWT example found')
  return `${block.replace(DOC_ISSUER, `ISSUER = ${JSON.stringify(issuer)}`)}
import json, sys
try:
    print(json.dumps({'ok': True, 'payload': verify(sys.argv[1])}))
except jwt.PyJWTError as err:
    print(json.dumps({'ok': False, 'error': type(err).__name__, 'message': str(err)}))
`
}

async function runPython(script: string, token: string) {
  const file = join(dir, `verify-${Math.random().toString(36).slice(2)}.py`)
  await writeFile(file, script)
  // Debian's python, where python3-jwt is installed (a pyenv python3 on PATH may lack it).
  const { stdout } = await promisify(execFile)('/usr/bin/python3', [file, token], {
    timeout: 60_000,
  })
  return JSON.parse(stdout) as
    { ok: true; payload: Record<string, unknown> } | { ok: false; error: string; message: string }
}

async function roomGrant(sub: string, sid: string): Promise<string> {
  const created = await fetch(`${edge.url}/admin/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${edge.adminToken}` },
    body: JSON.stringify({ name: 'pyjwt-test', scope: 'grants' }),
  })
  const { client_id, client_secret } = (await created.json()) as {
    client_id: string
    client_secret: string
  }
  const token = await fetch(`${edge.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id, client_secret }),
  })
  const { access_token } = (await token.json()) as ServiceTokenResponse
  const res = await fetch(`${edge.url}/auth/room-grants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${access_token}` },
    body: JSON.stringify({ sub, sid, rooms: ['doc:1'] }),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { grant: string }).grant
}

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, string>

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgegate-pyjwt-'))
  edge = await startSeededEdge()
})

afterAll(async () => {
  await edge?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe("docs/verifying.md's PyJWT example", () => {
  it('accepts an access token and returns its claims', async () => {
    const script = await exampleScript(await readFile(DOC, 'utf8'), edge.url)
    const token = (await edge.login('alice', 'alice-password-1')).access_token
    const result = await runPython(script, token)
    expect(result).toMatchObject({
      ok: true,
      payload: { iss: edge.url, aud: 'realtime', name: 'alice', sub: claimsOf(token).sub },
    })
  })

  it('refuses a room grant, signed by the same keys for the same audience, on its typ', async () => {
    const source = await readFile(DOC, 'utf8')
    const script = await exampleScript(source, edge.url)
    const { sub, sid } = claimsOf((await edge.login('alice', 'alice-password-1')).access_token)
    const grant = await roomGrant(sub!, sid!)
    expect(await runPython(script, grant)).toEqual({
      ok: false,
      error: 'InvalidTokenError',
      message: 'typ is not at+jwt',
    })
    // The check by hand is what refuses it: PyJWT's own checks let the grant through.
    const unchecked = script.replace(/\n {4}if jwt\.get_unverified_header[^\n]*\n[^\n]*\n/, '\n')
    expect(unchecked).not.toContain('at+jwt')
    expect(await runPython(unchecked, grant)).toMatchObject({ ok: true })
  })

  it('refuses a token whose payload was tampered with', async () => {
    const script = await exampleScript(await readFile(DOC, 'utf8'), edge.url)
    const token = (await edge.login('carol', 'carol-password-1')).access_token
    const [header, payload, signature] = token.split('.')
    const claims = {
      ...JSON.parse(Buffer.from(payload!, 'base64url').toString()),
      scope: 'chat:read chat:write',
    }
    const forged = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`
    expect(await runPython(script, forged)).toMatchObject({
      ok: false,
      error: 'InvalidSignatureError',
    })
  })
})
