/**
 * Where the demo scripts find `npm start`'s services (the same EDGE_PORT and REALTIME_PORT
 * it reads), and a plain sentence, not a `fetch failed` stack, when one is not running.
 */
import { readLocalPorts, type LocalPorts } from '../../edge/local/ports.ts'

/**
 * The local URLs, once the edge and the realtime node both answer `/healthz`; otherwise
 * print which one is not running and how to start it, and exit 1.
 *
 * @param script - the script's name, for the message
 */
export async function localServices(script: string): Promise<LocalPorts> {
  let ports: LocalPorts
  try {
    ports = readLocalPorts()
  } catch (err) {
    console.error(`${script}: ${(err as Error).message}`)
    process.exit(2)
  }
  const down: string[] = []
  if (!(await answers(ports.edgeUrl))) down.push(`the edge at ${ports.edgeUrl} (EDGE_PORT)`)
  if (!(await answers(ports.realtimeUrl)))
    down.push(`the realtime node at ${ports.realtimeUrl} (REALTIME_PORT)`)
  if (down.length > 0) {
    console.error(`${script}: not running: ${down.join(' and ')}.`)
    console.error(
      `Start them with \`npm start\` in another terminal, with the same EDGE_PORT and REALTIME_PORT as here.`,
    )
    process.exit(1)
  }
  return ports
}

/** Whether `${url}/healthz` answers 200 (within a few seconds). */
async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) })
    await res.body?.cancel()
    return res.ok
  } catch {
    return false
  }
}
