import { EngineSocketClass as Socket } from './engine-socket.ts'

/** The private parts of engine.io's Socket (6.6) the heartbeat rule reads. */
interface EngineSocketInternals {
  protocol: number
  /** Set while a server PING awaits its PONG (protocol v4); null otherwise. */
  pingTimeoutTimer: unknown
  /** Packets not yet handed to the transport. */
  writeBuffer: { type: string }[]
  onPacket(packet: { type: string; data?: unknown }): void
}

const PATCHED = Symbol.for('edgegate.engine.heartbeat')

/**
 * Whether a PONG answers a PING: one is outstanding, and it has left the
 * write buffer (a client cannot answer a PING it was never sent; a client
 * that stopped reading leaves it there once its transport backs up).
 */
export function answersPing(socket: EngineSocketInternals): boolean {
  if (socket.pingTimeoutTimer === null || socket.pingTimeoutTimer === undefined) return false
  const buffer = socket.writeBuffer
  for (let i = 0; i < buffer.length; i++) if (buffer[i]!.type === 'ping') return false
  return true
}

/**
 * Make Engine.IO v4 heartbeats unforgeable by unsolicited PONGs
 * (docs/protocol.md §5; issue 15 item 1). Engine.IO 6 takes any PONG as a
 * heartbeat: it clears the ping timeout and restarts the ping interval, so a
 * client that stopped reading stays "alive" forever by sending `3` every few
 * seconds, and the ping that would have exposed it is never even sent. After
 * this patch a PONG counts only when {@link answersPing}; any other PONG is
 * ignored (not an error: a PONG racing a closed ping window is harmless).
 *
 * It patches `Socket.prototype.onPacket` of the engine.io Socket.IO loads,
 * once per process (idempotent): engine.io creates its sockets itself, with
 * no factory option, and binds `onPacket` when it attaches each transport, so
 * the prototype is the one seam. Protocol v3 (client-sent pings) is untouched;
 * the realtime server refuses v3 anyway (`allowEIO3: false`).
 */
export function installHeartbeatGuard(): void {
  const proto = Socket.prototype as unknown as EngineSocketInternals & { [PATCHED]?: true }
  if (proto[PATCHED]) return
  const onPacket = proto.onPacket
  proto.onPacket = function guardedOnPacket(this: EngineSocketInternals, packet) {
    if (packet.type === 'pong' && this.protocol !== 3 && !answersPing(this)) return
    onPacket.call(this, packet)
  }
  proto[PATCHED] = true
}
