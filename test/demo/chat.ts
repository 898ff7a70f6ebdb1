/**
 * Two demo users chat in `lobby` from two Node clients, against `npm start`.
 *
 *   npm run demo:chat          (EDGE_PORT and REALTIME_PORT as given to `npm start`)
 */
import { io, type Socket } from 'socket.io-client'
import { createEnvelope } from '../../shared/envelope.ts'
import { localServices } from './running.ts'

const { edgeUrl: EDGE, realtimeUrl: REALTIME } = await localServices('demo:chat')

async function login(username: string, password: string): Promise<string> {
  const res = await fetch(`${EDGE}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  if (!res.ok) throw new Error(`login ${username}: HTTP ${res.status}`)
  return ((await res.json()) as { access_token: string }).access_token
}

let seq = 0
const envelope = (data: unknown) => createEnvelope(`demo-${++seq}`, data)

async function connect(name: string, token: string): Promise<Socket> {
  const socket = io(REALTIME, { auth: { token }, transports: ['websocket'] })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('connect_error', (err) => reject(new Error(`${name}: ${err.message}`)))
  })
  socket.on('chat:message', (m: { from: { name: string }; text: string }) =>
    console.log(`[${name} sees] ${m.from.name}: ${m.text}`),
  )
  const joined = await socket.emitWithAck('rt:join', envelope({ room: 'lobby' }))
  console.log(`${name} joins lobby:`, JSON.stringify(joined))
  return socket
}

const alice = await connect('alice', await login('alice', 'alice-password-1'))
const bob = await connect('bob', await login('bob', 'bob-password-1'))
console.log(
  'alice sends:',
  JSON.stringify(
    await alice.emitWithAck('chat:send', envelope({ room: 'lobby', text: 'hi bob!' })),
  ),
)
console.log(
  'bob sends:',
  JSON.stringify(
    await bob.emitWithAck('chat:send', envelope({ room: 'lobby', text: 'hello alice' })),
  ),
)
await new Promise((r) => setTimeout(r, 300))
alice.close()
bob.close()
