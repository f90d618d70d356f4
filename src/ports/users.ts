import type { User, UserRole } from '../domain/user.js';

export interface NewUser {
  email: string;
  passwordHash: string;
  nickname: string | null;
  firstName: string | null;
  lastName: string | null;
  role?: UserRole;
}

/** Reads accounts outside a transaction. */
/** What an authenticated request needs to know of its account, as it is now. */
export interface AccountAccess {
  role: UserRole;
  /** Access tokens issued before this are no longer honoured (the account was taken over). */
  sessionsValidAfter: Date | null;
}

export interface UserReader {
  findById(id: string): Promise<User | null>;
  /** The bcrypt cost most stored password hashes have, or `null` when there are none. */
  mostCommonPasswordCost(): Promise<number | null>;
  /** The account's role and session cut-off, or `null` when it does not exist (any more). */
  findAccess(id: string): Promise<AccountAccess | null>;
  findCredentialsByEmail(email: string): Promise<{ user: User; passwordHash: string } | null>;
}

/** Accounts as a transaction changes them. */
export interface UserRepository extends UserReader {
  /** Inserts the user, or answers `null` when the e-mail is taken (waiting for a concurrent insert to settle). */
  insertIfEmailFree(user: NewUser): Promise<User | null>;
  markEmailVerified(id: string, at: Date): Promise<void>;
  setRole(id: string, role: UserRole): Promise<void>;
  /** Replaces the password hash with a stronger one of the same password, unless it changed meanwhile. */
  upgradePasswordHash(id: string, from: string, to: string): Promise<void>;
  /** Gives the account to whoever now holds `passwordHash`: sets it and the role, and ends every access token issued before `at`. */
  takeOver(id: string, change: { passwordHash: string; role: UserRole; at: Date }): Promise<void>;
}
