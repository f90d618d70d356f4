import { DomainError } from '../domain/errors.js';
import type { User } from '../domain/user.js';
import type { UserReader } from '../ports/users.js';

export async function getProfile(deps: { users: UserReader }, userId: string): Promise<User> {
  const user = await deps.users.findById(userId);
  // A valid token for a user that no longer exists is as good as no token.
  if (!user) throw new DomainError('UNAUTHORIZED', 'the account of this token no longer exists');
  return user;
}
