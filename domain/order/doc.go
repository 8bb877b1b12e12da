// Package order is the order aggregate: one stream per order ("order-<id>") with its user, the
// delivery address as it was, and its lines, each a product with the seller, name and unit price
// it had when ordered.
//
// Business rules:
//
//   - Only a USER places an order, for themself (Forbidden USER_ONLY).
//   - Place makes a PENDING order of 1 to 50 lines, one line per product, each of quantity 1 to 100;
//     lines are numbered from 1 in the order given; the total is the sum of unit price times
//     quantity. Every product must exist (UNKNOWN_PRODUCT) and be on sale (PRODUCT_NOT_ON_SALE);
//     prices, names and sellers are the products' own, passed in as each product's Offer by the
//     caller, who reads the products' current streams.
//   - A PENDING order becomes ORDER when stock was reserved for every line (Confirm: every line
//     ORDER, delivery READY) or REJECT when it could not be (Reject with a reason such as
//     OUT_OF_STOCK). Confirming a confirmed order or rejecting a rejected one changes nothing, so the
//     fulfilment process can be redelivered; the other way round is a Conflict.
//   - Line status: ORDER goes to ACCEPT or REJECT (the seller); ORDER or ACCEPT goes to CANCELING
//     (the order's user, only while the line's delivery is READY); CANCELING goes to CANCEL (the
//     seller). Delivery: READY goes to DELIVERY when the seller ships an ACCEPT line, then to
//     COMPLETE when the seller marks it delivered.
//   - A seller acts only on lines of their own products; a SUPERVISOR may act as any seller.
//     Another seller's line is NotFound, as is another user's order.
//   - Every other transition, and every line transition of an order that is not ORDER, is a
//     Conflict (INVALID_TRANSITION) and writes nothing.
//   - A rejected or cancelled line gives its stock back (product.Release) and a delivered line
//     spends it (product.Commit); the line events carry the product and quantity for that.
package order
