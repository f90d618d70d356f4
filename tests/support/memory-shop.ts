import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryCache } from '../../src/adapters/memory/in-memory-cache.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import type { CartOwner } from '../../src/domain/cart.js';
import { MemoryCatalog } from './memory-catalog.js';

/** In-memory adapters with a catalogue, a user and a guest session: the ground of cart and wishlist tests. */
export async function memoryShopWithOwners() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const cache = new InMemoryCache({ now: () => clock.now().getTime() });
  const uow = new InMemoryUnitOfWork({ clock, cache });
  const catalog = new MemoryCatalog(uow);
  const user = await uow.repositories.users.insertIfEmailFree({
    email: 'alice@example.com',
    passwordHash: 'hash',
    nickname: null,
    firstName: null,
    lastName: null,
  });
  await uow.repositories.guestSessions.insert({ id: 'guest-1', expiresAt: new Date('2026-03-31T12:00:00Z') });
  const owners: Record<CartOwner['kind'], CartOwner> = {
    user: { kind: 'user', userId: user!.id },
    guest: { kind: 'guest', sessionId: 'guest-1' },
  };
  return { clock, cache, uow, catalog, owners, deps: { uow } };
}
