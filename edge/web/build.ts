/**
 * Build the demo page into edge/public/ (served by the worker as static
 * assets): the SDK and page script bundled for browsers, plus the HTML and CSS.
 *
 *   npm run build:web
 *
 * wrangler runs it before `deploy`, `dev` and `types` (wrangler.toml `[build]`),
 * so it must be fast and idempotent: a file whose bytes would not change is
 * left alone (no needless reload in `wrangler dev`), and a changed one is
 * written to a temporary name and renamed, so a server reading it, or another
 * build running at the same time (tests start several edges), never sees it
 * half-written.
 */
import { build } from 'esbuild'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const out = here('../public/')
await mkdir(out, { recursive: true })
const bundle = await build({
  entryPoints: [here('./app.ts')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  minify: true,
  sourcemap: true,
  outfile: `${out}app.js`,
  write: false,
  logLevel: 'warning',
})
const files = new Map<string, Uint8Array>(bundle.outputFiles.map((f) => [f.path, f.contents]))
files.set(`${out}index.html`, await readFile(here('./index.html')))
files.set(`${out}app.css`, await readFile(here('./app.css')))
await Promise.all([...files].map(([path, bytes]) => writeIfChanged(path, bytes)))

async function writeIfChanged(path: string, bytes: Uint8Array): Promise<void> {
  const current = await readFile(path).catch(() => undefined)
  if (current && Buffer.compare(current, bytes) === 0) return
  const temp = `${path}.${process.pid}.tmp`
  await writeFile(temp, bytes)
  await rename(temp, path)
}
