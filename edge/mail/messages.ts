import type { Mail } from './types.ts'

/** Where mail links point: `ACCOUNT_LINK_BASE`, or the edge's own page. */
export function linkBase(issuer: string, configured: string | undefined): string {
  return configured ?? `${issuer}/`
}

/**
 * The verification mail. The token travels in the URL fragment, which
 * browsers never send to a server, so it stays out of access logs.
 */
export function verifyMail(to: string, username: string, base: string, token: string): Mail {
  return {
    to,
    kind: 'verify',
    subject: 'Confirm your email address',
    text: `Hello ${username},

Confirm that this address belongs to your account by opening this link within 24 hours:

${base}#verify=${token}

If you did not sign up or change your email, ignore this mail; nothing changes.`,
  }
}

/** The reset mail; the token travels in the fragment as in {@link verifyMail}. */
export function resetMail(to: string, username: string, base: string, token: string): Mail {
  return {
    to,
    kind: 'reset',
    subject: 'Reset your password',
    text: `Hello ${username},

Someone (hopefully you) asked to reset the password of your account. Choose a new one within 30 minutes at:

${base}#reset=${token}

Setting a new password logs you out everywhere. If you did not ask for this, ignore this mail: your password stays as it is.`,
  }
}

/** A notice that the password changed, so the owner learns of a change they did not make. */
export function passwordChangedMail(to: string, username: string): Mail {
  return {
    to,
    kind: 'notice',
    subject: 'Your password was changed',
    text: `Hello ${username},

The password of your account was just changed, and your other sessions were logged out.

If this was not you, use "forgot password" to choose a new one at once.`,
  }
}
