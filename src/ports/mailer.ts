export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** Parts of the text that are credentials (a confirmation token): a mailer that logs replaces them. */
  secrets?: string[];
}

/** Sends e-mail; rejects when the message could not be handed to the mail server, so the outbox retries. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
}
