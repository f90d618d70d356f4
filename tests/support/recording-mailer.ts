import type { Mailer, MailMessage } from '../../src/ports/mailer.js';
import { waitFor } from './wait-for.js';

/** A mailer that keeps what it was handed, as the recipient's inbox would. */
export class RecordingMailer implements Mailer {
  readonly sent: MailMessage[] = [];

  async send(message: MailMessage): Promise<void> {
    this.sent.push(structuredClone(message));
  }

  /** The first e-mail to `to`, once the outbox has delivered it. */
  async to(to: string): Promise<MailMessage> {
    return waitFor(() => this.sent.find((message) => message.to === to), `an e-mail to ${to}`);
  }
}
