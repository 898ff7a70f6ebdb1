import type { EdgeConfig } from './config.ts'

/** The Hono environment of the edge app: bindings from `wrangler types`, per-request variables. */
export type AppEnv = {
  Bindings: Env
  Variables: {
    /** Parsed configuration (set by the first middleware). */
    config: EdgeConfig
    /** Request time in milliseconds, read once so every step of a request agrees. */
    now: number
    /**
     * The thumbprint of the key of a valid DPoP proof sent with this request (set by the
     * `dpopProof` middleware on the token-issuing routes); undefined without a proof.
     */
    dpopJkt?: string | undefined
  }
}
