import createDebug from 'debug'

/** Log levels, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** A structured logger: one JSON line per call. Fields name codes and ids, never tokens or keys. */
export type Logger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

/**
 * A logger writing JSON lines to stderr at `minLevel` and above; `debug`
 * lines also go to the `realtime` debug namespace (`DEBUG=realtime*`).
 *
 * @param minLevel - lowest level written. @default 'info'
 */
export function createLogger(minLevel: LogLevel = 'info'): Logger {
  const trace = createDebug('realtime')
  return (level, msg, fields = {}) => {
    if (level === 'debug') trace('%s %o', msg, fields)
    if (ORDER[level] < ORDER[minLevel]) return
    process.stderr.write(
      JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n',
    )
  }
}

/** A logger that writes nothing (library default for tests). */
export const silentLogger: Logger = () => {}
