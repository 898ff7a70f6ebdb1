export { createVerifier } from './verifier.ts'
export type { Verifier, VerifierOptions } from './verifier.ts'
export { DpopNonceError, verifyTokenRequest } from './verify-request.ts'
export type {
  DpopNonceSource,
  HttpRequestLike,
  TokenRequestOptions,
  VerifiedTokenRequest,
} from './verify-request.ts'
export { createMemoryReplayCache } from './dpop/index.ts'
export type { DpopReplayCache, MemoryReplayCache } from './dpop/index.ts'
export { verifyAccessToken } from './verify-access-token.ts'
export type { VerifiedAccessToken, VerifyAccessTokenOptions } from './verify-access-token.ts'
export { createKeySet } from './jwks/key-set.ts'
export type { KeySet, KeySetOptions } from './jwks/key-set.ts'
export { AccessClaimsSchema, RevocationEventSchema } from './claims.ts'
export type { AccessClaims, RevocationEvent, TokenResponse, CookieTokenResponse } from './claims.ts'
export { ServiceClaimsSchema, RoomGrantClaimsSchema } from './claims.ts'
export type { ServiceClaims, RoomGrantClaims, ServiceTokenResponse } from './claims.ts'
export { createEnvelope, EnvelopeSchema, parseEnvelope } from './envelope.ts'
export type { Ack, Envelope } from './envelope.ts'
export { AppError, isAppError, EDGE_ERROR_CODES, REALTIME_ERROR_CODES } from './errors.ts'
export type { EdgeErrorCode, ErrorCode, RealtimeErrorCode } from './errors.ts'
export type {
  ChatMessage,
  ConnectErrorData,
  ServerToClientEvents,
  ClientToServerEvents,
} from './events.ts'
export { createPublisher, PublisherError } from './publisher/index.ts'
export type {
  Publisher,
  PublisherOptions,
  PublisherErrorCode,
  PublishTo,
} from './publisher/index.ts'
export { verifyWebhook, WebhookVerificationError } from './webhooks/index.ts'
export type {
  VerifyWebhookOptions,
  WebhookHeaders,
  WebhookVerificationErrorCode,
  LifecycleEvent,
} from './webhooks/index.ts'
export { LIFECYCLE_EVENT_TYPES } from './constants.ts'
export type { LifecycleEventType } from './constants.ts'
