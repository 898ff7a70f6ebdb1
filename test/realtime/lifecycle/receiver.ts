/**
 * Support for lifecycle tests. A webhook receiver on loopback: it records every
 * delivery (headers, body, arrival time, whether the signature verifies)
 * and answers as the test scripts it: a status, or `hang` (never answers).
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Registry } from 'prom-client'
import { createMemoryLog } from '../../../realtime/lifecycle/memory-log.ts'
import {
  createLifecycleMetrics,
  type LifecycleMetrics,
} from '../../../realtime/lifecycle/metrics.ts'
import { createDeliverer, type Deliverer } from '../../../realtime/lifecycle/webhooks/deliverer.ts'
import { endpointId, type WebhookEndpoint } from '../../../realtime/lifecycle/webhooks/endpoints.ts'
import { memorySource } from '../../../realtime/lifecycle/webhooks/memory-source.ts'
import { silentLogger } from '../../../realtime/log.ts'
import { verifyWebhook } from '../../../shared/webhooks/verify.ts'

/** One request as received. */
export interface Delivery {
  id: string
  timestamp: number
  signature: string
  body: string
  event: any
  /** ms, this process's clock. */
  at: number
  /** Whether `verifyWebhook` accepted it with the receiver's secret (tolerance waived for driven clocks). */
  verified: boolean
}

/** A running receiver. */
export interface Receiver {
  url: string
  secret: string
  deliveries: Delivery[]
  /** Requests whose connection the sender closed before an answer. */
  abandoned: number
  /** Change the answer from now on. */
  answer(next: (n: number, delivery: Delivery) => number | 'hang'): void
  close(): Promise<void>
}

/** A fresh `whsec_` secret of 32 random bytes. */
export function newSecret(): string {
  return 'whsec_' + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')
}

/**
 * Start a {@link Receiver} on 127.0.0.1:0.
 *
 * @param answer - status for the n-th request (0-based), or 'hang'. @default 200
 */
export async function startReceiver(
  answer: (n: number, delivery: Delivery) => number | 'hang' = () => 200,
): Promise<Receiver> {
  const secret = newSecret()
  let script = answer
  const receiver: Receiver = {
    url: '',
    secret,
    deliveries: [],
    abandoned: 0,
    answer: (next) => void (script = next),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8')
        const header = (name: string) => String(req.headers[name] ?? '')
        const timestamp = Number(header('webhook-timestamp'))
        const verified = await verifyWebhook(secret, req.headers, body, {
          now: () => timestamp * 1000,
        }).then(
          () => true,
          () => false,
        )
        const delivery: Delivery = {
          ...{ id: header('webhook-id'), timestamp, signature: header('webhook-signature') },
          ...{ body, at: Date.now(), verified },
          event: JSON.parse(body),
        }
        const n = receiver.deliveries.length
        receiver.deliveries.push(delivery)
        const status = script(n, delivery)
        if (status !== 'hang') res.writeHead(status).end()
      })()
    })
    res.on('close', () => {
      if (!res.writableFinished) receiver.abandoned++
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  return receiver
}

/** Lifecycle metrics on a registry of their own, with nothing read at scrape. */
export function testMetrics(): LifecycleMetrics {
  return createLifecycleMetrics(new Registry(), {
    counts: async () => ({}),
    queued: () => new Map(),
    oldest: async () => new Map(),
  })
}

/**
 * A memory log and a deliverer of it to one endpoint (polling every 20 ms):
 * a single node's push path, for receivers under test.
 *
 * @param url - the endpoint
 * @param secret - its `whsec_` secret
 * @param extra - more of the endpoint (`types`)
 */
export function memoryDeliverer(
  url: string,
  secret: string,
  extra: Partial<WebhookEndpoint> = {},
): { log: ReturnType<typeof createMemoryLog>; deliverer: Deliverer; endpoint: WebhookEndpoint } {
  const log = createMemoryLog()
  const endpoint = { id: endpointId(url), url, secret, ...extra }
  const deliverer = createDeliverer({
    endpoints: [endpoint],
    source: (e) => memorySource(log, e, silentLogger),
    metrics: testMetrics(),
    logger: silentLogger,
    pollMs: 20,
  })
  return { log, deliverer, endpoint }
}
