import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { User, UserRole } from '../../domain/user.js';
import type { AccountAccess, NewUser, UserReader, UserRepository } from '../../ports/users.js';
import type { Database, UsersTable } from './schema.js';

export function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    email: row.email,
    nickname: row.nickname,
    firstName: row.first_name,
    lastName: row.last_name,
    role: row.role,
    emailVerified: row.email_verified_at !== null,
    balanceCents: row.balance_cents,
    createdAt: row.created_at,
  };
}

/** The cost field of a bcrypt hash (`$2b$12$…`). */
const BCRYPT_COST_PATTERN = String.raw`^\$2[aby]?\$(\d\d)\$`;

export class KyselyUserReader implements UserReader {
  constructor(protected readonly db: Kysely<Database>) {}

  async findById(id: string): Promise<User | null> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async mostCommonPasswordCost(): Promise<number | null> {
    const cost = sql<string>`substring(password_hash FROM ${BCRYPT_COST_PATTERN})`;
    const { rows } = await sql<{ cost: string }>`
      SELECT ${cost} AS cost FROM users
      WHERE ${cost} IS NOT NULL
      GROUP BY 1
      ORDER BY count(*) DESC, 1 DESC
      LIMIT 1`.execute(this.db);
    return rows[0] ? Number(rows[0].cost) : null;
  }

  async findAccess(id: string): Promise<AccountAccess | null> {
    const row = await this.db
      .selectFrom('users')
      .select(['role', 'sessions_valid_after'])
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? { role: row.role, sessionsValidAfter: row.sessions_valid_after } : null;
  }

  async findCredentialsByEmail(email: string): Promise<{ user: User; passwordHash: string } | null> {
    const row = await this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
    return row ? { user: toUser(row), passwordHash: row.password_hash } : null;
  }
}

export class KyselyUserRepository extends KyselyUserReader implements UserRepository {
  constructor(tx: Transaction<Database>) {
    super(tx);
  }

  async insertIfEmailFree(user: NewUser): Promise<User | null> {
    const row = await this.db
      .insertInto('users')
      .values({
        email: user.email,
        password_hash: user.passwordHash,
        nickname: user.nickname,
        first_name: user.firstName,
        last_name: user.lastName,
        role: user.role ?? 'customer',
      })
      .onConflict((oc) => oc.column('email').doNothing())
      .returningAll()
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async markEmailVerified(id: string, at: Date): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ email_verified_at: at, updated_at: at })
      .where('id', '=', id)
      .where('email_verified_at', 'is', null)
      .execute();
  }

  async setRole(id: string, role: UserRole): Promise<void> {
    await this.db.updateTable('users').set({ role, updated_at: new Date() }).where('id', '=', id).execute();
  }

  async upgradePasswordHash(id: string, from: string, to: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ password_hash: to })
      .where('id', '=', id)
      .where('password_hash', '=', from)
      .execute();
  }

  async takeOver(id: string, change: { passwordHash: string; role: UserRole; at: Date }): Promise<void> {
    await this.db
      .updateTable('users')
      .set({
        password_hash: change.passwordHash,
        role: change.role,
        sessions_valid_after: change.at,
        updated_at: change.at,
      })
      .where('id', '=', id)
      .execute();
  }
}
