package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2Params is the cost of argon2id password hashing. Each hash records its own parameters,
// so raising the cost later keeps old hashes verifiable.
type Argon2Params struct {
	// Memory is in KiB.
	Memory uint32
	// Time is the number of passes.
	Time uint32
	// Threads is the parallelism.
	Threads uint8
}

// DefaultArgon2 is the OWASP baseline for argon2id: 19 MiB, 2 passes, 1 thread.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

var errBadHash = errors.New("not an argon2id hash")

// hashPassword returns the PHC string of password: $argon2id$v=19$m=..,t=..,p=..$salt$key.
func hashPassword(password string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generate salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// verifyPassword reports whether password matches the PHC string hash, in constant time.
func verifyPassword(password, hash string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, errBadHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// ErrBusy refuses a password hash or check when every hashing slot stayed taken for
// Config.HashWait: the caller should try again shortly (HTTP 503 with Retry-After).
var ErrBusy = errors.New("too many password checks at once; try again shortly")

// hashSlots bounds the argon2id computations running at once, process-wide, so that bursts of
// sign-ups and logins queue for a while and are then refused instead of holding memory and CPU
// the machine does not have. Waiting holds neither.
type hashSlots struct {
	slots chan struct{}
	wait  time.Duration
}

func newHashSlots(n int, wait time.Duration) *hashSlots {
	return &hashSlots{slots: make(chan struct{}, n), wait: wait}
}

// do runs fn in a slot, waiting for one at most h.wait (ErrBusy) or until ctx ends.
func (h *hashSlots) do(ctx context.Context, fn func()) error {
	select {
	case h.slots <- struct{}{}:
	default:
		t := time.NewTimer(h.wait)
		defer t.Stop()
		select {
		case h.slots <- struct{}{}:
		case <-t.C:
			return ErrBusy
		case <-ctx.Done():
			return fmt.Errorf("wait for a password hashing slot: %w", ctx.Err())
		}
	}
	defer func() { <-h.slots }()
	fn()
	return nil
}

// hash is hashPassword in a hashing slot.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	var (
		out string
		err error
	)
	if busy := s.slots.do(ctx, func() { out, err = hashPassword(password, s.cfg.Argon2) }); busy != nil {
		return "", busy
	}
	return out, err
}

// verify is verifyPassword in a hashing slot.
func (s *Service) verify(ctx context.Context, password, hash string) (bool, error) {
	var (
		match bool
		err   error
	)
	if busy := s.slots.do(ctx, func() { match, err = verifyPassword(password, hash) }); busy != nil {
		return false, busy
	}
	return match, err
}
