/**
 * A real local edge with the demo OpenID provider configured as `demo`
 * (and any extra providers a test brings), for the federated-login tests.
 */
import {
  DEMO_IDP_ID,
  startDemoIdp,
  type DemoIdp,
  type DemoIdpAccount,
} from '../../edge/local/demo-idp.ts'
import { freePort } from '../../edge/local/edge-process.ts'
import { startSeededEdge, type SeededEdge } from './edge.ts'

/** The edge and its provider. */
export interface FederationStack {
  edge: SeededEdge
  idp: DemoIdp
  /** The page a flow returns to (in ALLOWED_RETURN_URLS). */
  returnTo: string
  stop(): Promise<void>
}

/** Options of {@link startFederationStack}. */
export interface FederationStackOptions {
  /** Worker variables (SIGNUP, …). */
  vars?: Record<string, string>
  /** Accounts at the demo provider. @default DEMO_IDP_ACCOUNTS */
  accounts?: readonly DemoIdpAccount[]
  /** More FEDERATION entries, given the edge's URL (their redirect URIs need it). */
  extraProviders?: (edgeUrl: string) => Promise<Record<string, unknown>[]>
  /** Overrides of the demo provider's FEDERATION entry (e.g. `allowSignup: false`). */
  demoEntry?: Record<string, unknown>
}

/**
 * Start the demo provider, then a seeded edge that trusts it.
 *
 * @param options - {@link FederationStackOptions}
 */
export async function startFederationStack(
  options: FederationStackOptions = {},
): Promise<FederationStack> {
  const port = await freePort()
  const edgeUrl = `http://127.0.0.1:${port}`
  const idp = await startDemoIdp({
    port: 0,
    redirectUris: [`${edgeUrl}/auth/federated/${DEMO_IDP_ID}/callback`],
    ...(options.accounts && { accounts: options.accounts }),
  })
  const returnTo = `${edgeUrl}/`
  const extra = options.extraProviders ? await options.extraProviders(edgeUrl) : []
  let edge: SeededEdge
  try {
    edge = await startSeededEdge(
      {
        SIGNUP: 'open',
        FEDERATION: JSON.stringify([{ ...idp.federationEntry, ...options.demoEntry }, ...extra]),
        ALLOWED_RETURN_URLS: `${returnTo},${edgeUrl}/other-page`,
        ...options.vars,
      },
      { port },
    )
  } catch (err) {
    await idp.close()
    throw err
  }
  return {
    edge,
    idp,
    returnTo,
    async stop() {
      await edge.stop()
      await idp.close()
    },
  }
}
