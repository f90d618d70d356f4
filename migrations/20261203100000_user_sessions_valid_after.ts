import type { Kysely } from 'kysely';

/**
 * `sessions_valid_after`: access tokens issued before it are refused, whatever their expiry says. Set when
 * an account is taken over (`admin:create` on an existing e-mail), so the previous holder is signed out at
 * once rather than when their token lapses.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('sessions_valid_after', 'timestamptz').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('sessions_valid_after').execute();
}
