import type { User } from '../../domain/user.js';

export function toUserDto(user: User) {
  return {
    id: user.id,
    email: user.email,
    nickname: user.nickname,
    firstName: user.firstName,
    lastName: user.lastName,
    role: user.role,
    emailVerified: user.emailVerified,
    createdAt: user.createdAt.toISOString(),
  };
}
