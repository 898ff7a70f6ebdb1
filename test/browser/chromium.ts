/** Debian's chromium through playwright-core (which never downloads a browser), headless. */
import { chromium, type Browser, type Page } from 'playwright-core'

/** Where the browser is: CHROMIUM_PATH, else Debian's. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Launch it quietly: no sandbox (containers), no GPU, no background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/**
 * Record what `page` reports as an error (console errors and uncaught exceptions), from now on.
 *
 * @returns the list, filled as they come; tests expect it empty
 * @example
 * ```ts
 * const errors = recordErrors(page)
 * expect(errors).toEqual([])
 * ```
 */
export function recordErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text())
  })
  page.on('pageerror', (err) => errors.push(err.message))
  return errors
}
