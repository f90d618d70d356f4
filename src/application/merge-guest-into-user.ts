import {
  cartCacheKey,
  MAX_QTY_PER_GAME,
  planCartMerge,
  wishlistCacheKey,
  type CartMergePlan,
  type CartOwner,
} from '../domain/cart.js';
import { DomainError, type DomainErrorCode } from '../domain/errors.js';
import { planWishlistMerge, type WishlistMergePlan } from '../domain/wishlist.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';

export interface MergeGuestIntoUserInput {
  userId: string;
  sessionId: string;
}

/**
 * What a sign-in did with the guest's cart and wishlist. `merged` counts guest entries that moved to the user
 * (and left the guest session); everything in `skipped` stayed on the guest session and is tried again at the
 * next sign-in. With `error`, nothing moved.
 */
export interface MergeReport {
  cart: { merged: number; skipped: CartMergePlan['skipped']; capped: CartMergePlan['capped'] };
  wishlist: { merged: number; skipped: WishlistMergePlan['skipped'] };
  error?: { code: DomainErrorCode; message: string };
}

/** A merge as the sign-in use cases call it; it never rejects (a failure is reported in the result). */
export type MergeGuest = (input: MergeGuestIntoUserInput) => Promise<MergeReport>;

export interface MergeGuestIntoUserDeps {
  uow: UnitOfWork;
  clock: Clock;
  logger: Logger;
}

const FAILED_MERGE_MESSAGE =
  'the guest cart and wishlist could not be merged; they stay on the guest session and merge at the next sign-in';

function failedMerge(code: DomainErrorCode, message: string): MergeReport {
  return {
    cart: { merged: 0, skipped: [], capped: [] },
    wishlist: { merged: 0, skipped: [] },
    error: { code, message },
  };
}

/**
 * Moves a guest session's cart and wishlist to a user who just signed in, in one transaction that locks the
 * user, then the guest session, then both carts' lines. Same game in both carts: quantities summed, capped at
 * the per-game maximum. Guest lines of games the shop cannot sell now stay with the guest, as do wishlisted
 * games the user already has. Never rejects: a failure rolls everything back and comes back as `error`.
 */
export async function mergeGuestIntoUser(
  deps: MergeGuestIntoUserDeps,
  input: MergeGuestIntoUserInput,
): Promise<MergeReport> {
  const started = performance.now();
  const durationMs = () => Math.round((performance.now() - started) * 100) / 100;
  const log = deps.logger.child({ operation: 'cart.merge', userId: input.userId });
  const user: CartOwner = { kind: 'user', userId: input.userId };
  const guest: CartOwner = { kind: 'guest', sessionId: input.sessionId };
  try {
    const report = await deps.uow.run(async (scope): Promise<MergeReport> => {
      const owners = await scope.carts.lockOwnersForMerge(input.userId, input.sessionId, deps.clock.now());
      if (!owners.userFound)
        throw new DomainError('USER_NOT_FOUND', 'the account is gone; nothing was merged');
      if (!owners.sessionFound) {
        throw new DomainError(
          'SESSION_REQUIRED',
          'the guest session is unknown or expired; nothing was merged',
        );
      }

      const cart = planCartMerge(await scope.carts.lockedLines(guest), await scope.carts.lockedLines(user));
      for (const line of cart.merged) {
        await scope.carts.addCapped(user, line.gameId, line.guestQuantity, MAX_QTY_PER_GAME);
      }
      await scope.carts.remove(
        guest,
        cart.merged.map((line) => line.gameId),
      );

      const wishlist = planWishlistMerge(
        await scope.wishlists.gameIds(guest),
        await scope.wishlists.gameIds(user),
      );
      for (const gameId of wishlist.merged) await scope.wishlists.add(user, gameId);
      await scope.wishlists.remove(guest, wishlist.merged);

      const keys = [
        ...(cart.merged.length > 0 ? [cartCacheKey(user), cartCacheKey(guest)] : []),
        ...(wishlist.merged.length > 0 ? [wishlistCacheKey(user), wishlistCacheKey(guest)] : []),
      ];
      if (keys.length > 0) await scope.outbox.invalidate({ keys });
      return {
        cart: { merged: cart.merged.length, skipped: cart.skipped, capped: cart.capped },
        wishlist: { merged: wishlist.merged.length, skipped: wishlist.skipped },
      };
    });
    log.info(
      {
        outcome: report.cart.merged + report.wishlist.merged > 0 ? 'merged' : 'nothing_to_merge',
        cartMerged: report.cart.merged,
        cartSkipped: report.cart.skipped.length,
        cartCapped: report.cart.capped.length,
        wishlistMerged: report.wishlist.merged,
        wishlistSkipped: report.wishlist.skipped.length,
        durationMs: durationMs(),
      },
      'guest cart merged',
    );
    return report;
  } catch (error) {
    if (error instanceof DomainError) {
      log.warn({ outcome: 'rejected', code: error.code, durationMs: durationMs() }, error.message);
      return failedMerge(error.code, error.message);
    }
    log.error({ outcome: 'failed', err: error, durationMs: durationMs() }, 'guest cart merge failed');
    return failedMerge('MERGE_FAILED', FAILED_MERGE_MESSAGE);
  }
}
