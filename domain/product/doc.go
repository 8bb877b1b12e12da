// Package product is the inventory aggregate: one stream per product ("product-<id>") that holds
// its catalog facts (seller, item, name, price), its status and its stock, and that every order
// reserves from. Overselling is prevented by appending to this one stream with an expected
// version, not by reading stock elsewhere.
//
// Business rules:
//
//   - A SELLER creates a product for themself (a SUPERVISOR may create one for any seller) from an
//     item, with a name of 1 to 100 characters, a price of 1 to 100,000,000 KRW and a stock of 0 to
//     1,000,000. It starts REGISTERED.
//   - Only the owning seller, or a SUPERVISOR, edits it, changes its status or restocks it; anyone
//     else is Forbidden. An unknown product is NotFound.
//   - Status: REGISTERED, SELL, SOLD_OUT and UNREGISTERED. The seller may ask for SELL, SOLD_OUT or
//     UNREGISTERED from any status but UNREGISTERED, which is final. Asking for the current status
//     changes nothing.
//   - Restock adds a positive quantity. Stock plus open reservations never exceeds 1,000,000
//     (Conflict STOCK_LIMIT), so that stock coming back from reservations cannot pass it either.
//   - Reserve(order, quantity) sets stock aside for an order: only while SELL, never below 0, and
//     once per order: a second Reserve for an order that holds a reservation changes nothing. A
//     short line, or a product sold out by itself, is Conflict OUT_OF_STOCK; a product the seller
//     has not put on sale or took off sale is Conflict NOT_ON_SALE. The code is the order's reject
//     reason.
//   - Release(order) gives back exactly what that order reserved, exactly once: the reservation is
//     gone after it, so a second Release changes nothing. Releasing works in every status.
//   - Commit(order) spends a reservation for good when its line is delivered: the stock does not
//     change, the reservation is gone, and the order can no longer release.
//   - Sold out by itself: when a reservation takes stock to 0 the product becomes SOLD_OUT with
//     Auto set; when a release or a restock makes stock positive again it returns to SELL by itself.
//     A product the seller set SOLD_OUT stays SOLD_OUT whatever its stock. Asking for SELL with no
//     stock makes the product sold out by itself, so it goes on sale as soon as stock arrives; a
//     SELL product therefore always has stock.
//
// Bounded state: a product's state must not grow with its history, because a popular product's
// stream gets one reservation per order for as long as it is sold. Reservations holds only the
// reservations that can still be released: an order's entry is added by StockReserved and removed
// by StockReleased (the order was rejected, or its line was rejected or cancelled: the stock came
// back) and by ReservationCommitted (the line was delivered: the stock is spent). A line that is
// rejected, cancelled or delivered can no longer release, so nothing about it is kept. The state is
// therefore as large as the number of orders in flight, not the number of orders ever placed.
// The price of forgetting: after its reservation is released or committed, the product does not
// remember the order, and a new Reserve for it would reserve again. The order aggregate is the
// guard: the fulfilment process reserves only for a PENDING order, and an order leaves PENDING
// (Confirm or Reject, both idempotent) before any of its reservations is released or committed.
// On a short line it should therefore append the order's Rejected first and release after (in
// reaction to Rejected), so that a redelivery never reserves for an order it has released.
//
// Evolve copies the reservations map before it changes it, so a state held by a cache or by a
// caller is never modified; Fold and FoldFrom copy once for a whole history, and a writer deciding
// a batch copies once with Own and applies each decision's events with Apply.
package product
