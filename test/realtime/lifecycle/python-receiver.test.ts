/**
 * The Python receiver of docs/webhooks.md (HMAC by hand, standard library
 * only) run with /usr/bin/python3 against real signed deliveries from the
 * deliverer, and against tampered ones.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { importWebhookKey, secretKey, signWebhook } from '../../../shared/webhooks/signature.ts'
import { until } from '../waits.ts'
import { memoryDeliverer, newSecret } from './receiver.ts'

const SCRIPT = fileURLToPath(new URL('../fixtures/webhook_receiver.py', import.meta.url))
const children: ChildProcess[] = []
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  for (const close of closers.splice(0)) await close()
})

/** Start the receiver on a free port; its stdout lines after the first, parsed. */
async function python(secret: string): Promise<{ url: string; lines: any[] }> {
  const child = spawn('/usr/bin/python3', [SCRIPT, '0'], {
    env: { WEBHOOK_SECRET: secret, PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(child)
  const lines: any[] = []
  let port = 0
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const match = /^listening (\d+)$/.exec(line)
    if (match) port = Number(match[1])
    else lines.push(JSON.parse(line))
  })
  await until(() => port > 0, { timeoutMs: 10_000, what: 'python listening' })
  return { url: `http://127.0.0.1:${port}/hook`, lines }
}

describe('the Python receiver of docs/webhooks.md', () => {
  it('is the file the docs show', async () => {
    const docs = await readFile(new URL('../../../docs/webhooks.md', import.meta.url), 'utf8')
    const source = await readFile(SCRIPT, 'utf8')
    const verify = source.slice(
      source.indexOf('def verify'),
      source.indexOf('seen = OrderedDict()'),
    )
    expect(docs).toContain(verify.trim())
  })

  it('accepts real signed deliveries, handles a repeated id once, and refuses tampering', async () => {
    const secret = newSecret()
    const receiver = await python(secret)
    const { log, deliverer } = memoryDeliverer(receiver.url, secret)
    closers.push(() => deliverer.close())
    log.transition('user.online', 'bob')
    log.transition('user.offline', 'bob')
    await until(() => receiver.lines.length === 2, { timeoutMs: 10_000, what: 'two events' })
    expect(receiver.lines.map((l) => [l.type, l.data])).toEqual([
      ['user.online', { sub: 'bob' }],
      ['user.offline', { sub: 'bob' }],
    ])

    // The same delivery again, freshly signed: 2xx, printed once.
    const post = async (headers: Record<string, string>, body: string) =>
      (await fetch(receiver.url, { method: 'POST', headers, body })).status
    const key = await importWebhookKey(secretKey(secret))
    const body = JSON.stringify({
      id: receiver.lines[0].id,
      type: 'user.online',
      data: { sub: 'bob' },
    })
    const ts = Math.floor(Date.now() / 1000)
    const signed = async (id: string, t: number, b: string) => ({
      'webhook-id': id,
      'webhook-timestamp': String(t),
      'webhook-signature': await signWebhook(key, id, t, b),
    })
    expect(await post(await signed(receiver.lines[0].id, ts, body), body)).toBe(204)
    const good = await signed('evt_x', ts, body)
    expect(await post(good, body.replace('bob', 'eve'))).toBe(400)
    expect(await post({ ...good, 'webhook-timestamp': String(ts + 1) }, body)).toBe(400)
    expect(await post(await signed('evt_x', ts - 301, body), body)).toBe(400)
    const otherKey = await importWebhookKey(secretKey(newSecret()))
    expect(
      await post(
        { ...good, 'webhook-signature': await signWebhook(otherKey, 'evt_x', ts, body) },
        body,
      ),
    ).toBe(400)
    await until(() => receiver.lines.length === 6, { what: 'four refusals printed' })
    expect(receiver.lines.slice(2)).toEqual([
      { refused: 'no matching signature' },
      { refused: 'no matching signature' },
      { refused: 'timestamp outside the tolerance' },
      { refused: 'no matching signature' },
    ])
  })
})
