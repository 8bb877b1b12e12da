package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/postgres/pgtest"
)

var testSecrets = Secrets{User: "user-secret", Seller: "seller-secret", Supervisor: "supervisor-secret"}

func newService(t *testing.T, pool *pgxpool.Pool, change ...func(*Config)) *Service {
	t.Helper()
	cfg := Config{Secrets: testSecrets, Argon2: Argon2Params{Memory: 64, Time: 1, Threads: 1}}
	for _, c := range change {
		c(&cfg)
	}
	s, err := New(pool, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestEnsureAccountsAreIdempotent(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	s := newService(t, pool)
	ctx := t.Context()
	in := NewAccount{Name: "Test User", Email: "testUser1@aaa.com", Password: "uP@sswr0d!11", Phone: "01012345678"}
	id1, err := s.EnsureUser(ctx, in)
	if err != nil {
		t.Fatalf("EnsureUser: %v", err)
	}
	in.Password = "other123!"
	id2, err := s.EnsureUser(ctx, in)
	if err != nil || id2 != id1 {
		t.Fatalf("EnsureUser again = %v, %v; want %v", id2, err, id1)
	}
	if _, err := s.Login(ctx, "testuser1@aaa.com", "uP@sswr0d!11", domain.RoleUser); err != nil {
		t.Fatalf("the first password no longer logs in: %v", err)
	}
	u, err := s.User(ctx, id1)
	if err != nil || u.Profile.Grade != GradeBronze || u.Email != "testuser1@aaa.com" {
		t.Fatalf("User = %+v, %v", u, err)
	}
	sup, err := s.EnsureSupervisor(ctx, NewAccount{Name: "Super", Email: "testSuper1@aaa.com", Password: "spP@sswr0d!11"})
	if err != nil {
		t.Fatalf("EnsureSupervisor without phone: %v", err)
	}
	again, err := s.EnsureSupervisor(ctx, NewAccount{Name: "Super", Email: "testSuper1@aaa.com", Password: "spP@sswr0d!11"})
	if err != nil || again != sup {
		t.Fatalf("EnsureSupervisor again = %v, %v", again, err)
	}
	seller, err := s.EnsureSeller(ctx, NewAccount{Name: "Seller", Email: "testUser1@aaa.com", Password: "slP@sswr0d!11", Phone: "01012345678"})
	if err != nil || seller == id1 {
		t.Fatalf("EnsureSeller with a user's e-mail = %v, %v; want a separate seller", seller, err)
	}
	if _, err := s.EnsureSeller(ctx, NewAccount{Name: "Seller", Email: "x@aaa.com", Password: "slP@sswr0d!11"}); !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("EnsureSeller without phone: %v, want a validation error", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM user_profiles`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("profiles: %d, %v; want 1", n, err)
	}
}

// The database refuses what the service would refuse, whoever writes.
func TestDatabaseConstraints(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	s := newService(t, pool)
	ctx := t.Context()
	user, err := s.SignUp(ctx, NewAccount{Name: "U", Email: "u@example.com", Password: "abcd123!", Phone: "01012345678"})
	if err != nil {
		t.Fatal(err)
	}
	seller, err := s.CreateSeller(ctx, NewAccount{Name: "S", Email: "s@example.com", Password: "abcd123!", Phone: "01012345678"})
	if err != nil {
		t.Fatal(err)
	}
	insertAddress := func(owner uuid.UUID) error {
		_, err := pool.Exec(ctx, `INSERT INTO user_addresses (id, user_id, receiver, address1, address2, zipcode, phone, receive_type, receive_message)
			VALUES ($1, $2, 'r', 'a1', 'a2', '06236', '01012345678', 'DOOR', 'm')`, uuid.New(), owner)
		return err
	}
	for i := range 3 {
		if err := insertAddress(user.ID); err != nil {
			t.Fatalf("address %d: %v", i+1, err)
		}
	}
	var pg *pgconn.PgError
	if err := insertAddress(user.ID); !errors.As(err, &pg) || pg.ConstraintName != "user_addresses_at_most_3" {
		t.Fatalf("4th address by SQL: %v, want the trigger's refusal", err)
	}
	if err := insertAddress(seller.ID); !errors.As(err, &pg) || pg.Code != "23503" {
		t.Fatalf("address of a seller: %v, want a foreign key violation", err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO accounts (id, role, email, password_hash, name, phone) VALUES ($1, 'USER', 'U@example.com', '$argon2id$x', 'n', '01012345678')`, uuid.New())
	if !errors.As(err, &pg) || pg.Code != "23514" {
		t.Fatalf("upper-case e-mail by SQL: %v, want a check violation", err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO accounts (id, role, email, password_hash, name, phone) VALUES ($1, 'USER', 'u@example.com', '$argon2id$x', 'n', '01012345678')`, uuid.New())
	if !errors.As(err, &pg) || pg.ConstraintName != "accounts_role_email_key" {
		t.Fatalf("duplicate e-mail by SQL: %v", err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO accounts (id, role, email, password_hash, name, phone) VALUES ($1, 'USER', 'p@example.com', '$argon2id$x', 'n', '010-1234-5678')`, uuid.New())
	if !errors.As(err, &pg) || pg.Code != "23514" {
		t.Fatalf("bad phone by SQL: %v", err)
	}
	if _, err := s.SignUp(ctx, NewAccount{Name: "U2", Email: " U@Example.com ", Password: "abcd123!", Phone: "01012345678"}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("duplicate sign-up: %v, want Conflict", err)
	}
	if _, err := s.AddAddress(ctx, user.ID, AddressInput{Receiver: "r", Address1: "a", Address2: "b", Zipcode: "1", Phone: "01012345678", ReceiveType: "ETC", ReceiveMessage: "m"}); !errors.Is(err, &domain.Error{Kind: domain.Invalid, Code: CodeAddressLimit}) {
		t.Fatalf("4th address: %v, want ADDRESS_LIMIT", err)
	}
}

func TestTokenClaimsAndLifetimes(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	s := newService(t, pool, func(c *Config) { c.AccessTTL, c.RefreshTTL = 10*time.Minute, time.Hour })
	ctx := t.Context()
	id, err := s.EnsureSeller(ctx, NewAccount{Name: "S", Email: "s@example.com", Password: "abcd123!", Phone: "01012345678"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := s.Login(ctx, "s@example.com", "abcd123!", domain.RoleSeller)
	if err != nil {
		t.Fatal(err)
	}
	c := jwt.MapClaims{}
	tok, err := jwt.NewParser().ParseWithClaims(pair.AccessToken, c, func(*jwt.Token) (any, error) { return []byte(testSecrets.Seller), nil })
	if err != nil || tok.Method.Alg() != "HS256" {
		t.Fatalf("the access token does not verify with the seller secret: %v", err)
	}
	for _, claim := range []string{"sub", "role", "email", "jti", "iat", "exp"} {
		if c[claim] == nil || c[claim] == "" {
			t.Fatalf("claim %s missing: %v", claim, c)
		}
	}
	if c["sub"] != id.String() || c["role"] != "SELLER" || c["email"] != "s@example.com" {
		t.Fatalf("claims %v", c)
	}
	if life := c["exp"].(float64) - c["iat"].(float64); life != 600 {
		t.Fatalf("access token lives %vs, want 600", life)
	}
	r := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(pair.RefreshToken, r); err != nil || r["exp"].(float64)-r["iat"].(float64) != 3600 {
		t.Fatalf("refresh token lifetime: %v %v", r, err)
	}
	p, err := s.Authenticate(ctx, pair.AccessToken)
	if err != nil || p.Actor != (domain.Actor{ID: id, Role: domain.RoleSeller}) {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	// A service whose clock is two hours behind issued a token that has expired by now.
	past := newService(t, pool, func(c *Config) { c.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) } })
	old, err := past.Login(ctx, "s@example.com", "abcd123!", domain.RoleSeller)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, old.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("Authenticate(old token) = %v, want ErrTokenExpired", err)
	}
	if _, err := s.Authenticate(ctx, ""); !errors.Is(err, ErrTokenMissing) {
		t.Fatalf("Authenticate(\"\") = %v", err)
	}
}

func TestPurgeDropsOnlyExpiredRows(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	s := newService(t, pool)
	ctx := t.Context()
	if _, err := s.EnsureUser(ctx, NewAccount{Name: "U", Email: "u@example.com", Password: "abcd123!", Phone: "01012345678"}); err != nil {
		t.Fatal(err)
	}
	pair, err := s.Login(ctx, "u@example.com", "abcd123!", domain.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, p, pair.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO auth_revocations (id, kind, expires_at) VALUES ($1, 'TOKEN', now() - interval '1 second')`, uuid.New()); err != nil {
		t.Fatal(err)
	}
	n, err := s.Purge(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1 row", n, err)
	}
	// A fresh service (empty cache) still refuses the logged-out token: its row was kept.
	if _, err := newService(t, pool).Authenticate(ctx, pair.AccessToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("Authenticate after purge = %v, want ErrTokenRevoked", err)
	}
	if !strings.HasPrefix(pair.TokenType, "Bearer") {
		t.Fatalf("token type %q", pair.TokenType)
	}
}
