package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/domain/review"
	"github.com/commerce-dev/commerce/readmodels"
)

// ReviewView is a review of an order line.
type ReviewView struct {
	ID        uuid.UUID `json:"id"`
	OrderID   uuid.UUID `json:"order_id"`
	Line      int       `json:"line"`
	ProductID uuid.UUID `json:"product_id"`
	UserID    uuid.UUID `json:"user_id"`
	Rating    int       `json:"rating" minimum:"1" maximum:"5"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func reviewView(r review.Review) ReviewView {
	return ReviewView{ID: r.ID, OrderID: r.OrderID, Line: r.Line, ProductID: r.ProductID, UserID: r.UserID,
		Rating: r.Rating, Content: r.Content, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func reviewRead(r readmodels.Review) ReviewView {
	return ReviewView{ID: r.ID, OrderID: r.OrderID, Line: r.Line, ProductID: r.ProductID, UserID: r.UserID,
		Rating: r.Rating, Content: r.Content, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// ReviewBody is a review's rating and content.
type ReviewBody struct {
	Rating  int    `json:"rating" minimum:"1" maximum:"5"`
	Content string `json:"content" minLength:"1" maxLength:"2000" pattern:"\\S" patternDescription:"not blank" doc:"1-2,000 characters (characters, not bytes)"`
}

// WriteReviewInput is POST /orders/{id}/lines/{line}/review.
type WriteReviewInput struct {
	OrderLineInput
	Body ReviewBody
}

// EditReviewInput is PATCH /reviews/{id}: both fields, the unchanged one as it is.
type EditReviewInput struct {
	ID   uuid.UUID `path:"id" format:"uuid" doc:"Review id"`
	Body ReviewBody
}

// ReviewIDInput names a review in the path of a command.
type ReviewIDInput struct {
	ID uuid.UUID `path:"id" format:"uuid" doc:"Review id"`
}

// ReviewQueryInput names a review in the path of a query.
type ReviewQueryInput struct {
	ID uuid.UUID `path:"id" format:"uuid" doc:"Review id"`
	MinPositionQuery
}

// ProductReviewsInput is GET /products/{id}/reviews.
type ProductReviewsInput struct {
	ID uuid.UUID `path:"id" format:"uuid" doc:"Product id"`
	PageQuery
	MinPositionQuery
}

// ReviewListInput is GET /users/me/reviews.
type ReviewListInput struct {
	PageQuery
	MinPositionQuery
}

func (s *Server) registerReviews(api huma.API) {
	user := roles(domain.RoleUser)
	tags := []string{"reviews"}
	huma.Register(api, op(huma.Operation{
		OperationID: "write-review", Method: http.MethodPost, Path: "/orders/{id}/lines/{line}/review", Tags: tags,
		Summary: "Review a line of the caller's order",
		Description: "Only an ACCEPT line whose delivery is COMPLETE (else 422, whatever its state), once per line (a second review is 409). " +
			"Another user's order is 404.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, user), s.writeReview)
	huma.Register(api, op(huma.Operation{
		OperationID: "edit-review", Method: http.MethodPatch, Path: "/reviews/{id}", Tags: tags,
		Summary: "Change a review's rating and content", Description: "The author's only: another user's review is 404.",
		Errors: []int{http.StatusNotFound},
	}, user), s.editReview)
	huma.Register(api, op(huma.Operation{
		OperationID: "delete-review", Method: http.MethodDelete, Path: "/reviews/{id}", Tags: tags,
		Summary: "Delete a review", Description: "The author's only: another user's review, or a deleted one, is 404.",
		Errors: []int{http.StatusNotFound},
	}, user), s.deleteReview)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-review", Method: http.MethodGet, Path: "/reviews/{id}", Tags: tags,
		Summary: "A review", Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
	}, public), s.getReview)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-product-reviews", Method: http.MethodGet, Path: "/products/{id}/reviews", Tags: tags,
		Summary: "A product's reviews", Description: "Newest first.", Errors: []int{http.StatusServiceUnavailable},
	}, public), s.listProductReviews)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-my-reviews", Method: http.MethodGet, Path: "/users/me/reviews", Tags: tags,
		Summary: "The caller's reviews", Description: "Newest first.", Errors: []int{http.StatusServiceUnavailable},
	}, user), s.listMyReviews)
}

func (s *Server) writeReview(ctx context.Context, in *WriteReviewInput) (*Written[ReviewView], error) {
	res, err := s.commands.WriteReview.Handle(command(ctx), commands.WriteReview{
		OrderID: in.ID, Line: in.Line, Rating: in.Body.Rating, Content: in.Body.Content})
	if err != nil {
		return nil, err
	}
	return written(http.StatusCreated, reviewView(res.State), res.Position, "/api/v1/reviews/"+res.ID.String()), nil
}

func (s *Server) editReview(ctx context.Context, in *EditReviewInput) (*Written[ReviewView], error) {
	res, err := s.commands.EditReview.Handle(command(ctx), commands.EditReview{ReviewID: in.ID, Rating: in.Body.Rating, Content: in.Body.Content})
	if err != nil {
		return nil, err
	}
	return written(http.StatusOK, reviewView(res.State), res.Position, ""), nil
}

func (s *Server) deleteReview(ctx context.Context, in *ReviewIDInput) (*Written[*Empty], error) {
	res, err := s.commands.DeleteReview.Handle(command(ctx), commands.DeleteReview{ReviewID: in.ID})
	if err != nil {
		return nil, err
	}
	return written[*Empty](http.StatusOK, nil, res.Position, ""), nil
}

func (s *Server) getReview(ctx context.Context, in *ReviewQueryInput) (*Response[ReviewView], error) {
	if err := s.fresh(ctx, projectorReviews, in.MinPositionQuery); err != nil {
		return nil, err
	}
	r, err := s.reader.FindReview(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(reviewRead(r)), nil
}

func (s *Server) listProductReviews(ctx context.Context, in *ProductReviewsInput) (*Response[[]ReviewView], error) {
	if err := s.fresh(ctx, projectorReviews, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListProductReviews(ctx, in.ID, pageOf(in.PageQuery))
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, reviewRead), nil
}

func (s *Server) listMyReviews(ctx context.Context, in *ReviewListInput) (*Response[[]ReviewView], error) {
	if err := s.fresh(ctx, projectorReviews, in.MinPositionQuery); err != nil {
		return nil, err
	}
	l, err := s.reader.ListUserReviews(ctx, actor(ctx).ID, pageOf(in.PageQuery))
	if err != nil {
		return nil, err
	}
	return listPage(l, in.PageQuery, reviewRead), nil
}
