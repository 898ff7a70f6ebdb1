/**
 * Node 24 for tests that run a consumer under both supported majors: the `node` package
 * from npm (the same one that gives this repository Node 22), installed once into a cache
 * directory under node_modules (so `npm ci` starts it afresh) and reused by later runs.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const CACHE = fileURLToPath(new URL('../../node_modules/.cache/edgegate-node24', import.meta.url))

/** The path of a Node 24 binary, installed from npm on first use. */
export async function node24(): Promise<string> {
  const binary = join(CACHE, 'node_modules/node/bin/node')
  if (existsSync(binary)) return binary
  await mkdir(CACHE, { recursive: true })
  // npm runs no install script it was not told to allow; `node`'s fetches the binary.
  await writeFile(
    join(CACHE, 'package.json'),
    JSON.stringify({ private: true, allowScripts: { node: true } }),
  )
  await run('npm', ['install', '--no-audit', '--no-fund', '--no-save', 'node@24'], {
    cwd: CACHE,
  })
  if (!existsSync(binary)) throw new Error(`npm install node@24 left no binary at ${binary}`)
  return binary
}
