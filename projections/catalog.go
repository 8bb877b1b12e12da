package projections

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// Catalog builds the catalog read model: categories, brands, items, and every product in every
// status with the names of its item, brand and category, its seller, price, stock, status, and the
// average rating and number of its live reviews.
//
// Queries see only SELL and SOLD_OUT products in the public catalog; the partial indexes below
// cover exactly those, for search by name, the category, brand and price filters, and the sorts
// by price, newest and rating.
type Catalog struct{}

// NewCatalog returns the catalog projector.
func NewCatalog() *Catalog { return &Catalog{} }

// Name returns "catalog.v1".
func (*Catalog) Name() string { return "catalog.v1" }

// Tables returns the catalog's tables.
func (*Catalog) Tables() []string {
	return []string{"categories", "brands", "items", "products", "product_ratings", "catalog_counts"}
}

// catalogVisible is the predicate of the public catalog's partial indexes; readmodels repeats it
// word for word so that the planner can use them.
const catalogVisible = `status IN ('SELL', 'SOLD_OUT')`

const catalogTables = `
CREATE TABLE IF NOT EXISTS categories (
	id         uuid PRIMARY KEY,
	name       text NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS brands (
	id         uuid PRIMARY KEY,
	name       text NOT NULL,
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
	id          uuid PRIMARY KEY,
	category_id uuid NOT NULL,
	brand_id    uuid NOT NULL,
	name        text NOT NULL,
	description text NOT NULL,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS items_category_idx ON items (category_id);
CREATE INDEX IF NOT EXISTS items_brand_idx ON items (brand_id);
-- fillfactor leaves room on each page so that stock updates (no indexed column) stay HOT.
CREATE TABLE IF NOT EXISTS products (
	id            uuid PRIMARY KEY,
	seller_id     uuid NOT NULL,
	item_id       uuid NOT NULL,
	item_name     text NOT NULL,
	category_id   uuid NOT NULL,
	category_name text NOT NULL,
	brand_id      uuid NOT NULL,
	brand_name    text NOT NULL,
	name          text NOT NULL,
	price         bigint NOT NULL,
	stock         integer NOT NULL,
	status        text NOT NULL,
	rating_sum    bigint NOT NULL DEFAULT 0,
	review_count  integer NOT NULL DEFAULT 0,
	avg_rating    numeric(3, 2) NOT NULL DEFAULT 0,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS products_seller_idx ON products (seller_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS products_item_idx ON products (item_id);
CREATE INDEX IF NOT EXISTS products_category_all_idx ON products (category_id);
CREATE INDEX IF NOT EXISTS products_brand_all_idx ON products (brand_id);
-- The public catalog: one index per sort, alone and after the category or brand filter, so that
-- a page is the first rows of one index range and a count is an index-only scan.
CREATE INDEX IF NOT EXISTS products_catalog_newest_idx ON products (created_at DESC, id DESC) WHERE ` + catalogVisible + `;
CREATE INDEX IF NOT EXISTS products_catalog_price_idx ON products (price, id) WHERE ` + catalogVisible + `;
CREATE INDEX IF NOT EXISTS products_catalog_rating_idx ON products (avg_rating DESC, review_count DESC, id) WHERE ` + catalogVisible + `;
CREATE INDEX IF NOT EXISTS products_catalog_category_newest_idx ON products (category_id, created_at DESC, id DESC) WHERE ` + catalogVisible + `;
CREATE INDEX IF NOT EXISTS products_catalog_category_price_idx ON products (category_id, price, id) WHERE ` + catalogVisible + `;
CREATE INDEX IF NOT EXISTS products_catalog_category_rating_idx ON products (category_id, avg_rating DESC, review_count DESC, id) WHERE ` + catalogVisible + `;
CREATE INDEX IF NOT EXISTS products_catalog_brand_newest_idx ON products (brand_id, created_at DESC, id DESC) WHERE ` + catalogVisible + `;
CREATE INDEX IF NOT EXISTS products_catalog_brand_price_idx ON products (brand_id, price, id) WHERE ` + catalogVisible + `;
CREATE INDEX IF NOT EXISTS products_catalog_brand_rating_idx ON products (brand_id, avg_rating DESC, review_count DESC, id) WHERE ` + catalogVisible + `;
-- The number of visible products of each category and brand that has products: the catalog's
-- total for a page without a search or price filter is a sum over a few rows instead of a count
-- of every product.
CREATE TABLE IF NOT EXISTS catalog_counts (
	category_id uuid NOT NULL,
	brand_id    uuid NOT NULL,
	visible     bigint NOT NULL,
	PRIMARY KEY (category_id, brand_id)
);
CREATE TABLE IF NOT EXISTS product_ratings (
	review_id  uuid PRIMARY KEY,
	product_id uuid NOT NULL,
	rating     integer NOT NULL
);
`

// The name search index: trigrams when pg_trgm is installed (migration 00310 installs it into
// public), else lower(name) for prefix searches.
const (
	catalogTrigramIndex = `CREATE INDEX IF NOT EXISTS products_catalog_name_idx ON products USING gin (name public.gin_trgm_ops) WHERE ` + catalogVisible
	catalogPrefixIndex  = `CREATE INDEX IF NOT EXISTS products_catalog_name_idx ON products (lower(name) text_pattern_ops) WHERE ` + catalogVisible
)

