import { createRequire } from 'node:module'
import type * as EngineIo from 'engine.io'

// The engine.io Socket.IO itself loads (CommonJS), not another copy: a seam on its
// prototype reaches every connection Socket.IO makes.
const requireFromSocketIo = createRequire(createRequire(import.meta.url).resolve('socket.io'))

/** engine.io's Socket class, as Socket.IO uses it: the one seam for patches on its prototype. */
export const { Socket: EngineSocketClass } = requireFromSocketIo('engine.io') as typeof EngineIo
