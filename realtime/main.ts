/**
 * The realtime service, as run on a VM: `node realtime/main.ts`.
 * Configuration comes from environment variables (see docs/configuration.md).
 */
import { ConfigErrors, readServiceConfig } from './config.ts'
import { chatEvents } from './events/chat.ts'
import { createLogger } from './log.ts'
import { createRealtimeServer } from './server.ts'

let config
try {
  config = readServiceConfig()
} catch (err) {
  if (!(err instanceof ConfigErrors)) throw err
  for (const problem of err.problems) process.stderr.write(`realtime: ${problem}\n`)
  process.exit(2)
}

const logger = createLogger(config.logLevel)
// The Redis adapter publishes some messages without handling the result; a
// connection lost mid-publish would otherwise crash the node, which must keep
// serving its own sockets while Redis is away. Log it instead.
process.on('unhandledRejection', (reason) => {
  logger('error', 'unhandled rejection', {
    error: reason instanceof Error ? reason.message : String(reason),
  })
})
const server = createRealtimeServer({ ...config.server, events: chatEvents, logger })
try {
  const address = await server.listen(config.port, config.host)
  logger('info', 'realtime listening', {
    url: `http://${address.address}:${address.port}`,
    issuer: config.server.issuer,
    revocationFeed: config.server.revocationFeed
      ? 'pull on'
      : 'pull off (REVOCATION_FEED_TOKEN unset): pushes only',
    cluster: config.server.redisUrl ? 'redis' : 'single node',
  })
  if (config.server.socketioJwtCompat) {
    logger(
      'warn',
      'socketio-jwt compat mode on: sockets without a token are admitted until they authenticate; turn it off once clients send auth.token',
      {
        timeoutMs: config.server.socketioJwtCompat.timeoutMs,
      },
    )
  }
} catch (err) {
  process.stderr.write(
    `realtime: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`,
  )
  process.exit(1)
}

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return
    stopping = true
    logger('info', 'draining', { signal })
    server.close({ timeoutMs: config.shutdownTimeoutMs }).then(
      () => process.exit(0),
      (err) => {
        logger('error', 'shutdown failed', { error: String(err) })
        process.exit(1)
      },
    )
  })
}
