/**
 * 2. Client→server messages per second with acks, small payloads, over 1
 * and 100 clients: edgegate (token optional), edgegate with a token on
 * every envelope, plain Socket.IO, plain Socket.IO with edgegate's write
 * coalescing (the peer the checks' cost is judged against), and
 * jsonwebtoken.verify on every message.
 * Each client keeps a fixed number of messages in flight (a new one on each
 * ack), so the figure is the server's capacity, not one round trip. Within
 * a run the variants take turns in short slices, so a noisy neighbour slows
 * them all alike.
 */
import {
  rotate,
  serverFlags,
  sleep,
  type BenchContext,
  type SectionResult,
} from '../lib/context.ts'
import { forge } from '../lib/issuer.ts'
import { spawnServer } from '../lib/procs.ts'
import { connectSio, nextLocalAddress, type SioClient } from '../lib/sio-client.ts'
import { figure } from '../lib/stats.ts'

const VARIANTS = ['edgegate', 'edgegate-required', 'plain', 'plain-coalescing', 'naive'] as const
/** Variants whose envelopes carry the connection's token. */
const WITH_TOKEN = new Set<string>(['edgegate-required', 'naive'])
const SHAPES = [
  { clients: 1, inFlight: 32 },
  { clients: 100, inFlight: 4 },
]

type Clients = { client: SioClient; token: string }[]

export async function benchMessages(ctx: BenchContext): Promise<SectionResult> {
  const sliceMs = ctx.smoke ? 200 : Number(process.env.MESSAGE_SLICE_MS ?? 500)
  const slices = ctx.smoke ? 2 : 6
  const warmupMs = ctx.smoke ? 200 : 1000
  const servers = new Map<string, Awaited<ReturnType<typeof spawnServer>>>()
  for (const variant of VARIANTS)
    servers.set(variant, await spawnServer(variant, ctx.serverEnv, serverFlags(ctx, variant)))
  const rates: Record<string, number[]> = {}
  const cpuPer: Record<string, number[]> = {}
  let serial = 0
  try {
    for (const shape of SHAPES) {
      const clients = new Map<string, Clients>()
      for (const variant of VARIANTS) {
        const list: Clients = []
        for (let i = 0; i < shape.clients; i++) {
          const n = ++serial
          const token = ctx.issuer.mint({ sub: `msg-u${n}`, sid: `msg-s${n}` })
          list.push({
            client: await connectSio(servers.get(variant)!.url, {
              auth: { token },
              localAddress: nextLocalAddress(),
            }),
            token,
          })
        }
        clients.set(variant, list)
        if (WITH_TOKEN.has(variant)) {
          // On a connection of its own: edgegate drops a socket that sends a forged token.
          const n = ++serial
          const token = ctx.issuer.mint({ sub: `msg-u${n}`, sid: `msg-s${n}` })
          const probe = await connectSio(servers.get(variant)!.url, {
            auth: { token },
            localAddress: nextLocalAddress(),
          })
          await expectRefusal(variant, probe, token)
          probe.close()
        }
        await measure(variant, list, shape.inFlight, warmupMs)
      }
      for (let run = 0; run < ctx.runs; run++) {
        const total = Object.fromEntries(
          VARIANTS.map((v) => [v, { acked: 0, ms: 0, cpuUs: 0, sent: 0 }]),
        )
        for (let slice = 0; slice < slices; slice++) {
          for (const variant of rotate(VARIANTS, run + slice)) {
            const server = servers.get(variant)!.child
            const cpuBefore = await server.call<number>('cpu')
            const { acked, ms, sent } = await measure(
              variant,
              clients.get(variant)!,
              shape.inFlight,
              sliceMs,
            )
            // Server CPU per message, over every message of the slice (the drain included).
            total[variant]!.cpuUs += (await server.call<number>('cpu')) - cpuBefore
            total[variant]!.sent += sent
            total[variant]!.acked += acked
            total[variant]!.ms += ms
          }
        }
        for (const variant of VARIANTS) {
          const { acked, ms, cpuUs, sent } = total[variant]!
          const rate = (acked / ms) * 1000
          ;(rates[`${variant} ×${shape.clients}`] ??= []).push(rate)
          ;(cpuPer[`${variant} ×${shape.clients} cpu`] ??= []).push(cpuUs / sent)
          ctx.log(
            `  run ${run + 1} ${variant}, ${shape.clients} client(s): ${Math.round(rate)} messages/s, ` +
              `server CPU ${(cpuUs / sent).toFixed(1)} µs each`,
          )
        }
      }
      for (const list of clients.values()) for (const { client } of list) client.close()
    }
  } finally {
    for (const { child } of servers.values()) await child.stop()
  }
  return {
    figures: Object.fromEntries(
      [...Object.entries(rates), ...Object.entries(cpuPer)].map(([k, xs]) => [k, figure(xs)]),
    ),
    config: {
      shapes: SHAPES,
      sliceMs,
      slices,
      warmupMs,
      payload: 'envelope { v, id, ts, data: { n } } (+ token where required)',
    },
    notes: [
      'edgegate message rate limit raised for the bench: messageRate { perSecond: 1e9, burst: 1e9 }',
      'messages: acked `bench` events (defineEvent, tiny schema, no scope, handler returns nothing); ' +
        SHAPES.map((s) => `${s.clients} client(s) × ${s.inFlight} in flight`).join(', ') +
        '; the token-carrying variants first shown to refuse a forged token',
    ],
  }
}

