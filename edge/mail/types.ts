/** What a mail is for (docs/protocol.md §13). */
export type MailKind = 'verify' | 'reset' | 'notice'

/** One plain-text mail. Never carries a password. */
export interface Mail {
  to: string
  subject: string
  text: string
  kind: MailKind
}

/** A mail transport: the outbox, the signed webhook or the `send_email` binding. */
export interface MailTransport {
  /**
   * Hand one mail over. Resolves once the transport accepted it.
   *
   * @throws Error when the transport refused it (the caller logs; nothing is retried)
   */
  send(mail: Mail, now: number): Promise<void>
}
