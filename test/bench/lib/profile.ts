/**
 * Summarize a V8 `.cpuprofile` (from `node --cpu-prof`): where the busy time
 * went, by package or source file, and the functions with the most self time.
 * Idle time is left out, so shares are of the time the process was working.
 *
 *   node test/bench/lib/profile.ts <file.cpuprofile> [top=25]
 */
import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  samples: number[]
  timeDeltas: number[]
}

/** A span of a profile's timeline, in µs of the monotonic clock its samples are stamped with. */
export interface ProfileWindow {
  fromUs: number
  toUs: number
}

/** Where a frame's code lives: a package, a project file, or node's internals. */
function owner(url: string): string {
  if (!url) return '(native)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(url)
  if (pkg) return pkg[1]!
  if (url.startsWith('node:')) return 'node internals'
  return relative(process.cwd(), url.replace(/^file:\/\//, ''))
}

/**
 * The busy time by owner and the top `top` functions by self time, as text.
 * With `windows`, only the samples inside them count (when none falls inside,
 * the windows belong to another process and the whole profile counts).
 */
export async function summarizeProfile(
  file: string,
  top = 25,
  windows: ProfileWindow[] = [],
): Promise<string> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
  let at = profile.startTime
  const stamps = profile.timeDeltas.map((d) => (at += d))
  const inside = (t: number) => windows.some((w) => t >= w.fromUs && t <= w.toUs)
  const filtered = windows.length > 0 && stamps.some(inside)
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  const owners = new Map<string, number>()
  let busy = 0
  let idle = 0
  profile.samples.forEach((id, i) => {
    if (filtered && !inside(stamps[i]!)) return
    const delta = profile.timeDeltas[i] ?? 0
    const frame = byNode.get(id)!.callFrame
    if (frame.functionName === '(idle)') return void (idle += delta)
    const where = frame.url
      ? `${relative(process.cwd(), frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}`
      : ''
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim()
    self.set(key, (self.get(key) ?? 0) + delta)
    const who = frame.url
      ? owner(frame.url)
      : frame.functionName.startsWith('(')
        ? frame.functionName
        : '(native)'
    owners.set(who, (owners.get(who) ?? 0) + delta)
    busy += delta
  })
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`
  const list = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`)
  return [
    `busy ${(busy / 1e6).toFixed(1)} s of ${((busy + idle) / 1e6).toFixed(1)} s sampled` +
      `${filtered ? ` in ${windows.length} measured window(s)` : ''}; shares are of the busy time`,
    'by owner:',
    ...list(owners, 15),
    'top functions by self time:',
    ...list(self, top),
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await summarizeProfile(process.argv[2]!, Number(process.argv[3] ?? 25)))
}
