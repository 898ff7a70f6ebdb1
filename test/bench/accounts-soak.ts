/**
 * Accounts soak under Miniflare (`wrangler dev`): USERS sign-ups with an
 * email, each confirmed, then a forgotten password reset through the outbox;
 * then LOGINS logins. Prints the p50 of sign-up and of login (both run one
 * scrypt hash) and the row count of every table before and after the cron's
 * prune, which is what docs/accounts.md quotes.
 *
 *   node test/bench/accounts-soak.ts       (USERS=1000 LOGINS=200 by default)
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEdge } from '../../edge/local/edge-process.ts'
import { outboxToken } from '../support/outbox.ts'

const USERS = Number(process.env.USERS ?? 1000)
const LOGINS = Number(process.env.LOGINS ?? 200)
const CONCURRENCY = 2
const TABLES = [
  'users',
  'sessions',
  'refresh_tokens',
  'revocations',
  'mail_tokens',
  'mail_log',
  'outbox',
  'invites',
]

const stateDir = await mkdtemp(join(tmpdir(), 'edgegate-accounts-soak-'))
const edge = await startEdge({
  port: 0,
  stateDir,
  stdio: 'ignore',
  vars: { SIGNUP: 'open', MAILER: 'outbox' },
})
let ip = 0
/** Each request from its own address: the soak measures the routes, not the per-address limits. */
function post(path: string, body: unknown) {
  ip += 1
  return fetch(`${edge.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'cf-connecting-ip': `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`,
    },
    body: JSON.stringify(body),
  })
}

function mailToken(to: string, kind: 'verify' | 'reset'): Promise<string> {
  return outboxToken(edge, to, kind)
}

function expect(res: Response, status: number, what: string) {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status}`)
}

const signupMs: number[] = []
const loginMs: number[] = []
const run = `s${Date.now().toString(36)}`
async function soakOne(i: number) {
  const username = `${run}-${i}`
  const email = `${username}@example.test`
  const password = `Pw-${crypto.randomUUID()}`
  const t0 = performance.now()
  const res = await post('/auth/signup', { username, password, email })
  signupMs.push(performance.now() - t0)
  expect(res, 201, 'signup')
  await res.body?.cancel()
  expect(
    await post('/auth/email/verify', { token: await mailToken(email, 'verify') }),
    200,
    'verify',
  )
  expect(await post('/auth/password/forgot', { username }), 202, 'forgot')
  const reset = await post('/auth/password/reset', {
    token: await mailToken(email, 'reset'),
    password: `New-${crypto.randomUUID()}`,
  })
  expect(reset, 204, 'reset')
}

async function pool(count: number, task: (i: number) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await task(next++)
    }),
  )
}

function tableSizes(): Record<string, number> {
  // One row with a column per table (D1 limits compound SELECTs).
  const sql = `SELECT ${TABLES.map((t) => `(SELECT COUNT(*) FROM ${t}) AS ${t}`).join(', ')}`
  const out = execFileSync(
    'npx',
    [
      'wrangler',
      'd1',
      'execute',
      'DB',
      '--local',
      '--persist-to',
      stateDir,
      '--json',
      '--command',
      sql,
    ],
    { encoding: 'utf8' },
  )
  const [result] = JSON.parse(out) as [{ results: Record<string, number>[] }]
  return result.results[0] ?? {}
}

const p50 = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!
try {
  const started = performance.now()
  await pool(USERS, soakOne)
  const soakSeconds = (performance.now() - started) / 1000
  const loginUser = `${run}-login`
  const loginPassword = `Pw-${crypto.randomUUID()}`
  expect(
    await post('/auth/signup', { username: loginUser, password: loginPassword }),
    201,
    'signup',
  )
  for (let i = 0; i < LOGINS; i++) {
    const t0 = performance.now()
    const res = await post('/auth/login', { username: loginUser, password: loginPassword })
    loginMs.push(performance.now() - t0)
    expect(res, 200, 'login')
    await res.body?.cancel()
  }
  const before = tableSizes()
  await edge.runCron()
  const after = tableSizes()
  console.log(
    JSON.stringify(
      {
        users: USERS,
        soakSeconds: Math.round(soakSeconds),
        signupP50Ms: Math.round(p50(signupMs)),
        loginP50Ms: Math.round(p50(loginMs)),
        logins: LOGINS,
        tablesAfterSoak: before,
        tablesAfterCron: after,
      },
      null,
      2,
    ),
  )
} finally {
  await edge.stop()
  await rm(stateDir, { recursive: true, force: true })
}
