// Plain JavaScript on purpose: it runs first, on whatever Node the shell found, before
// anything in TypeScript is loaded (an older Node stops on a .ts file with a bare
// ERR_UNKNOWN_FILE_EXTENSION and no word of which Node it needs).
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

/**
 * Why this Node cannot run edgegate, or `undefined` when it can.
 *
 * @param version - the running Node's version, as in `process.versions.node`
 * @param range - package.json's `engines.node`, in the one form it uses: `>=X.Y.Z`
 * @example
 * ```js
 * nodeProblem('20.20.2', '>=22.18.0') // 'edgegate needs Node >=22.18.0 …'
 * ```
 */
export function nodeProblem(version, range) {
  const wanted = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(range ?? '')
  if (!wanted) throw new TypeError(`engines.node must read ">=X.Y.Z", got ${JSON.stringify(range)}`)
  const need = wanted.slice(1).map(Number)
  const have = version.split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    if (have[i] > need[i]) return undefined
    if (have[i] < need[i])
      return [
        `edgegate needs Node ${range} (it runs its TypeScript directly, with Node's type stripping);`,
        `this is Node ${version}.`,
        'npm scripts normally run the Node that `npm ci` installs (the `node` devDependency, in',
        'node_modules/.bin); it is missing when install scripts were skipped (--ignore-scripts),',
        'and a file run with `node` directly uses the Node on your PATH.',
        'Run `npm ci` with install scripts allowed, or install Node 22.18 or later.',
      ].join('\n')
  }
  return undefined
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { engines } = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  )
  const problem = nodeProblem(process.versions.node, engines?.node)
  if (problem) {
    console.error(problem)
    process.exit(1)
  }
}
