/**
 * Three realtime nodes as separate processes, one real edge under
 * `wrangler dev`, one real Redis, real socket.io-client connections:
 * broadcasts cross nodes, and every revocation path (logout, user disable,
 * refresh-token reuse) reaches every node, through a node crash, a Redis
 * restart and an edge that cannot push at all.
 */
import { decodeJwt } from 'jose'
import type { Socket } from 'socket.io-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { TokenResponse } from '../../shared/claims.ts'
import { freePort } from '../../edge/local/edge-process.ts'
import { cleanup as closeSockets, connect, envelope, next, refusal } from '../realtime/support.ts'
import { record, request, untilPasses } from '../realtime/waits.ts'
import { login } from '../support/edge.ts'
import {
  cleanup,
  startCapture,
  startCluster,
  startRedis,
  type CaptureServer,
  type Cluster,
  type TestRedis,
} from './support.ts'

/** Bound on any one revocation reaching every node's sockets (docs/protocol.md §6 asks for 1 s; this only catches a hang). */
const REVOCATION_BOUND_MS = 15_000
/** Bound on the cluster recovering from a Redis restart (reconnect backoff is at most 5 s). */
const RECOVERY_BOUND_MS = 20_000
/** Logouts timed for the latency figures. */
const LOGOUTS = 10

afterEach(closeSockets)

