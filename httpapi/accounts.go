package httpapi

import (
	"context"
	"net/http"
	"net/mail"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/auth"
)

// AccountBody is what sign-up and seller creation take.
type AccountBody struct {
	Name     string `json:"name" minLength:"1" maxLength:"50" pattern:"\\S" patternDescription:"not blank" doc:"1-50 characters" example:"Kim Minsu"`
	Email    string `json:"email" format:"email" maxLength:"254" doc:"Unique per role (a duplicate is 409); stored in lower case" example:"minsu@example.com"`
	Password string `json:"password" minLength:"8" maxLength:"16" pattern:"^[A-Za-z0-9$@!%*#?&]*$" patternDescription:"made of A-Z, a-z, 0-9 and $@!%*#?&" doc:"8-16 characters of A-Z, a-z, 0-9 and $@!%*#?&, with at least one letter, one digit and one of $@!%*#?&" example:"uP@sswr0d!11" writeOnly:"true"`
	Phone    string `json:"phone" pattern:"^(?:010\\d{4}|070\\d{4}|01[16789]\\d{3,4})\\d{4}$" patternDescription:"a Korean mobile number, digits only" example:"01012345678"`
}

// Resolve checks what the schema cannot: the password's mix of characters and a plain e-mail.
func (b *AccountBody) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	var errs []error
	if msg := auth.CheckPasswordMix(b.Password); msg != "" && b.Password != "" {
		errs = append(errs, &huma.ErrorDetail{Location: prefix.With("password"), Message: msg})
	}
	errs = append(errs, checkEmail(prefix, b.Email)...)
	return errs
}

// checkEmail adds to huma's format check (RFC 5322, which allows "Name <a@b>") the rule that
// the address is plain with a dotted domain.
func checkEmail(prefix *huma.PathBuffer, email string) []error {
	if _, err := mail.ParseAddress(email); err != nil || email == "" {
		return nil // huma's format check reports it
	}
	if msg := auth.CheckEmail(email); msg != "" {
		return []error{&huma.ErrorDetail{Location: prefix.With("email"), Message: msg}}
	}
	return nil
}

func (b AccountBody) account() auth.NewAccount {
	return auth.NewAccount{Name: b.Name, Email: b.Email, Password: b.Password, Phone: b.Phone}
}

// ProfileView is a user's profile.
type ProfileView struct {
	NickName        string  `json:"nick_name" example:"minsu"`
	ProfileImageURL *string `json:"profile_image_url" nullable:"true" example:"https://example.com/me.png"`
	Grade           string  `json:"grade" enum:"BRONZE,SILVER,GOLD,PLATINUM" doc:"BRONZE at sign-up"`
}

