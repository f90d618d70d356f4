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

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
