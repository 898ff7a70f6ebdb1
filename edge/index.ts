import { app } from './app.ts'
import { runScheduledMaintenance } from './scheduled.ts'

export { KeyStore } from './keys/store.ts'
export { LoginThrottle } from './auth/throttle.ts'
export { RevocationPusher } from './revocations/push.ts'

export default {
  fetch: app.fetch,
  scheduled(controller, env, ctx) {
    ctx.waitUntil(
      runScheduledMaintenance(env, { now: Math.floor(controller.scheduledTime / 1000) }),
    )
  },
} satisfies ExportedHandler<Env>
