export { verifyDpopProof } from './verify-proof.ts'
export type {
  DpopProofExpectation,
  VerifiedDpopProof,
  VerifyDpopProofOptions,
} from './verify-proof.ts'
export { accessTokenHash } from './access-token-hash.ts'
export { createMemoryReplayCache, DEFAULT_REPLAY_CACHE_MAX_ENTRIES } from './replay-cache.ts'
export type {
  DpopReplayCache,
  MemoryReplayCache,
  MemoryReplayCacheOptions,
} from './replay-cache.ts'
