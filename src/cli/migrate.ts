import { createDb } from '../adapters/postgres/db.js';
import { migrateToLatest } from '../adapters/postgres/migrate.js';
import { readCommandLine } from './command-line.js';

readCommandLine(
  `Usage: npm run migrate   (built: node dist/cli/migrate.js)
Applies every pending migration to the database at DATABASE_URL; one run at a time, safe to repeat.`,
  {},
);

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is required (npm start migrates the embedded database by itself)');
  process.exit(2);
}
const db = createDb(url, { max: 1 });
try {
  const result = await migrateToLatest(db);
  for (const r of result.results ?? []) console.log(`${r.status}: ${r.migrationName}`);
  console.log('database is up to date');
} finally {
  await db.destroy();
}
