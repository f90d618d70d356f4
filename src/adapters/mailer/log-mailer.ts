import type { Logger } from '../../ports/logger.js';
import type { Mailer, MailMessage } from '../../ports/mailer.js';

/** Development mailer (no `SMTP_URL`): writes each message to the log so a developer can follow its links. */
export class LogMailer implements Mailer {
  constructor(private readonly logger: Logger) {}

  async send(message: MailMessage): Promise<void> {
    this.logger.info(
      { operation: 'email.send', outcome: 'logged', to: message.to, subject: message.subject },
      message.text,
    );
  }
}
