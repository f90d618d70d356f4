import nodemailer, { type Transporter } from 'nodemailer';
import type { Mailer, MailMessage } from '../../ports/mailer.js';

/** Sends through the SMTP server of `SMTP_URL` (smtp://user:pass@host:port, smtps:// for TLS). */
export class SmtpMailer implements Mailer {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    this.transport = nodemailer.createTransport(smtpUrl, {
      // Fail a dead server fast: the outbox retries, nothing waits on it.
      connectionTimeout: 5_000,
      greetingTimeout: 5_000,
      socketTimeout: 10_000,
    });
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail({ from: this.from, ...message });
  }

  close(): void {
    this.transport.close();
  }
}
