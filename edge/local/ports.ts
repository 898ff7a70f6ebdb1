/**
 * The ports of the local system, read the same way by `npm start` and the demo scripts
 * (`npm run demo:chat`, `demo:notify`): EDGE_PORT and REALTIME_PORT, and every URL that
 * follows from them (the page's realtime URL, realtime's allowed origin and JWKS, the
 * edge's push targets). Change a port in one variable and everything follows.
 */

/** Where `wrangler dev` serves the edge when EDGE_PORT is unset. */
export const LOCAL_EDGE_PORT = 8787
/** Where the first realtime node listens when REALTIME_PORT is unset. */
export const LOCAL_REALTIME_PORT = 3000

/** Where `npm start`'s demo OpenID provider ("Demo IdP", docs/federated-login.md) listens when DEMO_IDP_PORT is unset. */
export const LOCAL_DEMO_IDP_PORT = 8791

/** The local ports and the URLs they give. */
export interface LocalPorts {
  edgePort: number
  realtimePort: number
  /** The demo OpenID provider's port (DEMO_IDP_PORT). */
  demoIdpPort: number
  /** `http://127.0.0.1:${edgePort}` */
  edgeUrl: string
  /** `http://127.0.0.1:${realtimePort}`: the first (or only) node. */
  realtimeUrl: string
}

/**
 * Read EDGE_PORT, REALTIME_PORT and DEMO_IDP_PORT.
 *
 * @param env - the environment. @default process.env
 * @throws RangeError naming the variable when it is not a port number
 * @example
 * ```ts
 * const { edgeUrl, realtimeUrl } = readLocalPorts() // http://127.0.0.1:8787, http://127.0.0.1:3000
 * ```
 */
export function readLocalPorts(env: NodeJS.ProcessEnv = process.env): LocalPorts {
  const edgePort = readPort(env, 'EDGE_PORT', LOCAL_EDGE_PORT)
  const realtimePort = readPort(env, 'REALTIME_PORT', LOCAL_REALTIME_PORT)
  const demoIdpPort = readPort(env, 'DEMO_IDP_PORT', LOCAL_DEMO_IDP_PORT)
  return {
    edgePort,
    realtimePort,
    demoIdpPort,
    edgeUrl: `http://127.0.0.1:${edgePort}`,
    realtimeUrl: `http://127.0.0.1:${realtimePort}`,
  }
}

function readPort(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const port = Number(raw)
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535)
    throw new RangeError(`${name} must be a port number (1-65535), got ${JSON.stringify(raw)}`)
  return port
}
