/**
 * Every stable code a rule of the shop can break. Transport codes (malformed JSON, unknown route, …) belong to
 * the HTTP adapter, which maps both to statuses in one table.
 */
export type DomainErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'SESSION_REQUIRED'
  | 'EMAIL_TAKEN'
  | 'INVALID_CREDENTIALS'
  | 'TOKEN_REUSED'
  | 'INVALID_TOKEN'
  | 'USER_NOT_FOUND'
  | 'GAME_NOT_FOUND'
  | 'CART_ITEM_NOT_FOUND'
  | 'OUT_OF_STOCK'
  | 'QUANTITY_LIMIT'
  | 'SYNC_IN_PROGRESS'
  | 'MERGE_FAILED'
  | 'CART_EMPTY'
  | 'INSUFFICIENT_FUNDS'
  | 'ORDER_NOT_FOUND'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_USE'
  | 'INVALID_SIGNATURE';

/** A rule of the shop was broken; `code` is stable, the message is for humans. */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