describe('a three-node cluster with one edge and one Redis', () => {
  let redis: TestRedis
  let cluster: Cluster
  beforeAll(async () => {
    redis = await startRedis()
    cluster = await startCluster(3, { redisUrl: redis.url })
  }, 180_000)
  afterAll(cleanup, 60_000)

  it('delivers a chat message sent on node 1 to room members connected to nodes 2 and 3', async () => {
    const [sender, onTwo, onThree] = await Promise.all([
      connect(cluster.nodes[0]!.url, {
        auth: { token: (await login(cluster.edge.url, 'alice')).access_token },
      }),
      connect(cluster.nodes[1]!.url, {
        auth: { token: (await login(cluster.edge.url, 'bob')).access_token },
      }),
      connect(cluster.nodes[2]!.url, {
        auth: { token: (await login(cluster.edge.url, 'carol')).access_token },
      }),
    ])
    for (const socket of [sender!, onTwo!, onThree!]) {
      expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
        ok: true,
        data: { room: 'lobby' },
      })
    }
    const received = [next(onTwo!, 'chat:message'), next(onThree!, 'chat:message')]
    const ack = await request(
      sender!,
      'chat:send',
      envelope({ room: 'lobby', text: 'across the cluster' }),
    )
    expect(ack).toMatchObject({ ok: true, data: { id: expect.any(String) } })
    for (const message of await Promise.all(received)) {
      expect(message).toMatchObject({
        id: ack.data.id,
        room: 'lobby',
        text: 'across the cluster',
        from: { name: 'alice' },
      })
    }
  })

  it('disconnects a logged-out session on all three nodes while another session of the same user stays connected', async () => {
    const keeper = await login(cluster.edge.url, 'alice')
    const kept = await connectEverywhere(cluster, keeper.access_token)
    const latencies: number[] = []
    const sinceRequest: number[] = []
    for (let i = 0; i < LOGOUTS; i++) {
      const { sentAt, answeredAt, outcomes } = await logoutEverywhere(cluster, 'alice')
      for (const outcome of outcomes)
        expect(outcome).toEqual({
          code: 'token_revoked',
          reason: 'io server disconnect',
          at: expect.any(Number),
        })
      const last = Math.max(...outcomes.map((o) => o.at))
      // Negative when the push beats the logout response back to the test.
      latencies.push(last - answeredAt)
      sinceRequest.push(last - sentAt)
    }
    console.log(
      `logout → last of 3 rt:error token_revoked, ${LOGOUTS} logouts: from the response p50 ${percentile(latencies, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(1)} ms (each: ${latencies.map((ms) => ms.toFixed(0)).join(', ')}); ` +
        `from the request p50 ${percentile(sinceRequest, 50).toFixed(1)} ms, p99 ${percentile(sinceRequest, 99).toFixed(1)} ms`,
    )
    for (const socket of kept) {
      expect(socket.connected).toBe(true)
      expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
        ok: true,
        data: { room: 'lobby' },
      })
    }
  })

  it('disconnects every session of a disabled user on every node and refuses their tokens afterwards', async () => {
    const sessions = [
      await login(cluster.edge.url, 'carol'),
      await login(cluster.edge.url, 'carol'),
    ]
    const sockets = (
      await Promise.all(sessions.map((s) => connectEverywhere(cluster, s.access_token)))
    ).flat()
    const revoked = sockets.map((socket) => revocation(socket))
    const res = await fetch(`${cluster.edge.url}/admin/users/carol/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.edge.adminToken}` },
    })
    expect(res.status).toBe(204)
    for (const outcome of await Promise.all(revoked))
      expect(outcome).toMatchObject({ code: 'token_revoked', reason: 'io server disconnect' })
    for (const node of cluster.nodes) {
      expect(await refusal(node.url, { auth: { token: sessions[0]!.access_token } })).toMatchObject(
        { message: 'token_revoked' },
      )
    }
  })

  it('disconnects a session on every node when its spent refresh token is presented again, and refuses its newer access token', async () => {
    const first = await login(cluster.edge.url, 'bob')
    const sockets = await connectEverywhere(cluster, first.access_token)
    const rotated = await fetch(
      `${cluster.edge.url}/auth/refresh`,
      json({ refresh_token: first.refresh_token }),
    )
    expect(rotated.status).toBe(200)
    const second = (await rotated.json()) as TokenResponse
    expect(sockets.every((socket) => socket.connected)).toBe(true)

    const revoked = sockets.map((socket) => revocation(socket))
    const reuse = await fetch(
      `${cluster.edge.url}/auth/refresh`,
      json({ refresh_token: first.refresh_token }),
    )
    expect(reuse.status).toBe(401)
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' })
    for (const outcome of await Promise.all(revoked))
      expect(outcome).toMatchObject({ code: 'token_revoked', reason: 'io server disconnect' })
    for (const node of cluster.nodes) {
      expect(await refusal(node.url, { auth: { token: second.access_token } })).toMatchObject({
        message: 'token_revoked',
      })
    }
  })

  it('refuses a token revoked while a node was killed, once that node is back on the same port', async () => {
    const session = await login(cluster.edge.url, 'alice')
    const sockets = await connectEverywhere(cluster, session.access_token)
    const revoked = sockets.slice(0, 2).map((socket) => revocation(socket))
    const lost = new Promise<string>((resolve) => sockets[2]!.once('disconnect', resolve))
    const [, res] = await Promise.all([
      cluster.nodes[2]!.kill(),
      fetch(`${cluster.edge.url}/auth/logout`, json({ refresh_token: session.refresh_token })),
    ])
    expect(res.status).toBe(204)
    for (const outcome of await Promise.all(revoked))
      expect(outcome).toMatchObject({ code: 'token_revoked' })
    expect(await lost).toBe('transport close')

    await cluster.restart(2)
    const restarted = cluster.nodes[2]!
    expect(await refusal(restarted.url, { auth: { token: session.access_token } })).toEqual({
      message: 'token_revoked',
      data: expect.objectContaining({ code: 'token_revoked', retryable: false }),
    })
    // Not refusing everyone: a fresh session of the same user is let in.
    const fresh = await connect(restarted.url, {
      auth: { token: (await login(cluster.edge.url, 'alice')).access_token },
    })
    expect(fresh.connected).toBe(true)
  })

  it('revokes through a Redis restart, reports Redis in /readyz while it is down, and resumes broadcasts afterwards', async () => {
    const session = await login(cluster.edge.url, 'alice')
    const sockets = await connectEverywhere(cluster, session.access_token)
    const early: string[] = []
    for (const socket of sockets) {
      socket.once('rt:error', ({ code }: { code: string }) => early.push(`rt:error ${code}`))
      socket.once('disconnect', (reason) => early.push(`disconnect ${reason}`))
    }

    await redis.stop()
    for (const node of cluster.nodes) {
      const body = await untilPasses(
        async () => {
          const res = await fetch(`${node.url}/readyz`)
          expect(res.status).toBe(503)
          const body = (await res.json()) as { ready: boolean; reasons: string[] }
          expect(body.reasons.some((reason) => /redis/i.test(reason))).toBe(true)
          return body
        },
        { what: `node ${node.port} /readyz reporting redis`, timeoutMs: RECOVERY_BOUND_MS },
      )
      expect(body.ready).toBe(false)
    }
    // Degraded, not stalled: a node keeps serving its own rooms while Redis is away.
    const [speaker, listener] = [
      await connect(cluster.nodes[0]!.url, {
        auth: { token: (await login(cluster.edge.url, 'alice')).access_token },
      }),
      await connect(cluster.nodes[0]!.url, {
        auth: { token: (await login(cluster.edge.url, 'bob')).access_token },
      }),
    ]
    for (const socket of [speaker, listener]) {
      expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
        ok: true,
        data: { room: 'lobby' },
      })
    }
    const heard = next(listener, 'chat:message')
    expect(
      await request(speaker, 'chat:send', envelope({ room: 'lobby', text: 'redis is down' })),
    ).toMatchObject({ ok: true })
    expect(await heard).toMatchObject({
      room: 'lobby',
      text: 'redis is down',
      from: { name: 'alice' },
    })

    // The session's sockets lived through the outage so far; the revocation bound runs from
    // here, not through the waits and logins above (seconds each on a loaded machine).
    expect(early).toEqual([])
    const revoked = sockets.map((socket) => revocation(socket, RECOVERY_BOUND_MS))
    const res = await fetch(
      `${cluster.edge.url}/auth/logout`,
      json({ refresh_token: session.refresh_token }),
    )
    expect(res.status).toBe(204)
    for (const outcome of await Promise.all(revoked))
      expect(outcome).toMatchObject({ code: 'token_revoked' })

    await redis.restart()
    for (const node of cluster.nodes) {
      await untilPasses(
        async () => {
          const res = await fetch(`${node.url}/readyz`)
          expect(res.status).toBe(200)
          expect(await res.json()).toEqual({ ready: true })
        },
        { what: `node ${node.port} ready again`, timeoutMs: RECOVERY_BOUND_MS },
      )
    }

    const bob = (await login(cluster.edge.url, 'bob')).access_token
    const sender = await connect(cluster.nodes[0]!.url, {
      auth: { token: (await login(cluster.edge.url, 'alice')).access_token },
    })
    const receivers = [
      await connect(cluster.nodes[1]!.url, { auth: { token: bob } }),
      await connect(cluster.nodes[2]!.url, { auth: { token: bob } }),
    ]
    for (const socket of [sender, ...receivers]) {
      expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
        ok: true,
        data: { room: 'lobby' },
      })
    }
    const inboxes = receivers.map((socket) => record<{ text: string }>(socket, 'chat:message'))
    // The streams reader reconnects on its own schedule: keep sending until both nodes have seen one.
    await untilPasses(
      async () => {
        const ack = await request(
          sender,
          'chat:send',
          envelope({ room: 'lobby', text: 'after the restart' }),
        )
        expect(ack).toMatchObject({ ok: true })
        await new Promise((r) => setTimeout(r, 200))
        for (const inbox of inboxes) expect(inbox.length).toBeGreaterThan(0)
      },
      { what: 'a broadcast reaching nodes 2 and 3', timeoutMs: RECOVERY_BOUND_MS },
    )
    for (const inbox of inboxes) expect(inbox[0]).toMatchObject({ text: 'after the restart' })

    for (const node of cluster.nodes) {
      expect(await refusal(node.url, { auth: { token: session.access_token } })).toMatchObject({
        message: 'token_revoked',
      })
    }
  })
})

