import { describe, expect, it } from 'vitest';
import { assertCartQuantity, cartOf, MAX_QTY_PER_GAME, planCartMerge } from '../../src/domain/cart.js';
import { planWishlistMerge } from '../../src/domain/wishlist.js';

const line = (gameId: string, quantity: number, state: { inStock?: boolean; delisted?: boolean } = {}) => ({
  gameId,
  quantity,
  inStock: state.inStock ?? true,
  delisted: state.delisted ?? false,
});

describe('assertCartQuantity', () => {
  it('accepts 1 to 10 units', () => {
    expect(MAX_QTY_PER_GAME).toBe(10);
    expect(() => assertCartQuantity(1)).not.toThrow();
    expect(() => assertCartQuantity(10)).not.toThrow();
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses %s as malformed', (quantity) => {
    expect(() => assertCartQuantity(quantity)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', details: { field: 'quantity' } }),
    );
  });

  it.each([11, 1e9])('refuses %s as over the limit', (quantity) => {
    expect(() => assertCartQuantity(quantity)).toThrow(expect.objectContaining({ code: 'QUANTITY_LIMIT' }));
  });
});

describe('planCartMerge', () => {
  it('moves disjoint lines, sums the same game and caps the sum at 10', () => {
    const plan = planCartMerge(
      [line('same', 3), line('capped', 4), line('new', 2)],
      [line('same', 2), line('capped', 9), line('mine', 1)],
    );
    expect(plan.merged).toEqual([
      { gameId: 'same', guestQuantity: 3, quantity: 5 },
      { gameId: 'capped', guestQuantity: 4, quantity: 10 },
      { gameId: 'new', guestQuantity: 2, quantity: 2 },
    ]);
    expect(plan.capped).toEqual([{ gameId: 'capped', requested: 13, quantity: 10 }]);
    expect(plan.skipped).toEqual([]);
  });

  it('skips guest lines the shop cannot sell, saying why', () => {
    const plan = planCartMerge(
      [line('gone', 1, { inStock: false, delisted: true }), line('sold-out', 2, { inStock: false })],
      [line('sold-out', 1)],
    );
    expect(plan.merged).toEqual([]);
    expect(plan.skipped).toEqual([
      { gameId: 'gone', reason: 'delisted' },
      { gameId: 'sold-out', reason: 'out_of_stock' },
    ]);
  });
});

describe('planWishlistMerge', () => {
  it('adds new games and skips the ones the user already wished for', () => {
    expect(planWishlistMerge(['a', 'b', 'c'], ['b', 'z'])).toEqual({
      merged: ['a', 'c'],
      skipped: [{ gameId: 'b', reason: 'already_in_wishlist' }],
    });
  });
});

describe('cartOf', () => {
  it('totals every line at its current price in EUR', () => {
    const game = { name: 'g', slug: 'g', thumbnail: null, inStock: true, delisted: false };
    const cart = cartOf([
      { ...game, gameId: 'a', quantity: 3, unitPriceCents: 1020 },
      { ...game, gameId: 'b', quantity: 1, unitPriceCents: 5999 },
    ]);
    expect(cart.totalCents).toBe(9059);
    expect(cart.currency).toBe('EUR');
    expect(cart.items.map((i) => i.lineTotalCents)).toEqual([3060, 5999]);
  });
});
