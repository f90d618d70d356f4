import type { Logger } from '../ports/logger.js';

type Step = () => Promise<unknown>;

/**
 * What a process closes at exit, in order: stop taking requests, let in-flight jobs finish (they still need
 * G2A, SMTP, Redis and the pools), then close everything else in the reverse order it was opened.
 */
export class Shutdown {
  private stopRequests?: Step;
  private stopJobs?: Step;
  private readonly closers: Step[] = [];

  constructor(private readonly logger: Logger) {}

  /** Stops the HTTP server; runs first. */
  onStopRequests(step: Step): void {
    this.stopRequests = step;
  }

  /** Stops the job workers, waiting for the jobs they run; runs second. */
  onStopJobs(step: Step): void {
    this.stopJobs = step;
  }

  /** Closes something opened; closers run last, newest first. */
  add(step: Step): void {
    this.closers.push(step);
  }

  private running?: Promise<void>;
  private readonly stop = new AbortController();

  /** Aborted as soon as shutdown begins: long jobs hand their work on rather than run to the end. */
  get stopping(): AbortSignal {
    return this.stop.signal;
  }

  /** Runs the steps once; a second call (a signal during a close, a test closing twice) waits for the first. */
  run(): Promise<void> {
    this.running ??= (async () => {
      this.stop.abort();
      for (const step of [this.stopRequests, this.stopJobs, ...[...this.closers].reverse()]) {
        await step?.().catch((error: Error) => this.logger.error({ err: error }, 'error during shutdown'));
      }
    })();
    return this.running;
  }
}