// UserView is a user as the user and the supervisor see it.
type UserView struct {
	ID        uuid.UUID   `json:"id"`
	Name      string      `json:"name"`
	Email     string      `json:"email"`
	Phone     string      `json:"phone"`
	Status    string      `json:"status" enum:"REGISTERED,UNREGISTERED"`
	Profile   ProfileView `json:"profile"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// PublicUserView is what anyone may see of a user: id, name and profile only.
type PublicUserView struct {
	ID      uuid.UUID   `json:"id"`
	Name    string      `json:"name"`
	Profile ProfileView `json:"profile"`
}

func profileView(p auth.Profile) ProfileView {
	v := ProfileView{NickName: p.NickName, Grade: p.Grade}
	if p.ProfileImageURL != "" {
		url := p.ProfileImageURL
		v.ProfileImageURL = &url
	}
	return v
}

func userView(u auth.User) UserView {
	return UserView{ID: u.ID, Name: u.Name, Email: u.Email, Phone: u.Phone, Status: u.Status,
		Profile: profileView(u.Profile), CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

// SignUpInput is POST /users.
type SignUpInput struct {
	Body AccountBody
}

// UserChangesBody is PATCH /users/me: the fields to change, at least one.
type UserChangesBody struct {
	Name     *string `json:"name,omitempty" minLength:"1" maxLength:"50" pattern:"\\S" patternDescription:"not blank"`
	Password *string `json:"password,omitempty" minLength:"8" maxLength:"16" pattern:"^[A-Za-z0-9$@!%*#?&]*$" patternDescription:"made of A-Z, a-z, 0-9 and $@!%*#?&" writeOnly:"true" doc:"The password rule of sign-up; needs current_password. Ends every other session of the account."`
	// CurrentPassword proves the change is the account holder's, not a stolen token's.
	CurrentPassword *string `json:"current_password,omitempty" minLength:"1" maxLength:"128" writeOnly:"true" doc:"The password before the change: required with password; a wrong one is 401"`
	Phone           *string `json:"phone,omitempty" pattern:"^(?:010\\d{4}|070\\d{4}|01[16789]\\d{3,4})\\d{4}$" patternDescription:"a Korean mobile number, digits only"`
}

// Resolve requires one field at least and checks the password's mix of characters.
func (b *UserChangesBody) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	if b.Name == nil && b.Password == nil && b.Phone == nil {
		return []error{&huma.ErrorDetail{Location: prefix.String(), Message: "must change at least one of name, password, phone"}}
	}
	var errs []error
	if b.Password != nil {
		if msg := auth.CheckPasswordMix(*b.Password); msg != "" {
			errs = append(errs, &huma.ErrorDetail{Location: prefix.With("password"), Message: msg})
		}
		if b.CurrentPassword == nil {
			errs = append(errs, &huma.ErrorDetail{Location: prefix.With("current_password"), Message: "is required to change the password"})
		}
	}
	return errs
}

// UpdateMeInput is PATCH /users/me.
type UpdateMeInput struct {
	Body UserChangesBody
}

// UserIDInput names a user in the path.
type UserIDInput struct {
	ID uuid.UUID `path:"id" format:"uuid" doc:"User id"`
}

// ProfileBody is PUT /users/me/profile.
type ProfileBody struct {
	NickName        string `json:"nick_name" minLength:"1" maxLength:"50" pattern:"\\S" patternDescription:"not blank"`
	ProfileImageURL string `json:"profile_image_url,omitempty" format:"uri" maxLength:"2048" doc:"Absent or empty: no image"`
}

// PutProfileInput is PUT /users/me/profile.
type PutProfileInput struct {
	Body ProfileBody
}

func (s *Server) registerUsers(api huma.API) {
	huma.Register(api, op(s.rateLimited(huma.Operation{
		OperationID: "sign-up", Method: http.MethodPost, Path: "/users", Tags: []string{"users"},
		Summary:       "Sign up as a USER",
		Description:   "Creates a REGISTERED user with a BRONZE profile whose nick name is the name. An e-mail already registered as a USER (even by an unregistered one) is 409.",
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict},
	}), public), s.signUp)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-me", Method: http.MethodGet, Path: "/users/me", Tags: []string{"users"},
		Summary: "The caller's account", Errors: []int{http.StatusNotFound},
	}, roles(domain.RoleUser)), s.getMe)
	huma.Register(api, op(huma.Operation{
		OperationID: "update-me", Method: http.MethodPatch, Path: "/users/me", Tags: []string{"users"},
		Summary: "Change the caller's name, password or phone",
		Description: "A new password needs current_password (missing: 400, wrong: 401), ends every other session of the account, " +
			"and is limited to 5 tries per account, then one a minute (429 with Retry-After).",
		Errors: []int{http.StatusNotFound, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, roles(domain.RoleUser)), s.updateMe)
	huma.Register(api, op(huma.Operation{
		OperationID: "delete-me", Method: http.MethodDelete, Path: "/users/me", Tags: []string{"users"},
		Summary:     "Unregister the caller",
		Description: "Soft delete: the status becomes UNREGISTERED, every token of the account is refused from now on (4002), and login is refused.",
		Errors:      []int{http.StatusNotFound},
	}, roles(domain.RoleUser)), s.deleteMe)
	huma.Register(api, op(huma.Operation{
		OperationID: "get-my-profile", Method: http.MethodGet, Path: "/users/me/profile", Tags: []string{"users"},
		Summary: "The caller's profile", Errors: []int{http.StatusNotFound},
	}, roles(domain.RoleUser)), s.getMyProfile)
	huma.Register(api, op(huma.Operation{
		OperationID: "put-my-profile", Method: http.MethodPut, Path: "/users/me/profile", Tags: []string{"users"},
		Summary: "Replace the caller's nick name and image", Errors: []int{http.StatusNotFound},
	}, roles(domain.RoleUser)), s.putMyProfile)
	// After /users/me: fiber matches in registration order.
	huma.Register(api, op(huma.Operation{
		OperationID: "get-user", Method: http.MethodGet, Path: "/users/{id}", Tags: []string{"users"},
		Summary: "A user's public view", Description: "id, name and profile only; an unregistered user is 404.",
		Errors: []int{http.StatusNotFound},
	}, public), s.getUser)
}

func (s *Server) signUp(ctx context.Context, in *SignUpInput) (*Created[UserView], error) {
	u, err := s.auth.SignUp(ctx, in.Body.account())
	if err != nil {
		return nil, err
	}
	return created(userView(u), "/api/v1/users/"+u.ID.String()), nil
}

func (s *Server) getMe(ctx context.Context, _ *struct{}) (*Response[UserView], error) {
	u, err := s.auth.User(ctx, actor(ctx).ID)
	if err != nil {
		return nil, err
	}
	return ok(userView(u)), nil
}

func (s *Server) updateMe(ctx context.Context, in *UpdateMeInput) (*Response[UserView], error) {
	if in.Body.Password != nil {
		// Each try costs a password check: limited per account, whatever the address.
		if allowed, wait := s.passwords.allow(actor(ctx).ID.String(), time.Now()); !allowed {
			return nil, tooManyRequests("too many password changes for this account; retry later", wait)
		}
	}
	u, err := s.auth.UpdateUser(ctx, actor(ctx).ID, auth.UserChanges{Name: in.Body.Name, Password: in.Body.Password,
		CurrentPassword: in.Body.CurrentPassword, Phone: in.Body.Phone, Session: principal(ctx).Session})
	if err != nil {
		return nil, err
	}
	return ok(userView(u)), nil
}

func (s *Server) deleteMe(ctx context.Context, _ *struct{}) (*Response[UserView], error) {
	u, err := s.auth.Unregister(ctx, actor(ctx).ID)
	if err != nil {
		return nil, err
	}
	return ok(userView(u)), nil
}

func (s *Server) getMyProfile(ctx context.Context, _ *struct{}) (*Response[ProfileView], error) {
	u, err := s.auth.User(ctx, actor(ctx).ID)
	if err != nil {
		return nil, err
	}
	return ok(profileView(u.Profile)), nil
}

func (s *Server) putMyProfile(ctx context.Context, in *PutProfileInput) (*Response[ProfileView], error) {
	u, err := s.auth.UpdateProfile(ctx, actor(ctx).ID, in.Body.NickName, in.Body.ProfileImageURL)
	if err != nil {
		return nil, err
	}
	return ok(profileView(u.Profile)), nil
}

func (s *Server) getUser(ctx context.Context, in *UserIDInput) (*Response[PublicUserView], error) {
	u, err := s.auth.ActiveUser(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	return ok(PublicUserView{ID: u.ID, Name: u.Name, Profile: profileView(u.Profile)}), nil
}
