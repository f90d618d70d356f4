import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProfile } from '../../src/application/get-profile.js';
import {
  MAX_REFERENCE_LENGTH,
  topUpWallet,
  type TopUpWalletInput,
} from '../../src/application/top-up-wallet.js';
import { MAX_TOP_UP_CENTS } from '../../src/domain/ledger.js';
import { expectDomainError } from '../support/errors.js';
import { startGround, type Ground } from '../support/ground.js';
import { balanceOf, ledgerOf } from '../support/wallet.js';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

const topUp = (input: TopUpWalletInput) => topUpWallet({ uow: ground.uow, logger: ground.logger }, input);
const reference = () => `pay-${randomUUID()}`;

/** Balance and ledger of the users, and every top-up row of the ground. */
async function state(...userIds: string[]) {
  return {
    users: await Promise.all(
      userIds.map(async (userId) => ({
        balance: await balanceOf(ground, userId),
        ledger: await ledgerOf(ground, userId),
      })),
    ),
    topUps: await ground.db
      .selectFrom('transactions')
      .selectAll()
      .where('type', '=', 'top_up')
      .orderBy('id')
      .execute(),
  };
}

describe('topUpWallet', () => {
  it('credits the wallet with a top_up entry and answers it with the balance after', async () => {
    const userId = await ground.newUser();
    const ref = reference();

    const first = await topUp({ userId, amountCents: 2500, reference: ref, actorId: randomUUID() });
    const second = await topUp({ userId, amountCents: 700, reference: reference() });

    expect(first).toEqual({
      entry: {
        id: expect.any(String),
        userId,
        type: 'top_up',
        amountCents: 2500,
        balanceAfterCents: 2500,
        orderId: null,
        reference: ref,
        createdAt: expect.any(String),
      },
      replayed: false,
    });
    expect(second.entry).toMatchObject({ amountCents: 700, balanceAfterCents: 3200 });
    expect(await balanceOf(ground, userId)).toBe(3200);
    expect((await getProfile({ users: ground.readers.users }, userId)).balanceCents).toBe(3200);
    const ledger = await ledgerOf(ground, userId);
    expect(
      ledger.map((row) => [row.id, row.seq, row.type, row.amount_cents, row.balance_after_cents]),
    ).toEqual([
      [first.entry.id, 1, 'top_up', 2500, 2500],
      [second.entry.id, 2, 'top_up', 700, 3200],
    ]);
    expect(ledger[0]!.created_at.toISOString()).toBe(first.entry.createdAt);
  });

  it('replays the first entry for the same reference, user and amount, crediting nothing', async () => {
    const userId = await ground.newUser();
    const ref = reference();
    const first = await topUp({ userId, amountCents: 1000, reference: ref });
    await topUp({ userId, amountCents: 50, reference: reference() });
    const before = await state(userId);

    const again = await topUp({ userId, amountCents: 1000, reference: ref });
    // The reference is trimmed before it is compared (and stored).
    const padded = await topUp({ userId, amountCents: 1000, reference: `  ${ref}\t` });

    expect(again).toEqual({ entry: first.entry, replayed: true });
    expect(padded).toEqual({ entry: first.entry, replayed: true });
    expect(await state(userId)).toEqual(before);
    expect(await balanceOf(ground, userId)).toBe(1050);
  });

  it('IDEMPOTENCY_KEY_REUSED for the same reference with another amount, changing nothing', async () => {
    const userId = await ground.newUser();
    const ref = reference();
    await topUp({ userId, amountCents: 1000, reference: ref });
    const before = await state(userId);

    await expectDomainError(topUp({ userId, amountCents: 1001, reference: ref }), 'IDEMPOTENCY_KEY_REUSED', {
      field: 'reference',
    });

    expect(await state(userId)).toEqual(before);
  });

  it('IDEMPOTENCY_KEY_REUSED for the same reference for another user, changing nothing', async () => {
    const alice = await ground.newUser();
    const bob = await ground.newUser();
    const ref = reference();
    await topUp({ userId: alice, amountCents: 1000, reference: ref });
    const before = await state(alice, bob);

    await expectDomainError(
      topUp({ userId: bob, amountCents: 1000, reference: ref }),
      'IDEMPOTENCY_KEY_REUSED',
      {
        field: 'reference',
      },
    );

    expect(await state(alice, bob)).toEqual(before);
    expect(await balanceOf(ground, bob)).toBe(0);
  });

  it('credits once when the same top-up arrives concurrently', async () => {
    const userId = await ground.newUser();
    const ref = reference();

    const results = await Promise.all(
      Array.from({ length: 6 }, () => topUp({ userId, amountCents: 900, reference: ref })),
    );

    expect(results.filter((result) => !result.replayed)).toHaveLength(1);
    expect(new Set(results.map((result) => result.entry.id)).size).toBe(1);
    expect(await balanceOf(ground, userId)).toBe(900);
    expect(await ledgerOf(ground, userId)).toHaveLength(1);
  });

  it('credits one of two users racing for one reference, and refuses the other', async () => {
    const alice = await ground.newUser();
    const bob = await ground.newUser();
    const ref = reference();

    const results = await Promise.allSettled([
      topUp({ userId: alice, amountCents: 900, reference: ref }),
      topUp({ userId: bob, amountCents: 900, reference: ref }),
    ]);

    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((result) => result.status === 'rejected');
    expect(refused?.reason).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await balanceOf(ground, alice)) + (await balanceOf(ground, bob))).toBe(900);
  });

  it('USER_NOT_FOUND for an unknown user, and the reference stays free', async () => {
    const ref = reference();
    const before = await state();

    await expectDomainError(
      topUp({ userId: randomUUID(), amountCents: 1000, reference: ref }),
      'USER_NOT_FOUND',
    );

    expect(await state()).toEqual(before);
    const userId = await ground.newUser();
    expect((await topUp({ userId, amountCents: 1000, reference: ref })).replayed).toBe(false);
  });

  it.each([0, -100, 10.5, MAX_TOP_UP_CENTS + 1, Number.NaN, Number.POSITIVE_INFINITY])(
    'VALIDATION_FAILED naming amountCents for %s',
    async (amountCents) => {
      const userId = await ground.newUser();
      const before = await state(userId);

      await expectDomainError(topUp({ userId, amountCents, reference: reference() }), 'VALIDATION_FAILED', {
        field: 'amountCents',
      });

      expect(await state(userId)).toEqual(before);
    },
  );

  it('accepts 1 cent and the largest top-up', async () => {
    const userId = await ground.newUser();

    await topUp({ userId, amountCents: 1, reference: reference() });
    await topUp({ userId, amountCents: MAX_TOP_UP_CENTS, reference: reference() });

    expect(await balanceOf(ground, userId)).toBe(MAX_TOP_UP_CENTS + 1);
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['too long', 'r'.repeat(MAX_REFERENCE_LENGTH + 1)],
  ])('VALIDATION_FAILED naming reference for a %s one', async (_, ref) => {
    const userId = await ground.newUser();
    const before = await state(userId);

    await expectDomainError(topUp({ userId, amountCents: 100, reference: ref }), 'VALIDATION_FAILED', {
      field: 'reference',
    });

    expect(await state(userId)).toEqual(before);
  });

  it(`accepts a reference of ${MAX_REFERENCE_LENGTH} characters`, async () => {
    const userId = await ground.newUser();
    const ref = `${randomUUID()}${'r'.repeat(MAX_REFERENCE_LENGTH - 36)}`;

    const { entry } = await topUp({ userId, amountCents: 100, reference: ref });

    expect(entry.reference).toBe(ref);
  });
});
