package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/auth"
)

// SellerView is a seller account as the supervisor sees it.
type SellerView struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Phone     string    `json:"phone"`
	Status    string    `json:"status" enum:"REGISTERED,UNREGISTERED"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func sellerView(a auth.Account) SellerView {
	return SellerView{ID: a.ID, Name: a.Name, Email: a.Email, Phone: a.Phone, Status: a.Status,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
}

// CreateSellerInput is POST /sellers.
type CreateSellerInput struct {
	Body AccountBody
}

// SellerIDInput names a seller in the path.
type SellerIDInput struct {
	ID uuid.UUID `path:"id" format:"uuid" doc:"Seller id"`
}

// ListInput is a list with nothing but page and size.
type ListInput struct {
	PageQuery
}

func (s *Server) registerSellers(api huma.API) {
	supervisor := roles(domain.RoleSupervisor)
	huma.Register(api, op(huma.Operation{
		OperationID: "create-seller", Method: http.MethodPost, Path: "/sellers", Tags: []string{"sellers"},
		Summary: "Create a seller", Description: "Only a supervisor creates sellers. A duplicate seller e-mail is 409.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
	}, supervisor), s.createSeller)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-sellers", Method: http.MethodGet, Path: "/sellers", Tags: []string{"sellers"},
		Summary: "List sellers", Description: "Oldest first.",
	}, supervisor), s.listSellers)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-seller", Method: http.MethodGet, Path: "/sellers/{id}", Tags: []string{"sellers"},
		Summary: "A seller", Errors: []int{http.StatusNotFound},
	}, supervisor), s.getSeller)
}

func (s *Server) createSeller(ctx context.Context, in *CreateSellerInput) (*Created[SellerView], error) {
	a, err := s.auth.CreateSeller(ctx, in.Body.account())
	if err != nil {
		return nil, err
	}
	return created(sellerView(a), "/api/v1/sellers/"+a.ID.String()), nil
}

func (s *Server) listSellers(ctx context.Context, in *ListInput) (*Response[[]SellerView], error) {
	list, total, err := s.auth.Sellers(ctx, in.Offset(), in.Size)
	if err != nil {
		return nil, err
	}
	views := make([]SellerView, len(list))
	for i, a := range list {
		views[i] = sellerView(a)
	}
	return page(views, in.PageQuery, total), nil
}

func (s *Server) getSeller(ctx context.Context, in *SellerIDInput) (*Response[SellerView], error) {
	a, err := s.auth.Seller(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(sellerView(a)), nil
}

func (s *Server) registerAdminUsers(api huma.API) {
	supervisor := roles(domain.RoleSupervisor)
	huma.Register(api, op(huma.Operation{
		OperationID: "admin-list-users", Method: http.MethodGet, Path: "/admin/users", Tags: []string{"admin"},
		Summary: "List users", Description: "Every status, UNREGISTERED included; oldest first.",
	}, supervisor), s.adminListUsers)
	huma.Register(api, op(huma.Operation{
		OperationID: "admin-get-user", Method: http.MethodGet, Path: "/admin/users/{id}", Tags: []string{"admin"},
		Summary: "A user, whatever its status", Errors: []int{http.StatusNotFound},
	}, supervisor), s.adminGetUser)
}

func (s *Server) adminListUsers(ctx context.Context, in *ListInput) (*Response[[]UserView], error) {
	list, total, err := s.auth.Users(ctx, in.Offset(), in.Size)
	if err != nil {
		return nil, err
	}
	views := make([]UserView, len(list))
	for i, u := range list {
		views[i] = userView(u)
	}
	return page(views, in.PageQuery, total), nil
}

func (s *Server) adminGetUser(ctx context.Context, in *UserIDInput) (*Response[UserView], error) {
	u, err := s.auth.User(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(userView(u)), nil
}
