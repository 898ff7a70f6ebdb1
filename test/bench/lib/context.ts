/** What every section of the bench is given. */
import type { BenchIssuer } from './issuer.ts'
import type { Figure } from './stats.ts'

export interface BenchContext {
  /** Seconds-long run with tiny counts; figures mean nothing. */
  smoke: boolean
  /** Runs per figure (each figure is their median). */
  runs: number
  issuer: BenchIssuer
  /** Environment every server child needs (issuer, JWKS URL, public key). */
  serverEnv: Record<string, string>
  /** Server variant to start with `--cpu-prof`, if any. */
  cpuProfVariant: string | undefined
  /** Where `--cpu-prof` writes. */
  profileDir: string
  log(line: string): void
}

/** A section's figures by name, and the configuration that produced them. */
export interface SectionResult {
  figures: Record<string, Figure>
  config: Record<string, unknown>
  notes?: string[]
  /** Spans of a profiled server's timeline that the figures cover (see lib/profile.ts). */
  profileWindows?: { fromUs: number; toUs: number }[]
}

/** Variants in the order of run `run`: rotated, so no variant always goes first. */
export function rotate<T>(items: readonly T[], run: number): T[] {
  const k = run % items.length
  return [...items.slice(k), ...items.slice(0, k)]
}

/**
 * Extra node flags for a server `variant`: `--cpu-prof` when it is one of the
 * profiled ones (`BENCH_CPU_PROF=edgegate,plain` profiles both in the same run).
 */
export function serverFlags(ctx: BenchContext, variant: string): string[] {
  const profiled = ctx.cpuProfVariant?.split(',').map((s) => s.trim()) ?? []
  return profiled.includes(variant) ? ['--cpu-prof', `--cpu-prof-dir=${ctx.profileDir}`] : []
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
