import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
const realtime = join(root, 'realtime')

/** Every .ts file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sources(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

// Static `import ... from '…'`, `import type … from '…'`, `import '…'` and
// `export … from '…'`, across lines; dynamic import() is not an edge of the graph.
const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?['"](\.[^'"]+\.ts)['"]/gm

/** realtime's import graph: file (relative to the repo) → the realtime files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of sources(realtime)) {
    const text = readFileSync(file, 'utf8')
    const targets = new Set<string>()
    for (const match of text.matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1]!)
      if (target.startsWith(realtime + '/')) targets.add(relative(root, target))
    }
    graph.set(relative(root, file), [...targets].sort())
  }
  return graph
}

/** The first cycle found, as a path that starts and ends at the same file, or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open')
    stack.push(node)
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next]
      if (state.get(next) === undefined) {
        const found = visit(next)
        if (found) return found
      }
    }
    stack.pop()
    state.set(node, 'done')
    return undefined
  }
  for (const node of [...graph.keys()].sort()) {
    if (state.get(node) === undefined) {
      const found = visit(node)
      if (found) return found
    }
  }
  return undefined
}

describe("realtime's import graph", () => {
  const graph = importGraph()

  it('reads the realtime sources and their relative imports', () => {
    expect(graph.size).toBeGreaterThan(50)
    expect(graph.get('realtime/server.ts')?.length).toBeGreaterThan(5)
  })

  it('has no import cycle (a cycle is printed file by file)', () => {
    const cycle = findCycle(graph)
    expect(cycle?.join('\n  → ')).toBeUndefined()
  })

  it('realtime/auth/ (verification only) imports nothing from admission/ or session/', () => {
    const upward = [...graph]
      .filter(([file]) => file.startsWith('realtime/auth/'))
      .flatMap(([file, targets]) =>
        targets
          .filter((t) => /^realtime\/(admission|session)\//.test(t))
          .map((t) => `${file} → ${t}`),
      )
    expect(upward).toEqual([])
  })

  it('types.ts and the identity types import nothing above them', () => {
    const bottom = ['realtime/types.ts', 'realtime/identity.ts']
    const allowed = /^realtime\/(constants|identity|types)\.ts$/
    const upward = bottom.flatMap((file) =>
      (graph.get(file) ?? []).filter((t) => !allowed.test(t)).map((t) => `${file} → ${t}`),
    )
    expect(upward).toEqual([])
  })

  it('finds a cycle in a graph that has one (the check can fail)', () => {
    const cyclic = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
    ])
    expect(findCycle(cyclic)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts'])
    expect(
      findCycle(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', []],
        ]),
      ),
    ).toBeUndefined()
  })
})
