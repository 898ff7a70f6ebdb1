/**
 * A real edge for Node-side tests: `wrangler dev` on a free port with a
 * temporary state directory and the demo users seeded.
 */
import { rm } from 'node:fs/promises'
import { startEdge, type EdgeProcess } from '../../edge/local/edge-process.ts'
import type { TokenResponse } from '../../shared/claims.ts'
import { edgeStateDir } from './edge-state.ts'

/** A seeded local edge. */
export interface SeededEdge {
  /** The running process (replaced by {@link SeededEdge.restart}). */
  process: EdgeProcess
  /** Its base URL (changes on restart: a new free port). */
  readonly url: string
  readonly adminToken: string
  readonly feedToken: string
  /** Log a user in (password defaults to the demo user's) and return the token response. */
  login(username: string, password?: string): Promise<TokenResponse>
  /** Stop the process and start a new one on the same state. */
  restart(): Promise<void>
  /** Stop the process and remove its state. */
  stop(): Promise<void>
}

/**
 * Start a seeded edge.
 *
 * @param vars - worker variables to override (e.g. `ACCESS_TOKEN_TTL`)
 * @param options - `port`: where to listen (a test that must name the edge's URL before it
 *   starts, such as in a provider's redirect URIs); a free port by default
 */
export async function startSeededEdge(
  vars: Record<string, string> = {},
  options: { port?: number } = {},
): Promise<SeededEdge> {
  const stateDir = await edgeStateDir('edgegate-test-edge-')
  const start = () =>
    startEdge({ port: options.port ?? 0, stateDir, migrated: true, stdio: 'ignore', vars })
  const first = await start()
  const seeded: SeededEdge = {
    process: first,
    get url() {
      return seeded.process.url
    },
    get adminToken() {
      return seeded.process.adminToken
    },
    get feedToken() {
      return seeded.process.feedToken
    },
    login: (username, password) => login(seeded.url, username, password),
    async restart() {
      await seeded.process.stop()
      seeded.process = await start()
    },
    async stop() {
      await seeded.process.stop()
      await rm(stateDir, { recursive: true, force: true })
    },
  }
  return seeded
}

/**
 * Log `username` in at the edge at `edgeUrl` (a new session); the password
 * defaults to the demo users' pattern, `<username>-password-1`. Throws unless 200.
 */
export async function login(
  edgeUrl: string,
  username: string,
  password = `${username}-password-1`,
): Promise<TokenResponse> {
  const res = await fetch(`${edgeUrl}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (res.status !== 200) throw new Error(`login ${username}: HTTP ${res.status}`)
  return (await res.json()) as TokenResponse
}
