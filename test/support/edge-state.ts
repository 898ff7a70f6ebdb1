/**
 * Fresh state directories for the Node-side tests' edges, copied from one migrated (and
 * seeded) template per test run. Migrating and seeding a local D1 is two wrangler runs,
 * about 10 s of CPU, and the suite starts dozens of edges: each now pays a directory copy.
 *
 * The templates live under a directory the run's global setup (`setup` below, named in
 * test/vitest.config.ts) creates and removes. The first test that needs one prepares it
 * and moves it into place with a rename, so two files running at once never see half of one.
 */
import { cp, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { demoUsersSql } from '../../edge/local/demo-users.ts'
import { prepareEdgeState } from '../../edge/local/edge-process.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where this run's prepared edge states are kept (test/support/edge-state.ts). */
    edgeStateTemplates: string
  }
}

/** Global setup: a directory for this run's templates, removed when the run ends. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(join(tmpdir(), 'edgegate-edge-templates-'))
  project.provide('edgeStateTemplates', root)
  return () => rm(root, { recursive: true, force: true })
}

/**
 * A new temporary state directory holding a migrated D1, with the demo users unless
 * `demoUsers: false`. Start its edge with `startEdge({ stateDir, migrated: true })`.
 *
 * @param prefix - the temporary directory's name prefix
 * @example
 * ```ts
 * const stateDir = await edgeStateDir('edgegate-test-edge-')
 * const edge = await startEdge({ port: 0, stateDir, migrated: true, stdio: 'ignore' })
 * ```
 */
export async function edgeStateDir(
  prefix: string,
  options: { demoUsers?: boolean } = {},
): Promise<string> {
  const demoUsers = options.demoUsers !== false
  const stateDir = await mkdtemp(join(tmpdir(), prefix))
  const root = await templatesRoot()
  if (root === undefined) await prepare(stateDir, demoUsers)
  else await cp(await preparedTemplate(root, demoUsers), stateDir, { recursive: true })
  return stateDir
}

/**
 * This run's template directory, from the global setup; none outside vitest (the bench's
 * cluster section starts its edge through test/cluster/support.ts), where importing vitest
 * throws: such a caller's directory is prepared in place.
 */
async function templatesRoot(): Promise<string | undefined> {
  if (!process.env.VITEST) return undefined
  try {
    const { inject } = await import('vitest')
    return inject('edgeStateTemplates')
  } catch {
    // A child process that inherited VITEST but is no test worker.
    return undefined
  }
}

async function preparedTemplate(root: string, demoUsers: boolean): Promise<string> {
  const kind = demoUsers ? 'demo-users' : 'empty'
  const dir = join(root, kind)
  if (await exists(dir)) return dir
  await mkdir(root, { recursive: true })
  const building = await mkdtemp(join(root, `${kind}-building-`))
  await prepare(building, demoUsers)
  // Another file may have finished first: its template is as good, and ours goes.
  await rename(building, dir).catch(() => rm(building, { recursive: true, force: true }))
  return dir
}

async function prepare(stateDir: string, demoUsers: boolean): Promise<void> {
  await prepareEdgeState(stateDir, {
    stdio: 'ignore',
    ...(demoUsers && { seedSql: await demoUsersSql() }),
  })
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
