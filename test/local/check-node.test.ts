/**
 * The Node check every `npm run` script that runs TypeScript starts with
 * (edge/local/check-node.js), so an older Node says which Node it needs.
 */
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { nodeProblem } from '../../edge/local/check-node.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

describe('nodeProblem', () => {
  it.each(['22.18.0', '22.23.3', '23.0.0', '24.1.0'])('accepts Node %s for >=22.18.0', (v) =>
    expect(nodeProblem(v, '>=22.18.0')).toBeUndefined(),
  )

  it.each(['20.20.2', '22.17.9', '18.19.0', '21.99.99'])(
    'refuses Node %s, naming the Node needed and the one running',
    (v) => {
      const problem = nodeProblem(v, '>=22.18.0')
      expect(problem).toMatch(/^edgegate needs Node >=22\.18\.0 /)
      expect(problem).toContain(`this is Node ${v}.`)
      expect(problem).toContain('npm ci')
    },
  )

  it.each([undefined, '', '^22.18.0', '>=22', '22.18.0'])(
    'throws on an engines.node it cannot read (%j)',
    (range) => expect(() => nodeProblem('22.18.0', range)).toThrow(TypeError),
  )
})

describe('package.json', () => {
  it('checks the Node first in every script that runs a TypeScript file with node', async () => {
    const { scripts, engines } = JSON.parse(await readFile(`${ROOT}package.json`, 'utf8')) as {
      scripts: Record<string, string>
      engines: { node: string }
    }
    const running = Object.entries(scripts).filter(([, cmd]) => /\bnode \S+\.ts\b/.test(cmd))
    expect(running.length).toBeGreaterThan(5)
    for (const [name, cmd] of running)
      expect([name, cmd]).toEqual([
        name,
        expect.stringMatching(/^node edge\/local\/check-node\.js && /),
      ])
    // The check reads the range it enforces from here.
    expect(nodeProblem(process.versions.node, engines.node)).toBeUndefined()
  })

  it('lets this Node through: the check exits 0 and says nothing', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      `${ROOT}edge/local/check-node.js`,
    ])
    expect(stdout + stderr).toBe('')
  })
})