// Setup creates the catalog's tables and indexes.
func (*Catalog) Setup(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, catalogTables); err != nil {
		return fmt.Errorf("create catalog tables: %w", err)
	}
	var trgm bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm' AND extnamespace = 'public'::regnamespace)`).Scan(&trgm); err != nil {
		return fmt.Errorf("look for pg_trgm: %w", err)
	}
	index := catalogPrefixIndex
	if trgm {
		index = catalogTrigramIndex
	}
	if _, err := tx.Exec(ctx, index); err != nil {
		return fmt.Errorf("create catalog name index: %w", err)
	}
	return nil
}

// DeferredIndexes names the indexes only queries use, which a rebuild builds after its replay:
// the public catalog's, the seller's and the name search's. The ones the catalog's own statements
// look rows up by (the keys, products by item, category and brand for renames) stay.
func (*Catalog) DeferredIndexes() []string {
	return []string{
		"items_category_idx", "items_brand_idx", "products_seller_idx",
		"products_catalog_newest_idx", "products_catalog_price_idx", "products_catalog_rating_idx",
		"products_catalog_category_newest_idx", "products_catalog_category_price_idx", "products_catalog_category_rating_idx",
		"products_catalog_brand_newest_idx", "products_catalog_brand_price_idx", "products_catalog_brand_rating_idx",
		"products_catalog_name_idx",
	}
}

// The statements of the catalog's entity and rating events, one per event (products are folded:
// see catalogBatch).
const (
	sqlCategoryCreated = `INSERT INTO categories (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)`
	sqlCategoryRenamed = `WITH c AS (UPDATE categories SET name = $2, updated_at = $3 WHERE id = $1)
UPDATE products SET category_name = $2 WHERE category_id = $1`
	sqlBrandCreated = `INSERT INTO brands (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)`
	sqlBrandRenamed = `WITH b AS (UPDATE brands SET name = $2, updated_at = $3 WHERE id = $1)
UPDATE products SET brand_name = $2 WHERE brand_id = $1`
	sqlItemCreated = `INSERT INTO items (id, category_id, brand_id, name, description, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)`
	sqlItemEdited = `WITH i AS (UPDATE items SET category_id = $2, brand_id = $3, name = $4, description = $5, updated_at = $6 WHERE id = $1)
UPDATE products SET item_name = $4 WHERE item_id = $1 AND item_name <> $4`
	sqlRatingWritten = `WITH r AS (INSERT INTO product_ratings (review_id, product_id, rating) VALUES ($1, $2, $3))
UPDATE products SET rating_sum = rating_sum + $3, review_count = review_count + 1,
	avg_rating = round((rating_sum + $3)::numeric / (review_count + 1), 2)
WHERE id = $2`
	// The CTEs see the rating before the update: every part of a statement reads one snapshot.
	sqlRatingEdited = `WITH old AS (SELECT product_id, rating FROM product_ratings WHERE review_id = $1),
r AS (UPDATE product_ratings SET rating = $2 WHERE review_id = $1)
UPDATE products p SET rating_sum = p.rating_sum - old.rating + $2,
	avg_rating = round((p.rating_sum - old.rating + $2)::numeric / p.review_count, 2)
FROM old WHERE p.id = old.product_id AND p.review_count > 0`
	sqlRatingDeleted = `WITH old AS (DELETE FROM product_ratings WHERE review_id = $1 RETURNING product_id, rating)
UPDATE products p SET rating_sum = p.rating_sum - old.rating, review_count = p.review_count - 1,
	avg_rating = CASE WHEN p.review_count > 1 THEN round((p.rating_sum - old.rating)::numeric / (p.review_count - 1), 2) ELSE 0 END
FROM old WHERE p.id = old.product_id`
)

func (c *Catalog) plan(rec eventstore.Record) (statement, bool, error) {
	switch {
	case strings.HasPrefix(rec.Type, "catalog."):
		return c.planCatalog(rec)
	case strings.HasPrefix(rec.Type, "review."):
		return c.planReview(rec)
	}
	return statement{}, false, nil
}

func (*Catalog) planCatalog(rec eventstore.Record) (statement, bool, error) {
	e, err := catalog.Decode(rec.Type, rec.Data)
	if err != nil {
		return ignoreUnknown(err)
	}
	switch e := e.(type) {
	case catalog.CategoryCreated:
		return statement{sqlCategoryCreated, []any{e.CategoryID, e.Name, e.At}}, true, nil
	case catalog.CategoryRenamed:
		return statement{sqlCategoryRenamed, []any{e.CategoryID, e.Name, e.At}}, true, nil
	case catalog.BrandCreated:
		return statement{sqlBrandCreated, []any{e.BrandID, e.Name, e.At}}, true, nil
	case catalog.BrandRenamed:
		return statement{sqlBrandRenamed, []any{e.BrandID, e.Name, e.At}}, true, nil
	case catalog.ItemCreated:
		return statement{sqlItemCreated, []any{e.ItemID, e.CategoryID, e.BrandID, e.Name, e.Description, e.At}}, true, nil
	case catalog.ItemEdited:
		return statement{sqlItemEdited, []any{e.ItemID, e.CategoryID, e.BrandID, e.Name, e.Description, e.At}}, true, nil
	}
	return statement{}, false, nil
}

func (*Catalog) planReview(rec eventstore.Record) (statement, bool, error) {
	e, err := review.Decode(rec.Type, rec.Data)
	if err != nil {
		return ignoreUnknown(err)
	}
	switch e := e.(type) {
	case review.Written:
		return statement{sqlRatingWritten, []any{e.ReviewID, e.ProductID, e.Rating}}, true, nil
	case review.Edited:
		return statement{sqlRatingEdited, []any{e.ReviewID, e.Rating}}, true, nil
	case review.Deleted:
		return statement{sqlRatingDeleted, []any{e.ReviewID}}, true, nil
	}
	return statement{}, false, nil
}
