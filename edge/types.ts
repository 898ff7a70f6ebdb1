import type { EdgeConfig } from './config.ts'

/** The Hono environment of the edge app: bindings from `wrangler types`, per-request variables. */
export type AppEnv = {
  Bindings: Env
  Variables: {
    /** Parsed configuration (set by the first middleware). */
    config: EdgeConfig
    /** Request time in milliseconds, read once so every step of a request agrees. */
    now: number
  }
}
