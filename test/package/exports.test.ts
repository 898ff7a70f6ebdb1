/**
 * The public entry points work from source: a fixture package imports edgegate by
 * name, resolved through package.json `exports` from a node_modules link under the
 * `edgegate-source` condition (the .ts files, no build), as the repository's own
 * scripts may. The built package is tested from its tarball in tarball.test.ts.
 */
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const dirs: string[] = []
/** Resolve `edgegate` to its TypeScript sources (package.json `exports`). */
const SOURCE = '--conditions=edgegate-source'

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

/** A copy of test/fixtures/consumer with `node_modules/edgegate` linked to this repository. */
async function consumer(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edgegate-consumer-'))
  dirs.push(dir)
  await cp(join(root, 'test/fixtures/consumer'), dir, { recursive: true })
  await mkdir(join(dir, 'node_modules'))
  await symlink(root, join(dir, 'node_modules/edgegate'), 'dir')
  return dir
}

describe('package exports', () => {
  it('a consumer imports the realtime library, the client SDK and the verifier by package name', async () => {
    const dir = await consumer()
    const { stdout } = await run(process.execPath, [SOURCE, 'main.ts'], { cwd: dir })
    expect(JSON.parse(stdout)).toEqual({
      createVerifier: 'function',
      AppError: 'function',
      EnvelopeSchema: 'object',
      createEnvelope: 'function',
      createPublisher: 'function',
      verifyWebhook: 'function',
      createRealtimeServer: 'function',
      defineEvent: 'function',
      chatEvents: 'object',
      EdgeAuth: 'function',
      RealtimeClient: 'function',
      ClientError: 'function',
    })
  })

  it('a path the package does not export is refused, so internals stay private', async () => {
    const dir = await consumer()
    const attempt = run(
      process.execPath,
      [SOURCE, '--input-type=module', '-e', "await import('edgegate/realtime/server.ts')"],
      { cwd: dir },
    )
    await expect(attempt).rejects.toMatchObject({
      stderr: expect.stringContaining('ERR_PACKAGE_PATH_NOT_EXPORTED'),
    })
  })
})
