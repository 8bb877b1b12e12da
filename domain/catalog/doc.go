// Package catalog is the shop's catalog: categories, brands and items, three small event-sourced
// aggregates that share this package. An item is what a seller makes a product from.
//
// Business rules:
//
//   - Only a SUPERVISOR creates, renames or edits anything in the catalog; anyone else is Forbidden.
//   - A category or brand name has 1 to 50 characters, an item name 1 to 100, an item description
//     up to 2,000 (it may be empty). Characters are counted, not bytes; surrounding space is trimmed
//     and a blank name is refused. Every failing field is named in one Invalid error.
//   - An item belongs to one category and one brand; that they exist is the caller's fact to check
//     before it calls CreateItem or Item.Edit.
//   - Renaming to the current name, or editing an item to its current values, changes nothing.
//
// Streams are "category-<id>", "brand-<id>" and "item-<id>". Catalog creates are package functions:
// the caller appends them to a stream that must not exist yet.
package catalog
