/** Every stable error code a client may see. The HTTP adapter maps each to a status in one table. */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'INVALID_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'ROUTE_NOT_FOUND'
  | 'RATE_LIMITED'
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
  | 'INTERNAL_ERROR'
  | 'SERVICE_UNAVAILABLE';

/** A rule of the shop was broken; `code` is stable, the message is for humans. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
