package main

import (
	"maps"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(envMap(map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1:5432/db"}))
	if err != nil {
		t.Fatalf("loadConfig with only DATABASE_URL: %v", err)
	}
	if c.HTTPAddr != ":8080" || c.EventStore != "postgres" || c.AccessTTL != time.Hour || c.RefreshTTL != 12*time.Hour ||
		len(c.Roles) != 4 || c.RateBurst != 40 || c.production() {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestLoadConfigNamesEveryBadVariable(t *testing.T) {
	_, err := loadConfig(envMap(map[string]string{
		"DATABASE_URL":     "mysql://x",
		"HTTP_ADDR":        "8080",
		"EVENTSTORE":       "kurrentdb",
		"LOG_LEVEL":        "loud",
		"ROLES":            "api,cron",
		"ACCESS_TOKEN_TTL": "-1s",
		"RATE_BURST":       "zero",
		"TRUSTED_PROXIES":  "10.0.0.0/8,proxy",
	}))
	if err == nil {
		t.Fatal("loadConfig accepted bad values")
	}
	for _, name := range []string{"DATABASE_URL", "HTTP_ADDR", "KURRENTDB_URL", "LOG_LEVEL", "ROLES", "ACCESS_TOKEN_TTL", "RATE_BURST", "TRUSTED_PROXIES"} {
		if n := strings.Count(err.Error(), name+"="); n != 1 && name != "KURRENTDB_URL" {
			t.Errorf("error names %s= %d times, want once:\n%v", name, n, err)
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestLoadConfigRequiresDatabaseURL(t *testing.T) {
	_, err := loadConfig(envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("error = %v, want one naming DATABASE_URL", err)
	}
}

func TestLoadConfigNeverEchoesSecrets(t *testing.T) {
	for _, url := range []string{"postgresql//commerce:hunter2@db:5432/shop", "mysql://commerce:hunter2@db/shop"} {
		_, err := loadConfig(envMap(map[string]string{"DATABASE_URL": url, "JWT_SECRET_USER": "hunter2", "ACCESS_TOKEN_TTL": "hunter2"}))
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
			t.Fatalf("loadConfig(DATABASE_URL=%s) = %v, want an error naming DATABASE_URL", url, err)
		}
		if strings.Contains(strings.ReplaceAll(err.Error(), "ACCESS_TOKEN_TTL=\"hunter2\"", ""), "hunter2") {
			t.Fatalf("loadConfig(DATABASE_URL=%s) error shows the password:\n%v", url, err)
		}
	}
}

func TestLoadConfigRefusesSplitRolesWithoutBroker(t *testing.T) {
	base := map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1:5432/db"}
	for _, tt := range []struct {
		roles, brokers string
		ok             bool
	}{
		{"api,saga", "", false},
		{"relay,projector", "", false},
		{"relay", "", false},
		{"api,projector", "", true},
		{"api,relay,saga", "", true},
		{"api,saga", "127.0.0.1:9092", true},
		{"relay,projector", "127.0.0.1:9092", true},
	} {
		m := maps.Clone(base)
		m["ROLES"], m["KAFKA_BROKERS"] = tt.roles, tt.brokers
		_, err := loadConfig(envMap(m))
		if tt.ok && err != nil {
			t.Errorf("ROLES=%s KAFKA_BROKERS=%q: %v, want it accepted", tt.roles, tt.brokers, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "KAFKA_BROKERS")) {
			t.Errorf("ROLES=%s without KAFKA_BROKERS: error %v, want a refusal naming KAFKA_BROKERS", tt.roles, err)
		}
	}
}

func TestOpsAddr(t *testing.T) {
	for _, tt := range []struct{ roles, metrics, want string }{
		{"api,saga", "", ":8080"},
		{"api,saga", ":9100", ":9100"},
		{"relay,projector", "", ":9090"},
		{"relay,projector", "127.0.0.1:9200", "127.0.0.1:9200"},
	} {
		c, err := loadConfig(envMap(map[string]string{"DATABASE_URL": "postgres://u@h/db", "ROLES": tt.roles, "METRICS_ADDR": tt.metrics, "KAFKA_BROKERS": "k:9092"}))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.opsAddr(); got != tt.want {
			t.Errorf("ROLES=%s METRICS_ADDR=%q: opsAddr() = %q, want %q", tt.roles, tt.metrics, got, tt.want)
		}
	}
}
