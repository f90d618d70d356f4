import { readdir } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { migrations } from '../../migrations/index.js';

it('registers every timestamped migration file, in order', async () => {
  const files = (await readdir(new URL('../../migrations', import.meta.url)))
    .filter((name) => /^\d{14}_[a-z0-9_]+\.ts$/.test(name))
    .map((name) => name.replace(/\.ts$/, ''))
    .sort();
  expect(Object.keys(migrations)).toEqual(files);
  for (const migration of Object.values(migrations)) {
    expect(typeof migration.up).toBe('function');
    expect(typeof migration.down).toBe('function');
  }
});
