import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { REVOCATION_RETENTION_SECONDS } from '../../edge/constants.ts'
import { keyStore } from '../../edge/keys/store.ts'
import { revocationStatement } from '../../edge/revocations/log.ts'
import { runScheduledMaintenance } from '../../edge/scheduled.ts'

describe('the cron trigger', () => {
  it('rotates the signing key once the rotation period has passed', async () => {
    const t0 = 1_700_000_000
    const before = await keyStore(env).list(t0)
    const next = before.find((k) => k.state === 'next')!.kid
    await runScheduledMaintenance(env, { now: t0 + 60 })
    expect((await keyStore(env).list(t0 + 60)).find((k) => k.state === 'active')!.kid).not.toBe(
      next,
    )
    await runScheduledMaintenance(env, { now: t0 + Number(env.ROTATION_PERIOD) })
    expect(
      (await keyStore(env).list(t0 + Number(env.ROTATION_PERIOD))).find(
        (k) => k.state === 'active',
      )!.kid,
    ).toBe(next)
  })

  it('prunes revocation events only after the retention period past their until', async () => {
    const now = 1_700_100_000
    await revocationStatement(env.DB, {
      kind: 'session',
      id: 'old',
      at: 1,
      until: now - REVOCATION_RETENTION_SECONDS - 1,
    }).run()
    await revocationStatement(env.DB, {
      kind: 'session',
      id: 'recent',
      at: 1,
      until: now - 10,
    }).run()
    await runScheduledMaintenance(env, { now })
    const ids = (
      await env.DB.prepare('SELECT id FROM revocations').all<{ id: string }>()
    ).results.map((r) => r.id)
    expect(ids).toEqual(['recent'])
  })
})
