/**
 * The local OpenID provider `npm start` runs as "Demo IdP" (docs/federated-login.md):
 * `oidc-provider` on loopback with a few fixed accounts and one confidential client,
 * the edge. Local only: its accounts and client secret are published in the docs.
 */
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import Provider, { type KoaContextWithOIDC } from 'oidc-provider'

/** One account at the demo provider. */
export interface DemoIdpAccount {
  /** What the login form takes, and the upstream `sub`. */
  username: string
  password: string
  email: string
  name: string
}

/** The demo provider's fixed accounts (docs/federated-login.md, README's demo section). */
export const DEMO_IDP_ACCOUNTS: readonly DemoIdpAccount[] = [
  { username: 'dana', password: 'dana-idp-password', email: 'dana@idp.example', name: 'Dana' },
  { username: 'erin', password: 'erin-idp-password', email: 'erin@idp.example', name: 'Erin' },
]

/** The edge's client at the demo provider. */
export const DEMO_IDP_CLIENT = {
  clientId: 'edgegate-demo',
  clientSecret: 'demo-idp-client-secret-for-local-use-only',
} as const

/** The provider id the edge knows the demo provider by. */
export const DEMO_IDP_ID = 'demo'

/** Options of {@link startDemoIdp}. */
export interface DemoIdpOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number
  /** The edge's callback URLs (`<issuer>/auth/federated/demo/callback`). */
  redirectUris: string[]
  /** The accounts. @default DEMO_IDP_ACCOUNTS */
  accounts?: readonly DemoIdpAccount[]
  /** The client. @default DEMO_IDP_CLIENT */
  client?: { clientId: string; clientSecret: string }
}

/** A running demo provider. */
export interface DemoIdp {
  /** Its issuer identifier (`http://127.0.0.1:<port>`). */
  issuer: string
  /** Its entry in the edge's FEDERATION. */
  federationEntry: Record<string, unknown>
  close(): Promise<void>
}

/**
 * Start the demo provider. The login page is a plain form (username,
 * password) checked against the fixed accounts; consent is implied for the
 * one client (a first-party demo), so after the form the browser goes
 * straight back to the edge.
 *
 * @param options - {@link DemoIdpOptions}
 * @example
 * ```ts
 * const idp = await startDemoIdp({ port: 8791, redirectUris: ['http://127.0.0.1:8787/auth/federated/demo/callback'] })
 * ```
 */
export async function startDemoIdp(options: DemoIdpOptions): Promise<DemoIdp> {
  const accounts = options.accounts ?? DEMO_IDP_ACCOUNTS
  const client = options.client ?? DEMO_IDP_CLIENT
  const server = createServer()
  server.listen(options.port, '127.0.0.1')
  await once(server, 'listening')
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: {
      keys: [
        { ...privateKey.export({ format: 'jwk' }), kid: 'demo-idp-1', alg: 'RS256', use: 'sig' },
      ],
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    // The edge reads the username it offers a new account from the ID token.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    // Its own in-memory store (the provider warns about its built-in one): the demo keeps nothing.
    adapter: MemoryAdapter,
    pkce: { required: () => true },
    // Lifetimes in seconds, stated so the provider does not warn about its defaults.
    ttl: {
      AccessToken: 300,
      AuthorizationCode: 60,
      IdToken: 300,
      Interaction: 600,
      Grant: 3600,
      Session: 3600,
    },
    async findAccount(_ctx: KoaContextWithOIDC, id: string) {
      const account = accounts.find((a) => a.username === id)
      if (!account) return undefined
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: account.email,
          email_verified: true,
          name: account.name,
          preferred_username: account.username,
        }),
      }
    },
    // A first-party demo: the edge is granted what it asks for without a consent page.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const session = ctx.oidc.session!
      const clientId = ctx.oidc.client!.clientId
      const existing = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(clientId)
      if (existing) return ctx.oidc.provider.Grant.find(existing)
      const grant = new ctx.oidc.provider.Grant({ clientId, accountId: session.accountId! })
      grant.addOIDCScope('openid email profile')
      session.grantIdFor(clientId, await grant.save())
      return grant
    },
  })
  const callback = provider.callback()
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(
      new URL(req.url ?? '/', issuer).pathname,
    )
    if (!match) return void callback(req, res)
    void interaction(provider, accounts, req, res, match[1]!, match[2] !== undefined).catch(() => {
      if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' })
      res.end('interaction failed; start the login again')
    })
  })
  return {
    issuer,
    federationEntry: {
      id: DEMO_IDP_ID,
      name: 'Demo IdP',
      issuer,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      scopes: ['openid', 'email', 'profile'],
      allowSignup: true,
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** Every model's rows, in this process only: a restart forgets sessions and codes. */
const rows = new Map<string, { payload: Record<string, unknown>; expiresAt: number }>()

/** oidc-provider's storage interface over {@link rows}, each model under its own key prefix. */
class MemoryAdapter {
  private readonly model: string
  constructor(model: string) {
    this.model = model
  }
  private key(id: string) {
    return `${this.model}:${id}`
  }
  async upsert(id: string, payload: Record<string, unknown>, expiresIn: number) {
    for (const [k, row] of rows) if (row.expiresAt <= Date.now()) rows.delete(k)
    rows.set(this.key(id), { payload, expiresAt: Date.now() + expiresIn * 1000 })
  }
  async find(id: string) {
    const row = rows.get(this.key(id))
    return row && row.expiresAt > Date.now() ? row.payload : undefined
  }
  async findByUid(uid: string) {
    for (const [k, row] of rows)
      if (k.startsWith(`${this.model}:`) && row.payload.uid === uid) return row.payload
    return undefined
  }
  async findByUserCode(userCode: string) {
    for (const [k, row] of rows)
      if (k.startsWith(`${this.model}:`) && row.payload.userCode === userCode) return row.payload
    return undefined
  }
  async consume(id: string) {
    const row = rows.get(this.key(id))
    if (row) row.payload.consumed = Math.floor(Date.now() / 1000)
  }
  async destroy(id: string) {
    rows.delete(this.key(id))
  }
  async revokeByGrantId(grantId: string) {
    for (const [k, row] of rows) if (row.payload.grantId === grantId) rows.delete(k)
  }
}

/** The login page (GET) and its form's submission (POST …/login). */
async function interaction(
  provider: Provider,
  accounts: readonly DemoIdpAccount[],
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
  submit: boolean,
): Promise<void> {
  const details = await provider.interactionDetails(req, res)
  if (details.uid !== uid) throw new Error('interaction mismatch')
  if (!submit) return page(res, uid, false)
  const form = new URLSearchParams(await bodyOf(req))
  const account = accounts.find((a) => a.username === form.get('username'))
  const password = Buffer.from(form.get('password') ?? '')
  const ok =
    account !== undefined &&
    password.length === Buffer.byteLength(account.password) &&
    timingSafeEqual(password, Buffer.from(account.password))
  if (!ok) return page(res, uid, true)
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: account.username } },
    {
      mergeWithLastSubmission: false,
    },
  )
}

function page(res: ServerResponse, uid: string, failed: boolean): void {
  res.writeHead(failed ? 401 : 200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
  })
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo IdP: sign in</title></head>
<body><main><h1>Demo IdP</h1><p>A local OpenID provider for the edgegate demo.</p>
${failed ? '<p role="alert">Unknown username or wrong password.</p>' : ''}
<form method="post" action="/interaction/${uid}/login">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></main></body></html>`)
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  let body = ''
  for await (const chunk of req) {
    body += chunk
    if (body.length > 4096) throw new Error('form too large')
  }
  return body
}
