import { createEdge } from './edge.ts'

// This repository's Worker is the edge and nothing else: the thinnest user of createEdge.
// The classes are re-exported as classes, so `wrangler types` can name them in Env.
export { DpopJtiStore, KeyStore, LoginThrottle, RevocationPusher } from './edge.ts'

export default createEdge().handler satisfies ExportedHandler<Env>
