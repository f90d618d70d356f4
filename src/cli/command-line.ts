import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A command's flags, read strictly: `--help` (or `-h`) prints the usage and exits 0; an unknown flag, a flag
 * without its value or a stray argument prints what is wrong and the usage, and exits 2. Never a stack trace.
 */
export function readCommandLine<const T extends Options>(
  usage: string,
  options: T,
  args: string[] = process.argv.slice(2),
) {
  const config = { args, options: { ...options, ...HELP }, strict: true, allowPositionals: false } as const;
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    return usageError(usage, (error as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.values;
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** Prints what is wrong with the command line and the usage, and exits 2. */
export function usageError(usage: string, message: string): never {
  console.error(`${message}\n\n${usage}`);
  process.exit(2);
}
