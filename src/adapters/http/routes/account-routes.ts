import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { User } from '../../../domain/user.js';
import { takeAttempt, type AttemptLimits } from '../attempt-limits.js';
import { toUserDto } from '../dto.js';
import { errors, ProfileSchema } from '../schemas.js';

export interface AccountUseCases {
  startGuestSession(): Promise<{ sessionId: string }>;
  getProfile(userId: string): Promise<User>;
}

export const accountRoutes: FastifyPluginAsyncTypebox<{
  useCases: AccountUseCases;
  limits: Pick<AttemptLimits, 'guestSessions'>;
}> = async (app, { useCases, limits }) => {
  app.post(
    '/sessions',
    {
      preHandler: takeAttempt(limits.guestSessions),
      schema: {
        tags: ['auth'],
        summary: 'Start a guest session (send it back as X-Session-Id)',
        description:
          'Limited per client address (`GUEST_SESSION_RATE_LIMIT_PER_IP` a minute, default 60): beyond it 429 `RATE_LIMITED` with `Retry-After`.',
        response: { 201: Type.Object({ sessionId: Type.String() }), ...errors(429) },
      },
    },
    async (_request, reply) => reply.status(201).send(await useCases.startGuestSession()),
  );

  app.get(
    '/me',
    {
      onRequest: app.requireUser,
      schema: {
        tags: ['account'],
        summary: 'The signed-in user with the wallet balance',
        security: [{ bearerAuth: [] }],
        response: { 200: ProfileSchema, ...errors(401) },
      },
    },
    async (request) => {
      const user = await useCases.getProfile(request.user.sub);
      return { ...toUserDto(user), balanceCents: user.balanceCents };
    },
  );
};
