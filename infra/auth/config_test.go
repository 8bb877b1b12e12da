package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	long := func(p string) string { return p + strings.Repeat("x", MinSecretLength) }
	good := Secrets{User: long("u"), Seller: long("s"), Supervisor: long("v")}
	tests := []struct {
		name       string
		cfg        Config
		production bool
		wantErr    string // "" means valid
	}{
		{"production with real secrets", Config{Secrets: good}, true, ""},
		{"development with short secrets", Config{Secrets: Secrets{User: "a", Seller: "b", Supervisor: "c"}}, false, ""},
		{"empty secret anywhere", Config{Secrets: Secrets{User: "a", Seller: "b"}}, false, "SUPERVISOR secret is empty"},
		{"short secret in production", Config{Secrets: Secrets{User: "short", Seller: good.Seller, Supervisor: good.Supervisor}}, true, "USER secret is shorter"},
		{"development secret in production", Config{Secrets: Secrets{User: long(DevSecretPrefix), Seller: good.Seller, Supervisor: good.Supervisor}}, true, "USER secret is a development secret"},
		{"shared secret in production", Config{Secrets: Secrets{User: good.User, Seller: good.User, Supervisor: good.Supervisor}}, true, "USER and SELLER share a secret"},
		{"access outlives refresh", Config{Secrets: good, AccessTTL: 2 * time.Hour, RefreshTTL: time.Hour}, false, "exceeds"},
		{"negative lifetime", Config{Secrets: good, AccessTTL: -time.Second}, false, "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate(tt.production)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Validate(%v) = %v, want nil", tt.production, err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate(%v) = %v, want an error containing %q", tt.production, err, tt.wantErr)
			}
		})
	}
}

func TestDevelopmentSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".data", "auth-secrets.json")
	first, err := DevelopmentSecrets(path)
	if err != nil {
		t.Fatalf("DevelopmentSecrets (create): %v", err)
	}
	if first.User == first.Seller || first.Seller == first.Supervisor || !strings.HasPrefix(first.User, DevSecretPrefix) {
		t.Fatalf("generated secrets: %+v", first)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v, mode %v, want 0600", err, info.Mode())
	}
	again, err := DevelopmentSecrets(path)
	if err != nil || again != first {
		t.Fatalf("DevelopmentSecrets (load) = %+v, %v; want the kept secrets", again, err)
	}
	if err := (Config{Secrets: first}).Validate(false); err != nil {
		t.Fatalf("development secrets refused in development: %v", err)
	}
	if err := (Config{Secrets: first}).Validate(true); err == nil {
		t.Fatal("development secrets accepted in production")
	}
	if err := os.WriteFile(path, []byte(`{"user":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := DevelopmentSecrets(path); err == nil {
		t.Fatal("a secrets file without every role's secret was accepted")
	}
}
