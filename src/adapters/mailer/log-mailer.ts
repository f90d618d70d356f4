import type { Logger } from '../../ports/logger.js';
import type { Mailer, MailMessage } from '../../ports/mailer.js';

/**
 * Development mailer (no `SMTP_URL`): writes each message to the log, its links' paths included, with every
 * secret the message names (a confirmation token) replaced: a log is read by more people than a mailbox.
 */
export class LogMailer implements Mailer {
  constructor(private readonly logger: Logger) {}

  async send(message: MailMessage): Promise<void> {
    const text = (message.secrets ?? [])
      .filter((secret) => secret.length > 0)
      .reduce((redacted, secret) => redacted.replaceAll(secret, '[redacted]'), message.text);
    this.logger.info(
      { operation: 'email.send', outcome: 'logged', to: message.to, subject: message.subject },
      text,
    );
  }
}
