import { randomUUID } from 'node:crypto';
import type { User, UserRole } from '../../domain/user.js';
import type { Clock } from '../../ports/clock.js';
import type { NewUser, UserRepository } from '../../ports/users.js';
import type { MemoryTables, TableAccess, UserRow } from './memory-tables.js';

/** The column is `citext`: e-mails are unique and found without regard to case. */
function sameEmail(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function findRowByEmail(tables: MemoryTables, email: string): UserRow | undefined {
  for (const row of tables.users.values()) if (sameEmail(row.user.email, email)) return row;
  return undefined;
}

export class InMemoryUserRepository implements UserRepository {
  constructor(
    private readonly access: TableAccess,
    private readonly clock: Clock,
  ) {}

  insertIfEmailFree(user: NewUser): Promise<User | null> {
    return this.access.write((tables) => {
      if (findRowByEmail(tables, user.email)) return null;
      const row: UserRow = {
        user: {
          id: randomUUID(),
          email: user.email,
          nickname: user.nickname,
          firstName: user.firstName,
          lastName: user.lastName,
          role: user.role ?? 'customer',
          emailVerified: false,
          balanceCents: 0,
          createdAt: this.clock.now(),
        },
        passwordHash: user.passwordHash,
        emailVerifiedAt: null,
      };
      tables.users.set(row.user.id, row);
      return structuredClone(row.user);
    });
  }

  findById(id: string): Promise<User | null> {
    return this.access.read((tables) => {
      const row = tables.users.get(id);
      return row ? structuredClone(row.user) : null;
    });
  }

  findCredentialsByEmail(email: string): Promise<{ user: User; passwordHash: string } | null> {
    return this.access.read((tables) => {
      const row = findRowByEmail(tables, email);
      return row ? { user: structuredClone(row.user), passwordHash: row.passwordHash } : null;
    });
  }

  markEmailVerified(id: string, at: Date): Promise<void> {
    return this.access.write((tables) => {
      const row = tables.users.get(id);
      if (!row || row.emailVerifiedAt) return;
      row.emailVerifiedAt = new Date(at);
      row.user.emailVerified = true;
    });
  }

  setRole(id: string, role: UserRole): Promise<void> {
    return this.access.write((tables) => {
      const row = tables.users.get(id);
      if (row) row.user.role = role;
    });
  }
}