describe('a three-node cluster the edge cannot push to', () => {
  let cluster: Cluster
  let capture: CaptureServer
  beforeAll(async () => {
    const redis = await startRedis()
    capture = await startCapture()
    // One target nobody listens on, one that records and drops: the nodes get no pushes at all.
    const unused = await freePort()
    cluster = await startCluster(3, {
      redisUrl: redis.url,
      realtimeUrls: `http://127.0.0.1:${unused},${capture.url}`,
    })
  }, 180_000)
  afterAll(cleanup, 60_000)

  it('revokes a logged-out session on every node by pulling the feed alone', async () => {
    const { answeredAt, outcomes } = await logoutEverywhere(cluster, 'alice')
    for (const outcome of outcomes)
      expect(outcome).toMatchObject({ code: 'token_revoked', reason: 'io server disconnect' })
    console.log(
      `pull only (poll 500 ms): logout → last of 3 rt:error ${(Math.max(...outcomes.map((o) => o.at)) - answeredAt).toFixed(1)} ms`,
    )
  })

  it('refuses a captured push from the edge when it is replayed to a node', async () => {
    const session = await login(cluster.edge.url, 'bob')
    const { sid } = decodeJwt(session.access_token)
    const res = await fetch(
      `${cluster.edge.url}/auth/logout`,
      json({ refresh_token: session.refresh_token }),
    )
    expect(res.status).toBe(204)
    const body = await untilPasses(
      async () => {
        const found = capture.bodies.find((text) => {
          const { token } = JSON.parse(text) as { token: string }
          const { events } = decodeJwt(token) as { events: { kind: string; id: string }[] }
          return events.some((event) => event.kind === 'session' && event.id === sid)
        })
        expect(found).toBeDefined()
        return found!
      },
      { what: 'a push carrying the logout', timeoutMs: RECOVERY_BOUND_MS },
    )

    const first = await fetch(`${cluster.nodes[0]!.url}/internal/revocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({ applied: expect.any(Number) })
    const replay = await fetch(`${cluster.nodes[0]!.url}/internal/revocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    expect(replay.status).toBe(401)
    expect(await replay.json()).toEqual({
      error: 'unauthorized',
      error_description: 'push refused',
    })
  })
})

describe('two nodes that only receive pushes, behind a push target that hangs', () => {
  let cluster: Cluster
  let stalled: CaptureServer
  beforeAll(async () => {
    const redis = await startRedis()
    stalled = await startCapture({ hang: true })
    cluster = await startCluster(2, {
      redisUrl: redis.url,
      // The stalled target comes first; an empty feed token turns pull off, so only pushes can revoke.
      realtimeUrls: (nodes) => [stalled.url, ...nodes].join(','),
      env: { REVOCATION_FEED_TOKEN: '' },
    })
  }, 180_000)
  afterAll(cleanup, 60_000)

  it('revokes on every node by push alone, without waiting for a push target that hangs', async () => {
    const { outcomes } = await logoutEverywhere(cluster, 'alice')
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ code: 'token_revoked', reason: 'io server disconnect' })
    }
    // The stalled target's push is still unanswered: the nodes' pushes did not wait for it to time out.
    expect(stalled.abandoned).toBe(0)
  })
})

