import { createHash } from 'node:crypto'
import type { createClient } from 'redis'

/** The node-redis client the cluster shares. */
export type RedisClient = ReturnType<typeof createClient>

/**
 * A Lua script run by its SHA1, loaded on first use and again after Redis
 * lost it (a restart): EVALSHA, and EVAL on `NOSCRIPT`. The script body
 * crosses the wire once per Redis lifetime, not once per call.
 *
 * @param source - the script
 * @returns `(client, args) => reply`
 */
export function luaScript(
  source: string,
): (client: RedisClient, args: (string | number)[]) => Promise<unknown> {
  const sha = createHash('sha1').update(source).digest('hex')
  return async (client, args) => {
    const argv = args.map(String)
    try {
      return await client.sendCommand(['EVALSHA', sha, '0', ...argv])
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return client.sendCommand(['EVAL', source, '0', ...argv])
    }
  }
}
