/**
 * A client process that holds many idle Socket.IO connections, as a child
 * of the bench (so the server's figures never include the clients):
 *
 *   node test/bench/holder.ts      (BENCH_MINT_KEY in the environment)
 *
 * Commands over IPC: `connect` opens sockets, each with its own token
 * (distinct sub and sid) and optionally a staggered lifetime; on
 * `rt:expiring` a socket refreshes in-band with `rt:auth` and a fresh token
 * of the same sub and sid. With `fanoutGroup`, the sockets join the server's
 * fan-out room and count its broadcasts (lib/fanout.ts); `fanoutSender` adds
 * the group's sender and `fanout` measures it. `stats`, `closeAll` and
 * `shutdown` do what they say.
 */
import { FANOUT_QUERY, FanoutGroup, type FanoutCommand } from './lib/fanout.ts'
import { minter, type MintKey } from './lib/issuer.ts'
import { connectSio, nextLocalAddress, type SioClient } from './lib/sio-client.ts'

/** Arguments of the `connect` command. */
export interface ConnectCommand {
  url: string
  count: number
  /** Handshakes in flight at once. */
  concurrency: number
  /** Prefix of each socket's sub and sid, unique per holder. */
  prefix: string
  /** Lifetime of the first token of socket i: `firstTtlSeconds + spreadSeconds * i / count`. */
  firstTtlSeconds: number
  spreadSeconds: number
  /** Lifetime of refreshed tokens, seconds. */
  refreshTtlSeconds: number
  /** Make the sockets receivers of this fan-out group. */
  fanoutGroup?: string
}

/** Arguments of the `fanoutSender` command. */
export interface FanoutSenderCommand {
  url: string
  group: string
  prefix: string
}

const mint = minter(JSON.parse(process.env.BENCH_MINT_KEY!) as MintKey)
const clients = new Set<SioClient>()
const groups = new Map<string, FanoutGroup>()
const groupOf = (name: string) => {
  let group = groups.get(name)
  if (!group) groups.set(name, (group = new FanoutGroup()))
  return group
}
const counts = { refreshed: 0, refreshFailed: 0, lost: 0, lastFailure: '' }
let closing = false
let seq = 0

async function connect(c: ConnectCommand) {
  const started = performance.now()
  let next = 0
  const refreshTtl = c.refreshTtlSeconds
  const open = async (i: number) => {
    const identity = { sub: `${c.prefix}-u${i}`, sid: `${c.prefix}-s${i}` }
    // The first token was issued as long before as a refreshed one lives, so every socket
    // gets its expiry notice the same lead before `exp`, staggered only by `exp`.
    const ttlSeconds = Math.round(c.firstTtlSeconds + (c.spreadSeconds * i) / c.count)
    const token = mint({
      ...identity,
      ttlSeconds,
      issuedSecondsAgo: Math.max(0, c.refreshTtlSeconds - ttlSeconds),
    })
    let client: SioClient | undefined
    const group = c.fanoutGroup === undefined ? undefined : groupOf(c.fanoutGroup)
    client = await connectSio(c.url, {
      auth: { token },
      ...(group && { query: FANOUT_QUERY }),
      localAddress: nextLocalAddress(),
      timeoutMs: 60_000,
      onEvent: (self, name, arg) => {
        if (name === 'fan') return group?.receive(self, arg)
        if (name !== 'rt:expiring') return
        const envelope = {
          v: 1,
          id: `r${++seq}`,
          ts: Date.now(),
          data: null,
          token: mint({ ...identity, ttlSeconds: refreshTtl }),
        }
        self.emit('rt:auth', envelope, (reply) => {
          if (reply.startsWith('[{"ok":true')) counts.refreshed++
          else {
            counts.refreshFailed++
            counts.lastFailure = reply.slice(0, 200)
          }
        })
      },
      onClose: () => {
        if (client) group?.lost(client)
        if (client && clients.delete(client) && !closing) counts.lost++
      },
    })
    clients.add(client)
    group?.add(client)
  }
  await Promise.all(
    Array.from({ length: Math.min(c.concurrency, c.count) }, async () => {
      while (next < c.count) await open(next++)
    }),
  )
  return { connected: c.count, ms: performance.now() - started }
}

/** Connect the sender of a fan-out group (not a member of the room). */
async function fanoutSender(c: FanoutSenderCommand) {
  const token = mint({ sub: `${c.prefix}-sender`, sid: `${c.prefix}-sender`, ttlSeconds: 3600 })
  groupOf(c.group).sender = await connectSio(c.url, {
    auth: { token },
    localAddress: nextLocalAddress(),
  })
  return true
}

async function closeAll() {
  closing = true
  for (const group of groups.values()) group.close()
  groups.clear()
  const all = [...clients]
  clients.clear()
  for (const client of all) client.close()
  // Let the close frames go out before the caller measures the server.
  await new Promise((r) => setTimeout(r, 200))
  closing = false
  return all.length
}

const commands: Record<string, (arg: any) => unknown> = {
  connect,
  fanoutSender,
  fanout: (c: FanoutCommand) => groupOf(c.group).run(c),
  closeAll,
  stats: () => ({ open: clients.size, ...counts }),
  async shutdown() {
    await closeAll()
    setImmediate(() => process.exit(0))
    return true
  },
}

process.on('message', async (message: { id: number; cmd: string; arg: unknown }) => {
  try {
    process.send!({ id: message.id, result: await commands[message.cmd]!(message.arg) })
  } catch (err) {
    process.send!({ id: message.id, error: String(err) })
  }
})
process.on('disconnect', () => process.exit(0))
process.send!({ id: 0, result: { pid: process.pid } })
