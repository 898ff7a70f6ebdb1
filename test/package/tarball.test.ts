/**
 * edgegate as a team adopts it: `npm pack` once, `npm install <tarball>` into a copy of
 * test/fixtures/package-consumer, then every kind of consumer against that one install:
 * plain JavaScript on Node 22 and 24 doing real work against a running edge, TypeScript
 * under node16 and bundler resolution, publint and arethetypeswrong, a browser bundle of
 * the client, and a Worker that bundles the verifier and the publisher.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSeededEdge, type SeededEdge } from '../support/edge.ts'
import { node24 } from '../support/node24.ts'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = (name: string) => join(root, 'node_modules/.bin', name)

let work: string
let app: string
let tarball: string
let edge: SeededEdge

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'edgegate-tarball-'))
  app = join(work, 'app')
  const edgeStarted = startSeededEdge()
  edgeStarted.catch(() => {})
  // `npm pack` runs `prepack` (the build), as `npm publish` would.
  await run('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: root })
  const packed = (await readdir(work)).filter((name) => name.endsWith('.tgz'))
  expect(packed).toHaveLength(1)
  tarball = join(work, packed[0]!)
  await cp(join(root, 'test/fixtures/package-consumer'), app, { recursive: true })
  await run('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: app })
  edge = await edgeStarted
}, 300_000)

afterAll(async () => {
  await edge?.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

describe('the packed tarball', () => {
  it('holds the build, the docs and the migrations, and no tests or TypeScript sources', async () => {
    const { stdout } = await run('tar', ['tzf', tarball])
    const files = stdout.trim().split('\n')
    expect(files).toEqual(
      expect.arrayContaining([
        'package/package.json',
        'package/README.md',
        'package/LICENSE',
        'package/CHANGELOG.md',
        'package/dist/shared/index.js',
        'package/dist/shared/index.d.ts',
        'package/dist/realtime/index.js',
        'package/dist/shared/client/index.js',
        'package/dist/realtime/rest/hono.js',
        'package/dist/realtime/rest/express.js',
        'package/dist/edge/edge.js',
        'package/dist/edge/edge.d.ts',
        'package/edge/migrations/0001_init.sql',
      ]),
    )
    expect(files.filter((file) => /(^|\/)test\/|\.test\./.test(file))).toEqual([])
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([])
  })

  it('installs without TypeScript: no dependency pulls it into a consumer', () => {
    expect(existsSync(join(app, 'node_modules/typescript'))).toBe(false)
    expect(existsSync(join(app, 'node_modules/socket.io-client'))).toBe(true)
  })

  it.each([['22'], ['24']])(
    'on Node %s, plain JavaScript logs in at the edge, verifies the token, guards a REST route and chats on realtime attached to its server',
    async (major) => {
      const node = major === '22' ? bin('node') : await node24()
      const { stdout } = await run(node, ['consumer.js'], {
        cwd: app,
        env: { ...process.env, EDGE_URL: edge.url },
        timeout: 60_000,
      })
      const seen = JSON.parse(stdout) as { sub: string }
      expect(seen).toEqual({
        node: major,
        sub: expect.any(String),
        rest: { me: seen.sub, refused: 401, stolen: 401, bound: 'string' },
        from: seen.sub,
        text: 'hello from a tarball',
        hono: 'function',
      })
    },
    180_000,
  )

  it.each([['node16'], ['bundler']])(
    'a TypeScript consumer type-checks under moduleResolution %s',
    async (resolution) => {
      await linkNodeTypes()
      const tsc = join(root, 'node_modules/typescript/bin/tsc')
      const result = await run(bin('node'), [tsc, '-p', `tsconfig.${resolution}.json`], {
        cwd: app,
      }).catch((err: { stdout: string }) => ({ stdout: err.stdout, failed: true }))
      expect(result.stdout).toBe('')
    },
  )

  it('publint and arethetypeswrong find no problem', async () => {
    await run(bin('publint'), ['run', tarball, '--strict'], { cwd: work })
    // ESM only, by design: CommonJS and node10 resolution are out of scope.
    await run(bin('attw'), [tarball, '--profile', 'esm-only'], { cwd: work })
  })

  it('the client bundles for browsers, with and without socket.io-client', async () => {
    const sizes = {
      withSocketIo: await browserBundle([]),
      withoutSocketIo: await browserBundle(['socket.io-client']),
    }
    expect(sizes.withSocketIo.gzipBytes).toBeGreaterThan(sizes.withoutSocketIo.gzipBytes)
    await mkdir(join(root, 'test/.artifacts'), { recursive: true })
    await writeFile(
      join(root, 'test/.artifacts/client-bundle-sizes.json'),
      JSON.stringify(sizes, null, 2),
    )
    console.info('client bundle, minified and gzipped:', sizes)
  })

  it("a Worker bundles edgegate's verifier and publisher (wrangler deploy --dry-run)", async () => {
    const outdir = join(work, 'worker-out')
    await run(bin('wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
      cwd: app,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
    })
    const bundle = await readFile(join(outdir, 'worker.js'), 'utf8')
    expect(bundle).toContain('/api/v1/publish')
    expect(bundle).not.toMatch(/from ["']node:/)
  })
  it("a Worker mounts createEdge beside its own routes; wrangler applies the package's migrations", async () => {
    const outdir = join(work, 'edge-worker-out')
    const wranglerEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' }
    await run(
      bin('wrangler'),
      ['deploy', '--dry-run', '-c', 'wrangler.edge.toml', '--outdir', outdir],
      {
        cwd: app,
        env: wranglerEnv,
      },
    )
    const bundle = await readFile(join(outdir, 'edge-worker.js'), 'utf8')
    expect(bundle).toContain('/.well-known/jwks.json')
    expect(bundle).toMatch(/KeyStore = class extends DurableObject/)
    expect(bundle).toMatch(/export \{[^}]*\bRevocationPusher\b/)
    const { stdout } = await run(
      bin('wrangler'),
      [
        'd1',
        'migrations',
        'apply',
        'DB',
        '--local',
        '-c',
        'wrangler.edge.toml',
        '--persist-to',
        join(work, 'd1'),
      ],
      { cwd: app, env: wranglerEnv },
    )
    expect(stdout).toContain('0001_init.sql')
  })
})

/** `@types/node` for the TypeScript consumer, as any Node app in TypeScript has it. */
async function linkNodeTypes(): Promise<void> {
  const target = join(app, 'node_modules/@types/node')
  if (existsSync(target)) return
  await mkdir(join(app, 'node_modules/@types'), { recursive: true })
  await symlink(join(root, 'node_modules/@types/node'), target, 'dir')
}

/** Bundle `browser.js` for browsers (minified ESM) with `external` left out; its sizes. */
async function browserBundle(external: string[]) {
  const result = await build({
    entryPoints: [join(app, 'browser.js')],
    absWorkingDir: app,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external,
    write: false,
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]!.contents
  return { minifiedBytes: code.byteLength, gzipBytes: gzipSync(code).byteLength }
}
