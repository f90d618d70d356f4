import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';

// The reference point of bench:catalog: what Fastify itself costs on this machine for a small JSON answer.
const app = Fastify({ logger: false });

app.get('/health', async () => ({ status: 'ok' }));
app.get<{ Params: { id: string } }>('/games/:id', async (request) => ({
  id: request.params.id,
  name: 'Bare Fastify',
  priceCents: 1020,
  currency: 'EUR',
  inStock: true,
}));

// The same answer with the response headers every shop answer carries (security headers, CORS, request id):
// what those headers alone cost Node and Fastify.
const SHOP_HEADERS = {
  vary: 'Origin',
  'access-control-expose-headers': 'X-Request-Id, Retry-After, Idempotent-Replayed',
  'content-security-policy': "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};
app.get<{ Params: { id: string } }>('/with-headers/games/:id', async (request, reply) => {
  void reply.headers(SHOP_HEADERS).header('x-request-id', randomUUID());
  return { id: request.params.id, name: 'Bare Fastify', priceCents: 1020, currency: 'EUR', inStock: true };
});

// The floor of a cached read: the shop's exact answer text (`FLOOR_GAME_JSON`, `FLOOR_PAGE_JSON`, given by the
// benchmark) with the shop's headers, and nothing else: no routing of its own, no hooks, no cache.
for (const [path, text] of [
  ['/floor/game', process.env.FLOOR_GAME_JSON],
  ['/floor/page', process.env.FLOOR_PAGE_JSON],
] as const) {
  if (text === undefined) continue;
  app.get(path, (_request, reply) => {
    void reply
      .headers(SHOP_HEADERS)
      .header('x-request-id', randomUUID())
      .type('application/json; charset=utf-8')
      .send(text);
  });
}

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
