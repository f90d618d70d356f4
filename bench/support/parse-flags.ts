import { parseArgs } from 'node:util';

export type FlagSpec =
  | { type: 'number'; default: number; description: string; min?: number; integer?: boolean }
  | { type: 'string'; default: string; description: string }
  | { type: 'boolean'; description: string };

export type FlagValues<S extends Record<string, FlagSpec>> = {
  [K in keyof S]: S[K]['type'] extends 'number' ? number : S[K]['type'] extends 'boolean' ? boolean : string;
} & { json: boolean };

const kebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

/**
 * Reads `--kebab-case` flags for the camelCase names of `spec` (numbers checked, defaults applied), plus
 * `--json` and `--help`. A bad flag prints the usage and exits with 2.
 */
export function parseFlags<S extends Record<string, FlagSpec>>(
  command: string,
  summary: string,
  spec: S,
  argv: string[] = process.argv.slice(2),
): FlagValues<S> {
  const all: Record<string, FlagSpec> = {
    ...spec,
    json: { type: 'boolean', description: 'print the figures as JSON instead of tables' },
    help: { type: 'boolean', description: 'show this help' },
  };
  const usage = () =>
    [
      `usage: ${command} [flags]`,
      summary,
      '',
      ...Object.entries(all).map(([name, flag]) => {
        const value = flag.type === 'boolean' ? '' : ` <${flag.type}>`;
        const fallback = flag.type === 'boolean' ? '' : ` (default ${flag.default})`;
        return `  --${kebab(name)}${value}`.padEnd(28) + `${flag.description}${fallback}`;
      }),
    ].join('\n');
  const fail = (message: string): never => {
    console.error(`${message}\n\n${usage()}`);
    process.exit(2);
  };

  let parsed: Record<string, string | boolean | undefined>;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(
        Object.entries(all).map(([name, flag]) => [
          kebab(name),
          { type: flag.type === 'boolean' ? 'boolean' : 'string' } as const,
        ]),
      ),
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    return fail((error as Error).message);
  }
  if (parsed.help) {
    console.log(usage());
    process.exit(0);
  }

  const values: Record<string, number | string | boolean> = {};
  for (const [name, flag] of Object.entries(all)) {
    const raw = parsed[kebab(name)];
    if (flag.type === 'boolean') {
      values[name] = raw === true;
    } else if (flag.type === 'string') {
      values[name] = typeof raw === 'string' ? raw : flag.default;
    } else if (typeof raw !== 'string') {
      values[name] = flag.default;
    } else {
      const number = Number(raw);
      const min = flag.min ?? 0;
      if (
        raw.trim() === '' ||
        !Number.isFinite(number) ||
        number < min ||
        (flag.integer && !Number.isInteger(number))
      ) {
        fail(`--${kebab(name)} must be ${flag.integer ? 'an integer' : 'a number'} ≥ ${min} (got "${raw}")`);
      }
      values[name] = number;
    }
  }
  return values as FlagValues<S>;
}
