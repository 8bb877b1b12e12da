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

// AddressBody is a delivery address; every field is required and not blank.
type AddressBody struct {
	Receiver       string `json:"receiver" minLength:"1" maxLength:"50" pattern:"\\S" patternDescription:"not blank" example:"Kim Minsu"`
	Address1       string `json:"address1" minLength:"1" maxLength:"200" pattern:"\\S" patternDescription:"not blank" example:"123 Teheran-ro, Gangnam-gu, Seoul"`
	Address2       string `json:"address2" minLength:"1" maxLength:"200" pattern:"\\S" patternDescription:"not blank" example:"Apt 101-1001"`
	Zipcode        string `json:"zipcode" minLength:"1" maxLength:"10" pattern:"\\S" patternDescription:"not blank" example:"06236"`
	Phone          string `json:"phone" pattern:"^(?:010\\d{4}|070\\d{4}|01[16789]\\d{3,4})\\d{4}$" patternDescription:"a Korean mobile number, digits only" example:"01012345678"`
	ReceiveType    string `json:"receive_type" enum:"DOOR,SELF,OFFICE,POST,ETC"`
	ReceiveMessage string `json:"receive_message" minLength:"1" maxLength:"200" pattern:"\\S" patternDescription:"not blank" example:"Leave it at the door"`
}

func (b AddressBody) input() auth.AddressInput {
	return auth.AddressInput{Receiver: b.Receiver, Address1: b.Address1, Address2: b.Address2, Zipcode: b.Zipcode,
		Phone: b.Phone, ReceiveType: b.ReceiveType, ReceiveMessage: b.ReceiveMessage}
}

// AddressView is a stored address.
type AddressView struct {
	ID             uuid.UUID `json:"id"`
	Receiver       string    `json:"receiver"`
	Address1       string    `json:"address1"`
	Address2       string    `json:"address2"`
	Zipcode        string    `json:"zipcode"`
	Phone          string    `json:"phone"`
	ReceiveType    string    `json:"receive_type" enum:"DOOR,SELF,OFFICE,POST,ETC"`
	ReceiveMessage string    `json:"receive_message"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func addressView(a auth.Address) AddressView {
	return AddressView{ID: a.ID, Receiver: a.Receiver, Address1: a.Address1, Address2: a.Address2, Zipcode: a.Zipcode,
		Phone: a.Phone, ReceiveType: a.ReceiveType, ReceiveMessage: a.ReceiveMessage,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
}

// AddAddressInput is POST /users/me/addresses.
type AddAddressInput struct {
	Body AddressBody
}

// AddressIDInput names one of the caller's addresses.
type AddressIDInput struct {
	ID uuid.UUID `path:"id" format:"uuid" doc:"Address id"`
}

// PutAddressInput is PUT /users/me/addresses/{id}.
type PutAddressInput struct {
	ID   uuid.UUID `path:"id" format:"uuid" doc:"Address id"`
	Body AddressBody
}

func (s *Server) registerAddresses(api huma.API) {
	user := roles(domain.RoleUser)
	huma.Register(api, op(huma.Operation{
		OperationID: "list-my-addresses", Method: http.MethodGet, Path: "/users/me/addresses", Tags: []string{"addresses"},
		Summary: "The caller's addresses", Description: "At most 3, oldest first; not paginated.",
	}, user), s.listAddresses)
	huma.Register(api, op(huma.Operation{
		OperationID: "add-my-address", Method: http.MethodPost, Path: "/users/me/addresses", Tags: []string{"addresses"},
		Summary: "Add an address", Description: "A user keeps at most 3 addresses: the 4th is 422.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusNotFound, http.StatusUnprocessableEntity},
	}, user), s.addAddress)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-my-address", Method: http.MethodGet, Path: "/users/me/addresses/{id}", Tags: []string{"addresses"},
		Summary: "One of the caller's addresses", Description: "Another user's address is 404.",
		Errors: []int{http.StatusNotFound},
	}, user), s.getAddress)
	huma.Register(api, op(huma.Operation{
		OperationID: "put-my-address", Method: http.MethodPut, Path: "/users/me/addresses/{id}", Tags: []string{"addresses"},
		Summary: "Replace one of the caller's addresses", Description: "Another user's address is 404.",
		Errors: []int{http.StatusNotFound},
	}, user), s.putAddress)
	huma.Register(api, op(huma.Operation{
		OperationID: "delete-my-address", Method: http.MethodDelete, Path: "/users/me/addresses/{id}", Tags: []string{"addresses"},
		Summary: "Delete one of the caller's addresses", Description: "Another user's address is 404.",
		Errors: []int{http.StatusNotFound},
	}, user), s.deleteAddress)
}

func (s *Server) listAddresses(ctx context.Context, _ *struct{}) (*Response[[]AddressView], error) {
	list, err := s.auth.Addresses(ctx, actor(ctx).ID)
	if err != nil {
		return nil, err
	}
	views := make([]AddressView, len(list))
	for i, a := range list {
		views[i] = addressView(a)
	}
	return ok(views), nil
}

func (s *Server) addAddress(ctx context.Context, in *AddAddressInput) (*Created[AddressView], error) {
	a, err := s.auth.AddAddress(ctx, actor(ctx).ID, in.Body.input())
	if err != nil {
		return nil, err
	}
	return created(addressView(a), "/api/v1/users/me/addresses/"+a.ID.String()), nil
}

func (s *Server) getAddress(ctx context.Context, in *AddressIDInput) (*Response[AddressView], error) {
	a, err := s.auth.Address(ctx, actor(ctx).ID, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(addressView(a)), nil
}

func (s *Server) putAddress(ctx context.Context, in *PutAddressInput) (*Response[AddressView], error) {
	a, err := s.auth.UpdateAddress(ctx, actor(ctx).ID, in.ID, in.Body.input())
	if err != nil {
		return nil, err
	}
	return ok(addressView(a)), nil
}

func (s *Server) deleteAddress(ctx context.Context, in *AddressIDInput) (*Response[*Empty], error) {
	if err := s.auth.DeleteAddress(ctx, actor(ctx).ID, in.ID); err != nil {
		return nil, err
	}
	return ok[*Empty](nil), nil
}
