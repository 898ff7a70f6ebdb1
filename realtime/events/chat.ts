import { randomUUID } from 'node:crypto'
import { ChatSendSchema, type ChatMessage } from '../../shared/events.ts'
import { defineEvent } from '../messages/registry.ts'

/**
 * The demo chat (docs/protocol.md §5): `chat:send` broadcasts `chat:message` to a
 * joined room. The sender's identity comes from the token, never the data.
 */
export const chatEvents = {
  'chat:send': defineEvent({
    schema: ChatSendSchema,
    scope: 'chat:write',
    room: (data) => data.room,
    handler: ({ data, auth, io }) => {
      const message: ChatMessage = {
        id: randomUUID(),
        room: data.room,
        from: { sub: auth.sub, name: auth.name },
        text: data.text,
        ts: Date.now(),
      }
      io.to(data.room).emit('chat:message', message)
      return { id: message.id }
    },
  }),
}
