import type { Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * Listen on `port` and `host`, resolving with the bound address or
 * rejecting with the listen error (a port in use, say).
 *
 * @param httpServer - the server to start
 * @param port - 0 for any free port
 * @param host - interface to bind
 * @example
 * ```ts
 * const { port } = await listen(httpServer, 0, '127.0.0.1')
 * ```
 */
export async function listen(
  httpServer: HttpServer,
  port: number,
  host: string,
): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject)
    httpServer.listen(port, host, () => {
      httpServer.off('error', reject)
      resolve()
    })
  })
  return httpServer.address() as AddressInfo
}
