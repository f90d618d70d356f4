import { getOrder, type GetOrderInput } from '../application/get-order.js';
import { listOrders, type ListOrdersInput } from '../application/list-orders.js';
import { listTransactions } from '../application/list-transactions.js';
import { placeOrder, type PlaceOrderInput } from '../application/place-order.js';
import { purgeIdempotencyKeys } from '../application/purge-idempotency-keys.js';
import { refundOrder, type RefundOrderInput } from '../application/refund-order.js';
import { topUpWallet, type TopUpWalletInput } from '../application/top-up-wallet.js';
import type { Logger } from '../ports/logger.js';
import type { Infrastructure } from './infrastructure.js';

/** The wallet, its ledger, checkout and orders. */
export function ordersFeature(infra: Infrastructure) {
  const { uow, cache, clock, readers } = infra;
  return {
    purgeIdempotencyKeys: () => purgeIdempotencyKeys({ uow, clock, logger: infra.logger }),
    useCases: {
      placeOrder: (input: PlaceOrderInput, log: Logger = infra.logger) =>
        placeOrder({ uow, clock, logger: log }, input),
      listOrders: (input: ListOrdersInput) => listOrders({ orders: readers.orders, cache }, input),
      getOrder: (input: GetOrderInput) =>
        getOrder(
          { orders: readers.orders, cache, fulfilment: readers.fulfilment, vault: infra.vault },
          input,
        ),
      listTransactions: (input: { userId: string; page: number; pageSize: number }) =>
        listTransactions({ ledger: readers.ledger }, input),
      topUpWallet: (input: TopUpWalletInput, log: Logger = infra.logger) =>
        topUpWallet({ uow, logger: log }, input),
      refundOrder: (input: RefundOrderInput, log: Logger = infra.logger) =>
        refundOrder({ uow, logger: log }, input),
    },
  };
}