/** A variant that checks envelope tokens must refuse one whose signature does not verify. */
async function expectRefusal(variant: string, client: SioClient, token: string) {
  const forged = forge(token)
  const reply = await new Promise<string>((resolve) =>
    client.emit(
      'bench',
      { v: 1, id: 'forged', ts: Date.now(), data: { n: 0 }, token: forged },
      resolve,
    ),
  )
  if (reply.startsWith('[{"ok":true'))
    throw new Error(`${variant}: an envelope with a forged token was accepted`)
}

/** Load `clients` for `ms`, then drain; the acks that arrived within the window, and its length. */
async function measure(variant: string, clients: Clients, inFlight: number, ms: number) {
  const load = startLoad(clients, inFlight, WITH_TOKEN.has(variant))
  const started = performance.now()
  await sleep(ms)
  const acked = load.acked()
  const elapsed = performance.now() - started
  await load.stop()
  if (load.failure()) throw new Error(`${variant}: a message was refused: ${load.failure()}`)
  return { acked, ms: elapsed, sent: load.sent() }
}

/** Keep `inFlight` acked `bench` messages outstanding on every client until stopped. */
function startLoad(clients: Clients, inFlight: number, withToken: boolean) {
  let acked = 0
  let stopping = false
  let failure = ''
  let outstanding = 0
  let drained: (() => void) | undefined
  let seq = 0
  for (const { client, token } of clients) {
    const tokenPart = withToken ? `,"token":"${token}"` : ''
    const send = () => {
      const n = ++seq
      outstanding++
      client.emitJson(
        `["bench",{"v":1,"id":"m${n}","ts":${Date.now()},"data":{"n":${n}}${tokenPart}}]`,
        onAck,
      )
    }
    const onAck = (reply: string) => {
      outstanding--
      if (reply.startsWith('[{"ok":true')) acked++
      else failure ||= reply.slice(0, 200)
      if (!stopping && !failure) send()
      else if (outstanding === 0) drained?.()
    }
    for (let i = 0; i < inFlight; i++) send()
  }
  return {
    acked: () => acked,
    sent: () => seq,
    failure: () => failure,
    stop: () => {
      stopping = true
      if (outstanding === 0) return Promise.resolve()
      return Promise.race([new Promise<void>((resolve) => (drained = resolve)), sleep(5000)])
    },
  }
}
