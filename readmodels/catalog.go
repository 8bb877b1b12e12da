package readmodels

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/catalog"
	"github.com/commerce-dev/commerce/domain/product"
)

// Product is a product as the catalog and its seller see it.
type Product struct {
	ID           uuid.UUID      `json:"id"`
	Name         string         `json:"name"`
	Price        int64          `json:"price"`
	Stock        int            `json:"stock"`
	Status       product.Status `json:"status"`
	SellerID     uuid.UUID      `json:"seller_id"`
	ItemID       uuid.UUID      `json:"item_id"`
	ItemName     string         `json:"item_name"`
	CategoryID   uuid.UUID      `json:"category_id"`
	CategoryName string         `json:"category_name"`
	BrandID      uuid.UUID      `json:"brand_id"`
	BrandName    string         `json:"brand_name"`
	// AvgRating is the mean rating of the live reviews, rounded to 2 decimals; 0 without reviews.
	AvgRating   float64   `json:"avg_rating"`
	ReviewCount int       `json:"review_count"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Category is a catalog category.
type Category struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Brand is a catalog brand.
type Brand struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Item is what products are made from, with the names of its category and brand.
type Item struct {
	ID           uuid.UUID `json:"id"`
	CategoryID   uuid.UUID `json:"category_id"`
	CategoryName string    `json:"category_name"`
	BrandID      uuid.UUID `json:"brand_id"`
	BrandName    string    `json:"brand_name"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// CatalogSort orders the public catalog.
type CatalogSort string

// The catalog's sorts; each breaks ties by id so that pages do not overlap.
const (
	// SortNewest lists the most recently created first; it is the default.
	SortNewest CatalogSort = "newest"
	// SortPrice lists the cheapest first.
	SortPrice CatalogSort = "price"
	// SortPriceDesc lists the most expensive first.
	SortPriceDesc CatalogSort = "-price"
	// SortRating lists the best rated first, then the most reviewed.
	SortRating CatalogSort = "rating"
)

var catalogOrder = map[CatalogSort]string{
	"":            "created_at DESC, id DESC",
	SortNewest:    "created_at DESC, id DESC",
	SortPrice:     "price, id",
	SortPriceDesc: "price DESC, id DESC",
	SortRating:    "avg_rating DESC, review_count DESC, id",
}

// CatalogFilter selects products of the public catalog. Zero fields do not filter.
type CatalogFilter struct {
	// Q matches products whose name contains it, ignoring case.
	Q          string
	CategoryID uuid.UUID
	BrandID    uuid.UUID
	// MinPrice and MaxPrice bound the price, inclusive; 0 means no bound.
	MinPrice int64
	MaxPrice int64
	Sort     CatalogSort
	Page     Page
}

// catalogVisible must stay word for word the predicate of the catalog projector's partial indexes.
const catalogVisible = `status IN ('SELL', 'SOLD_OUT')`

// productColumns are the columns of a Product. They keep the table's names unchanged, because an
// ORDER BY name picks a selected column of that name first: a cast of avg_rating here would make
// the rating sort sort the cast instead of walking the rating index.
const productColumns = `id, name, price, stock, status, seller_id, item_id, item_name, category_id, category_name,
	brand_id, brand_name, avg_rating, review_count, created_at, updated_at`

func scanProduct(row pgx.Row) (Product, error) {
	var p Product
	err := row.Scan(&p.ID, &p.Name, &p.Price, &p.Stock, &p.Status, &p.SellerID, &p.ItemID, &p.ItemName,
		&p.CategoryID, &p.CategoryName, &p.BrandID, &p.BrandName, &p.AvgRating, &p.ReviewCount,
		&p.CreatedAt, &p.UpdatedAt)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

// ListCatalog lists the public catalog: products on SELL or SOLD_OUT that match f, in f.Sort order.
func (r *Reader) ListCatalog(ctx context.Context, f CatalogFilter) (List[Product], error) {
	order, ok := catalogOrder[f.Sort]
	fields := make(domain.Fields)
	if !ok {
		fields["sort"] = "must be one of price, -price, newest, rating"
	}
	if f.MinPrice < 0 {
		fields["min_price"] = "must not be negative"
	}
	if f.MaxPrice < 0 {
		fields["max_price"] = "must not be negative"
	}
	if f.MaxPrice > 0 && f.MinPrice > f.MaxPrice {
		fields["max_price"] = "must not be below min_price"
	}
	if err := fields.Err(); err != nil {
		return List[Product]{}, err
	}
	q := &query{}
	q.and(catalogVisible)
	counted := &query{} // the same filter over catalog_counts, when it has no search or price
	if s := strings.TrimSpace(f.Q); s != "" {
		q.and("name ILIKE " + q.arg("%"+escapeLike(s)+"%"))
		counted = nil
	}
	if f.MinPrice > 0 {
		q.and("price >= " + q.arg(f.MinPrice))
		counted = nil
	}
	if f.MaxPrice > 0 {
		q.and("price <= " + q.arg(f.MaxPrice))
		counted = nil
	}
	if f.CategoryID != uuid.Nil {
		q.and("category_id = " + q.arg(f.CategoryID))
		if counted != nil {
			counted.and("category_id = " + counted.arg(f.CategoryID))
		}
	}
	if f.BrandID != uuid.Nil {
		q.and("brand_id = " + q.arg(f.BrandID))
		if counted != nil {
			counted.and("brand_id = " + counted.arg(f.BrandID))
		}
	}
	if counted == nil {
		return list(ctx, r.db, "catalog", q, "readmodel.products", productColumns, order, f.Page, scanProduct)
	}
	// Without a search or price filter the total comes from the per category and brand counts the
	// projector keeps, instead of counting up to every visible product.
	return readPage(ctx, r.db, "catalog", "SELECT coalesce(sum(visible), 0)::bigint FROM readmodel.catalog_counts"+counted.whereClause(), counted.args,
		q, "readmodel.products", productColumns, order, f.Page, scanProduct)
}

// FindCatalogProduct returns a product of the public catalog; one that is not on SELL or
// SOLD_OUT is NotFound.
func (r *Reader) FindCatalogProduct(ctx context.Context, id uuid.UUID) (Product, error) {
	p, err := r.FindProduct(ctx, id)
	if err != nil {
		return Product{}, err
	}
	if p.Status != product.StatusSell && p.Status != product.StatusSoldOut {
		return Product{}, productNotFound(id)
	}
	return p, nil
}

// FindProduct returns a product in any status, for its seller and supervisors.
func (r *Reader) FindProduct(ctx context.Context, id uuid.UUID) (Product, error) {
	p, err := scanProduct(r.db.QueryRow(ctx, "SELECT "+productColumns+" FROM readmodel.products WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Product{}, productNotFound(id)
	}
	if err != nil {
		return Product{}, fmt.Errorf("find product %s: %w", id, err)
	}
	return p, nil
}

// FindSellerProduct returns seller's product id in any status; another seller's product is
// NotFound, as the API contract answers acting on another seller's data.
func (r *Reader) FindSellerProduct(ctx context.Context, sellerID, id uuid.UUID) (Product, error) {
	p, err := r.FindProduct(ctx, id)
	if err != nil {
		return Product{}, err
	}
	if p.SellerID != sellerID {
		return Product{}, productNotFound(id)
	}
	return p, nil
}

func productNotFound(id uuid.UUID) error {
	return domain.NotFoundf(product.CodeNotFound, "product %s not found", id)
}

// SellerProductFilter selects a seller's products, newest first.
type SellerProductFilter struct {
	// SellerID is the seller; uuid.Nil lists every seller's products (supervisors).
	SellerID uuid.UUID
	// Status keeps only products in that status; empty keeps every status.
	Status product.Status
	Page   Page
}

// ListSellerProducts lists a seller's own products in every status (or the one of f.Status).
func (r *Reader) ListSellerProducts(ctx context.Context, f SellerProductFilter) (List[Product], error) {
	q := &query{}
	if f.SellerID != uuid.Nil {
		q.and("seller_id = " + q.arg(f.SellerID))
	}
	if f.Status != "" {
		switch f.Status {
		case product.StatusRegistered, product.StatusSell, product.StatusSoldOut, product.StatusUnregistered:
		default:
			return List[Product]{}, domain.Fields{"status": "must be one of REGISTERED, SELL, SOLD_OUT, UNREGISTERED"}.Err()
		}
		q.and("status = " + q.arg(string(f.Status)))
	}
	return list(ctx, r.db, "seller products", q, "readmodel.products", productColumns, "created_at DESC, id DESC", f.Page, scanProduct)
}

func scanCategory(row pgx.Row) (Category, error) {
	var c Category
	err := row.Scan(&c.ID, &c.Name, &c.CreatedAt, &c.UpdatedAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

func scanBrand(row pgx.Row) (Brand, error) {
	var b Brand
	err := row.Scan(&b.ID, &b.Name, &b.CreatedAt, &b.UpdatedAt)
	b.CreatedAt, b.UpdatedAt = b.CreatedAt.UTC(), b.UpdatedAt.UTC()
	return b, err
}

// ListCategories lists the categories by name.
func (r *Reader) ListCategories(ctx context.Context, page Page) (List[Category], error) {
	return list(ctx, r.db, "categories", &query{}, "readmodel.categories", "id, name, created_at, updated_at", "name, id", page, scanCategory)
}

// FindCategory returns a category.
func (r *Reader) FindCategory(ctx context.Context, id uuid.UUID) (Category, error) {
	c, err := scanCategory(r.db.QueryRow(ctx, "SELECT id, name, created_at, updated_at FROM readmodel.categories WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Category{}, domain.NotFoundf(catalog.CodeCategoryNotFound, "category %s not found", id)
	}
	if err != nil {
		return Category{}, fmt.Errorf("find category %s: %w", id, err)
	}
	return c, nil
}

// ListBrands lists the brands by name.
func (r *Reader) ListBrands(ctx context.Context, page Page) (List[Brand], error) {
	return list(ctx, r.db, "brands", &query{}, "readmodel.brands", "id, name, created_at, updated_at", "name, id", page, scanBrand)
}

// FindBrand returns a brand.
func (r *Reader) FindBrand(ctx context.Context, id uuid.UUID) (Brand, error) {
	b, err := scanBrand(r.db.QueryRow(ctx, "SELECT id, name, created_at, updated_at FROM readmodel.brands WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Brand{}, domain.NotFoundf(catalog.CodeBrandNotFound, "brand %s not found", id)
	}
	if err != nil {
		return Brand{}, fmt.Errorf("find brand %s: %w", id, err)
	}
	return b, nil
}

const itemFrom = `readmodel.items i
	LEFT JOIN readmodel.categories c ON c.id = i.category_id
	LEFT JOIN readmodel.brands b ON b.id = i.brand_id`

const itemColumns = `i.id, i.category_id, coalesce(c.name, ''), i.brand_id, coalesce(b.name, ''), i.name, i.description,
	i.created_at, i.updated_at`

func scanItem(row pgx.Row) (Item, error) {
	var it Item
	err := row.Scan(&it.ID, &it.CategoryID, &it.CategoryName, &it.BrandID, &it.BrandName, &it.Name,
		&it.Description, &it.CreatedAt, &it.UpdatedAt)
	it.CreatedAt, it.UpdatedAt = it.CreatedAt.UTC(), it.UpdatedAt.UTC()
	return it, err
}

// ItemFilter selects items, by name. Zero fields do not filter.
type ItemFilter struct {
	CategoryID uuid.UUID
	BrandID    uuid.UUID
	Page       Page
}

// ListItems lists the items that match f by name.
func (r *Reader) ListItems(ctx context.Context, f ItemFilter) (List[Item], error) {
	q := &query{}
	if f.CategoryID != uuid.Nil {
		q.and("i.category_id = " + q.arg(f.CategoryID))
	}
	if f.BrandID != uuid.Nil {
		q.and("i.brand_id = " + q.arg(f.BrandID))
	}
	return list(ctx, r.db, "items", q, itemFrom, itemColumns, "i.name, i.id", f.Page, scanItem)
}

// FindItem returns an item.
func (r *Reader) FindItem(ctx context.Context, id uuid.UUID) (Item, error) {
	it, err := scanItem(r.db.QueryRow(ctx, "SELECT "+itemColumns+" FROM "+itemFrom+" WHERE i.id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Item{}, domain.NotFoundf(catalog.CodeItemNotFound, "item %s not found", id)
	}
	if err != nil {
		return Item{}, fmt.Errorf("find item %s: %w", id, err)
	}
	return it, nil
}
