package auth

import (
	"strings"
	"testing"
)

func TestPasswordHashing(t *testing.T) {
	p := Argon2Params{Memory: 64, Time: 1, Threads: 1}
	h1, err := hashPassword("abcd123!", p)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashPassword("abcd123!", p)
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(h1, "abcd123!") {
		t.Fatalf("hash %q", h1)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{{"abcd123!", true}, {"abcd123?", false}, {"", false}, {"ABCD123!", false}} {
		got, err := verifyPassword(tt.password, h1)
		if err != nil || got != tt.want {
			t.Fatalf("verify(%q) = %v, %v; want %v", tt.password, got, err, tt.want)
		}
	}
	// The parameters travel with the hash: a hash made with other costs still verifies.
	h3, _ := hashPassword("abcd123!", Argon2Params{Memory: 128, Time: 2, Threads: 2})
	if ok, err := verifyPassword("abcd123!", h3); !ok || err != nil {
		t.Fatalf("verify with other parameters: %v, %v", ok, err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=x$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5"} {
		if _, err := verifyPassword("x", bad); err == nil {
			t.Fatalf("verify against %q: no error", bad)
		}
	}
}
