import type { Migration } from 'kysely';
import * as identityAndOutbox from './20261121180000_identity_and_outbox.js';

/** Every migration, by its timestamped name; a new migration file is added here too (a test checks). */
export const migrations: Record<string, Migration> = {
  '20261121180000_identity_and_outbox': identityAndOutbox,
};
