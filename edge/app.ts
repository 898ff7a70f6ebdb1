import { Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { DISCOVERY_PATH, JWKS_PATH } from '../shared/constants.ts'
import { deleteUser, enableUser, listUsers, patchUser } from './admin/accounts.ts'
import { createUser, disableUser } from './admin/users.ts'
import { createInvite } from './accounts/invites.ts'
import { listMySessions, revokeMySession } from './accounts/my-sessions.ts'
import { changePassword } from './accounts/password-change.ts'
import { forgotPassword, resetPassword } from './accounts/password-reset.ts'
import {
  ChangePasswordBody,
  ForgotBody,
  InviteBody,
  PatchUserBody,
  ResetBody,
  SignupBody,
  TokenBody,
} from './accounts/schemas.ts'
import { signup } from './accounts/signup.ts'
import { verifyEmail } from './accounts/verify-email.ts'
import { requireAccessToken } from './auth/access-bearer.ts'
import { outboxList, outboxOnly, outboxView, outboxViewOnly } from './mail/outbox.ts'
import { CreateClientBody, createClient, disableClient, listClients } from './admin/clients.ts'
import { clientCredentialsToken } from './auth/client-credentials.ts'
import { requireServiceToken } from './auth/service-bearer.ts'
import { RoomGrantBody, roomGrant } from './grants/room-grants.ts'
import { formBody } from './http/form-body.ts'
import { listKeys, rotateKeys } from './admin/keys.ts'
import { login } from './auth/login.ts'
import { logout } from './auth/logout.ts'
import { refresh } from './auth/refresh.ts'
import { CreateUserBody, LoginBody, LogoutBody, RefreshBody, RotateBody } from './auth/schemas.ts'
import { readConfig } from './config.ts'
import { requireSecret } from './http/bearer.ts'
import { errorResponse, handleError } from './http/errors.ts'
import { jsonBody } from './http/json-body.ts'
import { requestLog } from './http/log.ts'
import { discovery } from './keys/discovery.ts'
import { dpopProof } from './dpop/proof.ts'
import { jwks } from './keys/jwks.ts'
import { revocationFeed } from './revocations/feed.ts'
import { pushRevocationsAfter } from './revocations/push.ts'
import { passkeyLogin, loginOptions } from './passkeys/login.ts'
import { deleteMyPasskey, listMyPasskeys, renameMyPasskey } from './passkeys/manage.ts'
import { register, registerOptions } from './passkeys/register.ts'
import {
  LoginOptionsBody,
  PasskeyLoginBody,
  PasskeySignupBody,
  RegisterBody,
  RenameBody,
  SignupOptionsBody,
} from './passkeys/schemas.ts'
import { passkeySignup, signupOptions } from './passkeys/signup.ts'
import type { AppEnv } from './types.ts'

/** The edge's HTTP API (docs/protocol.md §3). */
export const app = new Hono<AppEnv>()

app.use(requestLog)
app.use(
  createMiddleware<AppEnv>(async function context(c, next) {
    c.set('now', Date.now())
    c.set('config', readConfig(c.env))
    await next()
  }),
)

app.get('/healthz', (c) => c.json({ ok: true }))
// Where the demo page (static assets at /) finds the realtime service.
app.get('/demo/config', (c) =>
  c.json({
    realtimeUrl: c.get('config').realtimePublicUrl,
    // Whether the page may link to the local outbox (OUTBOX_VIEW=open, loopback only).
    outboxView: c.get('config').accounts.outboxView,
    // Where the page follows lifecycle events live (npm start's receiver); absent: no panel.
    eventsUrl: c.get('config').demoEventsUrl,
  }),
)
app.get(JWKS_PATH, jwks)
app.get(DISCOVERY_PATH, discovery)

// Every route that issues tokens takes a DPoP proof (docs/protocol.md §15).
const dpop = dpopProof()
app.post('/auth/login', dpop, jsonBody(LoginBody), (c) => login(c, c.get('body')))
// Routes that can record a revocation event kick the pusher once they have answered.
const afterReuse = pushRevocationsAfter((status) => status === 401)
const afterSuccess = pushRevocationsAfter((status) => status < 300)

app.post('/auth/refresh', afterReuse, dpop, jsonBody(RefreshBody, { optional: true }), (c) =>
  refresh(c, c.get('body')),
)
app.post('/auth/logout', afterSuccess, jsonBody(LogoutBody, { optional: true }), (c) =>
  logout(c, c.get('body')),
)
app.get('/auth/revocations', requireSecret('REVOCATION_FEED_TOKEN'), revocationFeed)
// Accounts (docs/protocol.md §13).
app.post('/auth/signup', dpop, jsonBody(SignupBody), (c) => signup(c, c.get('body')))
app.post('/auth/email/verify', dpop, jsonBody(TokenBody), (c) => verifyEmail(c, c.get('body')))
app.post('/auth/password/forgot', jsonBody(ForgotBody), (c) => forgotPassword(c, c.get('body')))
app.post('/auth/password/reset', afterSuccess, jsonBody(ResetBody), (c) =>
  resetPassword(c, c.get('body')),
)
app.post('/auth/password', afterSuccess, requireAccessToken, jsonBody(ChangePasswordBody), (c) =>
  changePassword(c, c.get('body')),
)
app.get('/auth/sessions', requireAccessToken, listMySessions)
app.delete('/auth/sessions/:sid', afterSuccess, requireAccessToken, revokeMySession)
// Passkeys (docs/protocol.md §14).
app.post('/auth/passkeys/register/options', requireAccessToken, registerOptions)
app.post('/auth/passkeys/register', requireAccessToken, jsonBody(RegisterBody), (c) =>
  register(c, c.get('body')),
)
app.post('/auth/passkeys/login/options', jsonBody(LoginOptionsBody, { optional: true }), (c) =>
  loginOptions(c, c.get('body')),
)
app.post('/auth/passkeys/login', dpop, jsonBody(PasskeyLoginBody), (c) =>
  passkeyLogin(c, c.get('body')),
)
app.post('/auth/passkeys/signup/options', jsonBody(SignupOptionsBody), (c) =>
  signupOptions(c, c.get('body')),
)
app.post('/auth/passkeys/signup', dpop, jsonBody(PasskeySignupBody), (c) =>
  passkeySignup(c, c.get('body')),
)
app.get('/auth/passkeys', requireAccessToken, listMyPasskeys)
app.delete('/auth/passkeys/:id', requireAccessToken, deleteMyPasskey)
app.patch('/auth/passkeys/:id', requireAccessToken, jsonBody(RenameBody), (c) =>
  renameMyPasskey(c, c.get('body')),
)
// MAILER=outbox only (local): the JSON list behind the admin token, and the page OUTBOX_VIEW=open serves.
app.get('/dev/outbox', outboxOnly, requireSecret('ADMIN_TOKEN'), outboxList)
app.get('/dev/outbox/view', outboxViewOnly, outboxView)
// Service clients (docs/protocol.md §8, §11).
app.post('/auth/token', formBody, (c) => clientCredentialsToken(c, c.get('form')))
app.post('/auth/room-grants', requireServiceToken('grants'), jsonBody(RoomGrantBody), (c) =>
  roomGrant(c, c.get('body')),
)

app.use('/admin/*', requireSecret('ADMIN_TOKEN'))
app.get('/admin/keys', listKeys)
app.post('/admin/keys/rotate', afterSuccess, jsonBody(RotateBody, { optional: true }), (c) =>
  rotateKeys(c, c.get('body') ?? { emergency: false }),
)
app.post('/admin/users', jsonBody(CreateUserBody), (c) => createUser(c, c.get('body')))
app.post('/admin/users/:username/disable', afterSuccess, disableUser)
app.get('/admin/users', listUsers)
app.patch('/admin/users/:username', jsonBody(PatchUserBody), (c) => patchUser(c, c.get('body')))
app.post('/admin/users/:username/enable', enableUser)
app.delete('/admin/users/:username', afterSuccess, deleteUser)
app.post('/admin/invites', jsonBody(InviteBody, { optional: true }), (c) =>
  createInvite(c, c.get('body')),
)
app.post('/admin/clients', jsonBody(CreateClientBody), (c) => createClient(c, c.get('body')))
app.get('/admin/clients', listClients)
app.post('/admin/clients/:client_id/disable', afterSuccess, disableClient)

app.notFound((c) => errorResponse(c, 'not_found'))
app.onError(handleError)
