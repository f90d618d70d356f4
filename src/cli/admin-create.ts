import { readCommandLine, usageError } from './command-line.js';
import { loadConfig } from '../config.js';
import { createShop } from '../compose/create-shop.js';
import { createLogger } from '../logger.js';

const USAGE = `Usage: npm run admin:create -- --email E --password P   (built: node dist/cli/admin-create.js ...)
Creates an admin account, or makes the existing account with that e-mail an admin with that password.`;

const values = readCommandLine(USAGE, { email: { type: 'string' }, password: { type: 'string' } });
if (!values.email || !values.password) usageError(USAGE, '--email and --password are both required');

try {
  const config = loadConfig();
  const shop = await createShop(config, { role: 'api', logger: createLogger('warn') });
  try {
    const { user, created } = await shop.useCases.createAdmin({
      email: values.email,
      password: values.password,
    });
    console.log(
      created
        ? `created admin ${user.email} (${user.id})`
        : `took over ${user.email} (${user.id}): now an admin with the given password; every earlier session of it is signed out`,
    );
  } finally {
    await shop.close();
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
