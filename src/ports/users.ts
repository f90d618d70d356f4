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
export interface UserReader {
  findById(id: string): Promise<User | null>;
  findCredentialsByEmail(email: string): Promise<{ user: User; passwordHash: string } | null>;
}

/** Accounts as a transaction changes them. */
export interface UserRepository extends UserReader {
  /** Inserts the user, or answers `null` when the e-mail is taken (waiting for a concurrent insert to settle). */
  insertIfEmailFree(user: NewUser): Promise<User | null>;
  markEmailVerified(id: string, at: Date): Promise<void>;
  setRole(id: string, role: UserRole): Promise<void>;
}