/** A JSON POST. */
function json(body: unknown): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }
}

/** One socket per node, all with `token`. */
function connectEverywhere(cluster: Cluster, token: string): Promise<Socket[]> {
  return Promise.all(cluster.nodes.map((node) => connect(node.url, { auth: { token } })))
}

/**
 * Log `username` in, connect that session to every node and log it out at the
 * edge (204): when the logout was sent and answered (`performance.now()`), and
 * each socket's {@link revocation}.
 */
async function logoutEverywhere(
  cluster: Cluster,
  username: string,
): Promise<{
  sentAt: number
  answeredAt: number
  outcomes: { code: string; reason: string; at: number }[]
}> {
  const session = await login(cluster.edge.url, username)
  const sockets = await connectEverywhere(cluster, session.access_token)
  const revoked = sockets.map((socket) => revocation(socket))
  const sentAt = performance.now()
  const res = await fetch(
    `${cluster.edge.url}/auth/logout`,
    json({ refresh_token: session.refresh_token }),
  )
  const answeredAt = performance.now()
  expect(res.status).toBe(204)
  return { sentAt, answeredAt, outcomes: await Promise.all(revoked) }
}

/**
 * Resolve once the server has told `socket` why (`rt:error`) and then
 * disconnected it: the code, the disconnect reason, and when the `rt:error`
 * arrived (`performance.now()`). Rejects after `timeoutMs`.
 */
function revocation(
  socket: Socket,
  timeoutMs = REVOCATION_BOUND_MS,
): Promise<{ code: string; reason: string; at: number }> {
  const outcome = new Promise<{ code: string; reason: string; at: number }>((resolve, reject) => {
    let error: { code: string; at: number } | undefined
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `socket not revoked within ${timeoutMs} ms (rt:error ${error ? 'seen' : 'not seen'})`,
          ),
        ),
      timeoutMs,
    )
    socket.once('rt:error', (payload: { code: string }) => {
      error = { code: payload.code, at: performance.now() }
    })
    socket.once('disconnect', (reason) => {
      clearTimeout(timer)
      if (!error) reject(new Error(`disconnected (${reason}) without rt:error first`))
      else resolve({ code: error.code, reason, at: error.at })
    })
  })
  // A test that fails before awaiting it must not also report an unhandled rejection.
  outcome.catch(() => undefined)
  return outcome
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}
