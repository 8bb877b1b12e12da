package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/auth"
)

// LoginBody is POST /auth/login.
type LoginBody struct {
	Email    string `json:"email" minLength:"1" maxLength:"254" example:"testUser1@aaa.com"`
	Password string `json:"password" minLength:"1" maxLength:"128" writeOnly:"true" example:"uP@sswr0d!11"`
	Role     string `json:"role,omitempty" enum:"USER,SELLER,SUPERVISOR" default:"USER" doc:"The account's role; USER when absent"`
}

// LoginInput is POST /auth/login.
type LoginInput struct {
	Body LoginBody
}

// RefreshBody is POST /auth/refresh.
type RefreshBody struct {
	RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"4096"`
}

// RefreshInput is POST /auth/refresh.
type RefreshInput struct {
	Body RefreshBody
}

// LogoutBody is the optional body of POST /auth/logout.
type LogoutBody struct {
	RefreshToken string `json:"refresh_token,omitempty" maxLength:"4096" doc:"The session's refresh token, refused from now on too"`
}

// LogoutInput is POST /auth/logout.
type LogoutInput struct {
	Body *LogoutBody
}

// TokenView is a token pair.
type TokenView struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token" doc:"Spent by POST /auth/refresh; presenting it again revokes the session"`
	TokenType    string    `json:"token_type" enum:"Bearer"`
	ExpiresAt    time.Time `json:"expires_at" doc:"When the access token expires"`
}

func tokenView(p auth.TokenPair) TokenView {
	return TokenView{AccessToken: p.AccessToken, RefreshToken: p.RefreshToken, TokenType: p.TokenType, ExpiresAt: p.ExpiresAt.UTC()}
}

func (s *Server) registerAuth(api huma.API) {
	huma.Register(api, op(s.rateLimited(huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/auth/login", Tags: []string{"auth"},
		Summary: "Log in and get a token pair",
		Description: "A wrong password, an unknown e-mail, another role's account and an unregistered user " +
			"all answer 401 with the same message.",
	}), public), s.login)
	huma.Register(api, op(s.rateLimited(huma.Operation{
		OperationID: "refresh", Method: http.MethodPost, Path: "/auth/refresh", Tags: []string{"auth"},
		Summary: "Spend a refresh token for a new pair",
		Description: "The refresh token is spent. Presenting a spent one again revokes the whole session " +
			"(every token of that login) and answers 401 4002.",
	}), public), s.refresh)
	huma.Register(api, op(huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/auth/logout", Tags: []string{"auth"},
		Summary: "Log out",
		Description: "Ends the whole login session: the access token and every refresh and access token of its session are refused (4002) from now on, " +
			"whether or not the body names the session's refresh_token. A refresh_token of another session of the account ends that session too.",
	}, anyRole), s.logout)
}

func (s *Server) login(ctx context.Context, in *LoginInput) (*Response[TokenView], error) {
	role := domain.Role(in.Body.Role)
	if role == "" {
		role = domain.RoleUser
	}
	p, err := s.auth.Login(ctx, in.Body.Email, in.Body.Password, role)
	if err != nil {
		return nil, err
	}
	return ok(tokenView(p)), nil
}

func (s *Server) refresh(ctx context.Context, in *RefreshInput) (*Response[TokenView], error) {
	p, err := s.auth.Refresh(ctx, in.Body.RefreshToken)
	if err != nil {
		return nil, err
	}
	return ok(tokenView(p)), nil
}

func (s *Server) logout(ctx context.Context, in *LogoutInput) (*Response[*Empty], error) {
	refresh := ""
	if in.Body != nil {
		refresh = in.Body.RefreshToken
	}
	if err := s.auth.Logout(ctx, principal(ctx), refresh); err != nil {
		return nil, err
	}
	return ok[*Empty](nil), nil
}
