package main

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(map[string]string{"DATABASE_URL": "postgres://u@127.0.0.1:5432/db"}))
	if err != nil {
		t.Fatalf("loadConfig with only DATABASE_URL: %v", err)
	}
	if c.HTTPAddr != ":8080" || c.EventStore != "postgres" || c.AccessTTL != time.Hour || c.RefreshTTL != 12*time.Hour ||
		len(c.Roles) != 4 || c.RateBurst != 40 || c.production() {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestLoadConfigNamesEveryBadVariable(t *testing.T) {
	_, err := loadConfig(env(map[string]string{
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
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestLoadConfigRequiresDatabaseURL(t *testing.T) {
	_, err := loadConfig(env(nil))
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("error = %v, want one naming DATABASE_URL", err)
	}
}
