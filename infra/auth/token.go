package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
)

// Token failures. Every error Verify returns matches exactly one of them with errors.Is; the HTTP
// layer turns them into the API's result codes 4000-4004.
var (
	// ErrTokenMissing: no token was presented.
	ErrTokenMissing = errors.New("no bearer token")
	// ErrTokenSignature: the signature does not verify with the secret of the token's role (an
	// edited claim, another role's secret, an unknown role, alg none or another algorithm).
	ErrTokenSignature = errors.New("token signature is invalid")
	// ErrTokenExpired: the token is past its exp.
	ErrTokenExpired = errors.New("token has expired")
	// ErrTokenRevoked: the token was logged out, its session was revoked after a spent refresh
	// token was reused, or its account was unregistered.
	ErrTokenRevoked = errors.New("token has been revoked")
	// ErrTokenMalformed: not a JWT, a required claim is missing or ill-formed, or a refresh
	// token was used as an access token (or the reverse).
	ErrTokenMalformed = errors.New("token is malformed")
	// ErrTokenSubject: the token has an empty subject.
	ErrTokenSubject = errors.New("token has no subject")
)

// Token uses, carried in the token_use claim so that a refresh token is never accepted as an
// access token.
const (
	useAccess  = "access"
	useRefresh = "refresh"
)

// claims are the JWT claims: sub, role, email, jti, iat, exp (the API contract), plus sid, the session (the
// refresh token family a login starts), and token_use.
type claims struct {
	Role    domain.Role `json:"role"`
	Email   string      `json:"email"`
	Session string      `json:"sid,omitempty"`
	Use     string      `json:"token_use"`
	jwt.RegisteredClaims
}

// Principal is the verified identity behind a token.
type Principal struct {
	// Actor is the account and its role.
	Actor domain.Actor
	// Email is the account's e-mail when the token was issued.
	Email string
	// TokenID is the token's jti.
	TokenID uuid.UUID
	// Session is the login session (refresh token family) the token belongs to.
	Session uuid.UUID
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
}

// TokenPair is what login and refresh return.
type TokenPair struct {
	// AccessToken authenticates requests as "Authorization: Bearer <token>".
	AccessToken string
	// RefreshToken obtains the next pair once; it is spent by that.
	RefreshToken string
	// TokenType is always "Bearer".
	TokenType string
	// ExpiresAt is when the access token expires.
	ExpiresAt time.Time
	// RefreshExpiresAt is when the refresh token expires.
	RefreshExpiresAt time.Time
}

type issued struct {
	pair       TokenPair
	refreshJTI uuid.UUID
	issuedAt   time.Time
}

// issue signs an access and a refresh token for the account in session.
func (s *Service) issue(actor domain.Actor, email string, session uuid.UUID) (issued, error) {
	now := s.cfg.Now().Truncate(time.Second)
	access, _, err := s.sign(actor, email, session, useAccess, now, s.cfg.AccessTTL)
	if err != nil {
		return issued{}, err
	}
	refresh, refreshJTI, err := s.sign(actor, email, session, useRefresh, now, s.cfg.RefreshTTL)
	if err != nil {
		return issued{}, err
	}
	return issued{
		pair: TokenPair{
			AccessToken:      access,
			RefreshToken:     refresh,
			TokenType:        "Bearer",
			ExpiresAt:        now.Add(s.cfg.AccessTTL),
			RefreshExpiresAt: now.Add(s.cfg.RefreshTTL),
		},
		refreshJTI: refreshJTI,
		issuedAt:   now,
	}, nil
}

func (s *Service) sign(actor domain.Actor, email string, session uuid.UUID, use string, now time.Time, ttl time.Duration) (string, uuid.UUID, error) {
	key, ok := s.keys[actor.Role]
	if !ok {
		return "", uuid.Nil, fmt.Errorf("sign token: unknown role %q", actor.Role)
	}
	jti := uuid.New()
	c := claims{
		Role:    actor.Role,
		Email:   email,
		Session: session.String(),
		Use:     use,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   actor.ID.String(),
			ID:        jti.String(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("sign token: %w", err)
	}
	return signed, jti, nil
}

// Authenticate verifies an access token and checks that it was not revoked. Errors match one of
// the ErrToken* values, or are infrastructure failures (the revocation check's database).
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	p, err := s.parse(token, useAccess)
	if err != nil {
		return Principal{}, err
	}
	if err := s.checkRevoked(ctx, p); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// parse verifies signature, algorithm and claims. The role claim is read before verification
// only to choose the secret to verify with; a token whose role was edited then fails to verify.
func (s *Service) parse(token, use string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrTokenMissing
	}
	var unverified claims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrTokenMalformed, err)
	}
	key, ok := s.keys[unverified.Role]
	if !ok {
		return Principal{}, fmt.Errorf("%w: no secret for role %q", ErrTokenSignature, unverified.Role)
	}
	var c claims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(s.cfg.ClockSkew),
		jwt.WithTimeFunc(s.cfg.Now),
	)
	_, err := parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return key, nil })
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return Principal{}, fmt.Errorf("%w: %w", ErrTokenSignature, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return Principal{}, fmt.Errorf("%w: %w", ErrTokenExpired, err)
	default:
		return Principal{}, fmt.Errorf("%w: %w", ErrTokenMalformed, err)
	}
	if c.Subject == "" {
		return Principal{}, ErrTokenSubject
	}
	if c.Use != use {
		return Principal{}, fmt.Errorf("%w: a %s token where a %s token is needed", ErrTokenMalformed, c.Use, use)
	}
	sub, err := uuid.Parse(c.Subject)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: subject: %w", ErrTokenMalformed, err)
	}
	jti, err := uuid.Parse(c.ID)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: jti: %w", ErrTokenMalformed, err)
	}
	sid, err := uuid.Parse(c.Session)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: sid: %w", ErrTokenMalformed, err)
	}
	return Principal{
		Actor:     domain.Actor{ID: sub, Role: c.Role},
		Email:     c.Email,
		TokenID:   jti,
		Session:   sid,
		ExpiresAt: c.ExpiresAt.Time,
	}, nil
}
