// Package review is the review aggregate: one stream per reviewed order line ("review-<id>"; the
// caller derives the id from the order id and line number, so a line has one review stream).
//
// Business rules:
//
//   - Only the order's USER writes a review; for anyone else the order is NotFound.
//   - Only a line that is ACCEPT with delivery COMPLETE can be reviewed (the line's state is a fact
//     the caller passes in); a line in any other state (ORDER, REJECT, CANCELING, CANCEL, not
//     delivered yet, or of an order never confirmed) is Invalid LINE_NOT_REVIEWABLE: the request
//     asks for something the line can never give it, not a change the line's state forbids.
//   - Rating is 1 to 5; content has 1 to 2,000 characters (characters, not bytes; trimmed).
//   - One review per line: writing where a live review exists is a Conflict. A deleted review may
//     be written again.
//   - Only the author edits or deletes; for anyone else, and once deleted, the review is NotFound.
//     Editing to the same rating and content changes nothing.
package review
