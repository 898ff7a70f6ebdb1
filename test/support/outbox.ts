/**
 * Read a mail link's token from a running local edge's outbox (`MAILER=outbox`,
 * `GET /dev/outbox` with the admin token), for Node-side tests and benchmarks.
 */

/**
 * The token of the newest `kind` mail to `to`. The edge writes mail after it
 * answers, so this polls until the mail is there (at most `timeoutMs`).
 *
 * @param edge - the edge's URL and admin token
 * @param to - the recipient
 * @param kind - `verify` or `reset`
 * @param timeoutMs - how long to wait for the mail. @default 10000
 */
export async function outboxToken(
  edge: { url: string; adminToken: string },
  to: string,
  kind: 'verify' | 'reset',
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const res = await fetch(`${edge.url}/dev/outbox`, {
      headers: { authorization: `Bearer ${edge.adminToken}` },
    })
    if (res.status !== 200) throw new Error(`GET /dev/outbox: HTTP ${res.status}`)
    const { messages } = (await res.json()) as {
      messages: { to: string; kind: string; text: string }[]
    }
    const mail = messages.find((m) => m.to === to && m.kind === kind)
    const token = mail && new RegExp(`#${kind}=([A-Za-z0-9_-]+)`).exec(mail.text)?.[1]
    if (token) return token
    if (Date.now() > deadline) throw new Error(`no ${kind} mail to ${to} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
