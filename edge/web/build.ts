/**
 * Build the demo page into edge/public/ (served by the worker as static
 * assets): the SDK and page script bundled for browsers, plus the HTML and CSS.
 *
 *   npm run build:web
 */
import { build } from 'esbuild'
import { copyFile, mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url))
const out = here('../public/')
await mkdir(out, { recursive: true })
await build({
  entryPoints: [here('./app.ts')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  minify: true,
  sourcemap: true,
  outfile: `${out}app.js`,
  logLevel: 'warning',
})
await copyFile(here('./index.html'), `${out}index.html`)
await copyFile(here('./app.css'), `${out}app.css`)
