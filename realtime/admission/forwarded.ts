/**
 * The first value of a comma-separated request header such as
 * `X-Forwarded-For` or `X-Forwarded-Host`: the hop nearest the client, as the
 * proxy you run recorded it. Only read where that proxy is trusted.
 *
 * @param header - the header as Node parsed it (a string, a list for repeated headers, or absent)
 * @returns the trimmed first value, or undefined when there is none
 * @example
 * ```ts
 * firstHeaderValue('203.0.113.7, 10.0.0.2') // '203.0.113.7'
 * ```
 */
export function firstHeaderValue(header: string | string[] | undefined | null): string | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim()
  return value ? value : undefined
}
