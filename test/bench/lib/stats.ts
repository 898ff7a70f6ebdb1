/** Figures, their spread, the machine, and the ratio table the bench prints. */
import { execSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'

/** A figure over several runs. */
export interface Figure {
  median: number
  min: number
  max: number
  runs: number[]
}

/** Median (the lower middle for an even count is not used: the mean of the two middles). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The median and spread of `runs`. */
export function figure(runs: readonly number[]): Figure {
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs: [...runs] }
}

/** Quantile of a sample, nearest rank. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

/** The machine the figures were measured on. */
export function machine() {
  const cpu = cpus()
  return {
    cores: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  }
}

/** The commit measured (with `+dirty` when the tree has changes). */
export function commit(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    const dirty = execSync('git status --porcelain --untracked-files=no', {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    return dirty ? `${sha}+dirty` : sha
  } catch {
    return 'unknown'
  }
}

/** One row of the ratio table. */
export interface Row {
  section: string
  figure: string
  value: Figure | undefined
  unit: string
  peer?: string
  peerValue?: Figure
  /** Per-run ratio (or difference) of value to peer, as a figure. */
  ratio?: Figure
  /** `ratio` is a difference in `unit` (memory), not a quotient. */
  difference?: boolean
  /** Judged on the ratio's median when there is a ratio, else on the value's median. */
  target?: { text: string; pass: (median: number) => boolean }
  note?: string
}

const fmt = (x: number) =>
  Math.abs(x) >= 1000
    ? Math.round(x).toLocaleString('en-US')
    : Math.abs(x) >= 10
      ? x.toFixed(1)
      : x.toFixed(2)
const spread = (f: Figure) => (f.runs.length > 1 ? ` [${fmt(f.min)}–${fmt(f.max)}]` : '')

/** Per-run quotients a[i] / b[i] (the runs were interleaved, so each pair shared the machine's state). */
export function pairedRatio(a: Figure, b: Figure): Figure {
  return figure(a.runs.map((x, i) => x / b.runs[i]!))
}

/** Per-run differences a[i] - b[i]. */
export function pairedDifference(a: Figure, b: Figure): Figure {
  return figure(a.runs.map((x, i) => x - b.runs[i]!))
}

/** The table as text columns, and each row's outcome. */
export function renderTable(rows: Row[]): { text: string; outcomes: string[] } {
  const header = [
    'section',
    'figure',
    'median [min–max]',
    'peer',
    'peer median',
    'ratio [min–max]',
    'target',
    'result',
  ]
  const outcomes: string[] = []
  const lines = rows.map((row) => {
    const judged = row.ratio ?? row.value
    const outcome =
      !row.target || !judged ? (row.note ?? '') : row.target.pass(judged.median) ? 'pass' : 'miss'
    outcomes.push(outcome)
    const ratio = row.ratio
      ? row.difference
        ? `${row.ratio.median >= 0 ? '+' : ''}${fmt(row.ratio.median)} ${row.unit}${spread(row.ratio)}`
        : `${row.ratio.median.toFixed(2)}×` +
          (row.ratio.runs.length > 1
            ? ` [${row.ratio.min.toFixed(2)}–${row.ratio.max.toFixed(2)}]`
            : '')
      : ''
    return [
      row.section,
      row.figure,
      row.value ? `${fmt(row.value.median)} ${row.unit}${spread(row.value)}` : '—',
      row.peer ?? '',
      row.peerValue ? `${fmt(row.peerValue.median)} ${row.unit}` : '',
      ratio,
      row.target?.text ?? '',
      outcome,
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  const text = [line(header), line(widths.map((w) => '-'.repeat(w))), ...lines.map(line)].join('\n')
  return { text, outcomes }
}
