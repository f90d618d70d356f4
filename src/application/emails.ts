import type { MailMessage } from '../ports/mailer.js';

export function confirmationEmail(input: { to: string; token: string; publicUrl: string }): MailMessage {
  const link = `${input.publicUrl}/api/v1/auth/verify-email?token=${encodeURIComponent(input.token)}`;
  return {
    to: input.to,
    subject: 'Confirm your Keyshop e-mail address',
    text:
      `Welcome to Keyshop!\n\nConfirm your e-mail address by opening this link:\n${link}\n\n` +
      `Or send this token to POST /api/v1/auth/verify-email: ${input.token}\n\n` +
      `The link is valid for 48 hours. If you did not sign up, ignore this message.`,
    secrets: [encodeURIComponent(input.token), input.token],
  };
}

/** The link leads to the order, where its owner reads the keys; the e-mail itself never carries a key. */
export function keysReadyEmail(input: { to: string; orderId: string; publicUrl: string }): MailMessage {
  const link = `${input.publicUrl}/api/v1/orders/${input.orderId}`;
  return {
    to: input.to,
    subject: 'Your Keyshop keys are ready',
    text:
      `The keys of your order ${input.orderId} are ready.\n\n` +
      `Sign in and open your order to read them:\n${link}\n\n` +
      `Any unit that could not be bought was refunded to your wallet.`,
  };
}
