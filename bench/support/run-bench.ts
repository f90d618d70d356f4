export interface BenchRun {
  /** Registers a clean-up step; steps run last-in first-out at the end, on failure, and on SIGINT/SIGTERM. */
  defer(label: string, step: () => unknown): void;
  /** A progress line on stderr (stdout carries only the results). */
  log(message: string): void;
}

// A step that hangs (a server that ignores SIGTERM) must not keep the benchmark from exiting.
const CLEAN_UP_STEP_TIMEOUT_MS = 30_000;

/**
 * Runs one benchmark: `main` registers what it starts with `defer`, and everything is torn down whether it
 * finishes, throws or is interrupted. Exits the process (0, 1 on failure, 130/143 on a signal).
 */
export async function runBench(name: string, main: (run: BenchRun) => Promise<void>): Promise<never> {
  const started = performance.now();
  const steps: { label: string; step: () => unknown }[] = [];
  const log = (message: string) =>
    console.error(`[${name} +${((performance.now() - started) / 1000).toFixed(1)}s] ${message}`);

  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      for (let entry = steps.pop(); entry; entry = steps.pop()) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            entry.step(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('timed out')), CLEAN_UP_STEP_TIMEOUT_MS);
            }),
          ]);
        } catch (error) {
          log(`clean-up "${entry.label}" failed: ${(error as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
      }
    })());

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void cleanUp().finally(() => process.exit(code));
    });
  }

  let exitCode = 0;
  try {
    await main({ defer: (label, step) => steps.push({ label, step }), log });
  } catch (error) {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    exitCode = 1;
  }
  await cleanUp();
  process.exit(exitCode);
}
