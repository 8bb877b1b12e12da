package auth

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/commerce-dev/commerce/domain"
)

// Defaults used when a Config field is zero.
const (
	// DefaultAccessTTL is how long an access token lives.
	DefaultAccessTTL = time.Hour
	// DefaultRefreshTTL is how long a refresh token lives.
	DefaultRefreshTTL = 12 * time.Hour
	// DefaultRevocationCacheTTL is how long a "not revoked" answer from the database is trusted.
	// A logout in this process takes effect at once; one in another process within this time.
	DefaultRevocationCacheTTL = 3 * time.Second
	// DefaultRevocationFallback is how long after the database last answered a revocation check
	// the last known answers stand in for it while it fails (see Config.RevocationFallback).
	DefaultRevocationFallback = 30 * time.Second
	// DefaultClockSkew is the leeway on a token's iat and exp: the clock difference between
	// instances that is tolerated.
	DefaultClockSkew = 30 * time.Second
	// DefaultHashWait is how long a request waits for a password hashing slot before ErrBusy.
	DefaultHashWait = time.Second
	// MinSecretLength is the shortest secret, in bytes, that production accepts.
	MinSecretLength = 32
	// DevSecretPrefix starts every secret that DevelopmentSecrets generates; production refuses
	// secrets that carry it.
	DevSecretPrefix = "dev-"
)

// Config configures the Service. The lead parses it from the environment in cmd/commerce.
type Config struct {
	// Secrets are the HS256 secrets, one per role.
	Secrets Secrets
	// AccessTTL is the access token lifetime; zero means DefaultAccessTTL.
	AccessTTL time.Duration
	// RefreshTTL is the refresh token lifetime; zero means DefaultRefreshTTL.
	RefreshTTL time.Duration
	// RevocationCacheTTL bounds how stale a revocation check may be for tokens revoked by
	// another process; zero means DefaultRevocationCacheTTL.
	RevocationCacheTTL time.Duration
	// RevocationFallback bounds how long a failing database is covered: for that long after its
	// last answer, a token's revocation check takes the last answer known for that token (not
	// revoked when none), so that a short outage does not fail valid tokens; later checks fail
	// with ErrUnavailable. Zero means DefaultRevocationFallback.
	RevocationFallback time.Duration
	// ClockSkew is the leeway on iat and exp; zero means DefaultClockSkew.
	ClockSkew time.Duration
	// Argon2 sets the password hashing cost; the zero value means DefaultArgon2.
	Argon2 Argon2Params
	// HashConcurrency bounds the argon2id hashes computed at once, process-wide: each holds
	// Argon2.Memory and a core. Zero means runtime.GOMAXPROCS(0).
	HashConcurrency int
	// HashWait is how long a sign-up, login or password change waits for a hashing slot before
	// it is refused with ErrBusy; zero means DefaultHashWait.
	HashWait time.Duration
	// Now is the clock; nil means time.Now. Tests set it to issue tokens in the past.
	Now func() time.Time
	// Log receives the purge worker's warnings; nil discards them.
	Log *slog.Logger
}

// Secrets holds each role's token signing secret. A token signed with one role's secret never
// verifies as another role's.
type Secrets struct {
	// User signs USER tokens.
	User string `json:"user"`
	// Seller signs SELLER tokens.
	Seller string `json:"seller"`
	// Supervisor signs SUPERVISOR tokens.
	Supervisor string `json:"supervisor"`
}

func (s Secrets) byRole() map[domain.Role]string {
	return map[domain.Role]string{
		domain.RoleUser:       s.User,
		domain.RoleSeller:     s.Seller,
		domain.RoleSupervisor: s.Supervisor,
	}
}

func (c Config) withDefaults() Config {
	if c.AccessTTL == 0 {
		c.AccessTTL = DefaultAccessTTL
	}
	if c.RefreshTTL == 0 {
		c.RefreshTTL = DefaultRefreshTTL
	}
	if c.RevocationCacheTTL == 0 {
		c.RevocationCacheTTL = DefaultRevocationCacheTTL
	}
	if c.RevocationFallback == 0 {
		c.RevocationFallback = DefaultRevocationFallback
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	if c.HashConcurrency == 0 {
		c.HashConcurrency = runtime.GOMAXPROCS(0)
	}
	if c.HashWait == 0 {
		c.HashWait = DefaultHashWait
	}
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = DefaultArgon2
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem with c. Every environment needs a secret per role and positive
// lifetimes; production (ENV=production) also refuses secrets shorter than MinSecretLength,
// development secrets (DevSecretPrefix) and one secret shared by two roles.
func (c Config) Validate(production bool) error {
	c = c.withDefaults()
	var problems []string
	seen := map[string]domain.Role{}
	for _, role := range []domain.Role{domain.RoleUser, domain.RoleSeller, domain.RoleSupervisor} {
		secret := c.Secrets.byRole()[role]
		switch {
		case secret == "":
			problems = append(problems, fmt.Sprintf("%s secret is empty", role))
			continue
		case production && strings.HasPrefix(secret, DevSecretPrefix):
			problems = append(problems, fmt.Sprintf("%s secret is a development secret", role))
		case production && len(secret) < MinSecretLength:
			problems = append(problems, fmt.Sprintf("%s secret is shorter than %d bytes", role, MinSecretLength))
		}
		if other, ok := seen[secret]; ok && production {
			problems = append(problems, fmt.Sprintf("%s and %s share a secret", other, role))
		}
		seen[secret] = role
	}
	if c.AccessTTL < 0 || c.RefreshTTL < 0 || c.RevocationCacheTTL < 0 || c.RevocationFallback < 0 {
		problems = append(problems, "token lifetimes must be positive")
	}
	if c.ClockSkew < 0 || c.HashConcurrency < 0 || c.HashWait < 0 {
		problems = append(problems, "clock skew, hash concurrency and hash wait must be positive")
	}
	if c.AccessTTL > c.RefreshTTL {
		problems = append(problems, "the access token lifetime exceeds the refresh token lifetime")
	}
	if c.Argon2.Memory == 0 || c.Argon2.Time == 0 || c.Argon2.Threads == 0 {
		problems = append(problems, "argon2 memory, time and threads must be positive")
	}
	if len(problems) > 0 {
		return fmt.Errorf("auth config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// DevelopmentSecrets returns the development secrets kept in the file at path (for `make run`,
// .data/auth-secrets.json), creating it with fresh random secrets on first use. Each secret
// starts with DevSecretPrefix, so Validate(true) refuses them: they are for development only.
func DevelopmentSecrets(path string) (Secrets, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		var s Secrets
		if err := json.Unmarshal(data, &s); err != nil {
			return Secrets{}, fmt.Errorf("read development secrets %s: %w", path, err)
		}
		if s.User == "" || s.Seller == "" || s.Supervisor == "" {
			return Secrets{}, fmt.Errorf("read development secrets %s: a role's secret is missing", path)
		}
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Secrets{}, fmt.Errorf("read development secrets %s: %w", path, err)
	}
	var s Secrets
	for _, p := range []*string{&s.User, &s.Seller, &s.Supervisor} {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return Secrets{}, fmt.Errorf("generate development secret: %w", err)
		}
		*p = DevSecretPrefix + hex.EncodeToString(b)
	}
	data, err = json.MarshalIndent(s, "", "  ")
	if err != nil {
		return Secrets{}, fmt.Errorf("encode development secrets: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return Secrets{}, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return Secrets{}, fmt.Errorf("write development secrets %s: %w", path, err)
	}
	return s, nil
}
