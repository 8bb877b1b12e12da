package main

import "testing"

func TestAllowed(t *testing.T) {
	const mod = "example.com/m"
	std := map[string]bool{"fmt": true, "context": true, "net/http": true}
	tests := []struct {
		pkg, imp string
		want     bool
	}{
		{"domain/order", "fmt", true},
		{"domain/order", "github.com/google/uuid", true},
		{"domain/order", "example.com/m/domain", true},
		{"domain/order", "net/http", true}, // stdlib is allowed; I/O is a review matter
		{"domain/order", "github.com/jackc/pgx/v5", false},
		{"domain/order", "example.com/m/infra/eventstore", false},
		{"commands", "example.com/m/infra/eventstore", true},
		{"commands", "example.com/m/infra/eventstore/postgres", false},
		{"commands", "github.com/jackc/pgx/v5", false},
		{"commands", "go.opentelemetry.io/otel", true},
		{"commands", "go.opentelemetry.io/otel/trace", true},
		{"commands", "go.opentelemetry.io/otel/sdk/trace", false},
		{"projections", "go.opentelemetry.io/otel/exporters/otlp/otlptrace", false},
		{"readmodels", "example.com/m/commands", false},
		{"infra/eventstore", "github.com/jackc/pgx/v5", false},
		{"infra/eventstore/postgres", "github.com/jackc/pgx/v5", true},
		{"infra/eventstore/postgres", "example.com/m/commands", false},
		{"httpapi", "example.com/m/infra/eventstore/postgres", false},
		{"cmd/commerce", "example.com/m/infra/eventstore/postgres", true},
	}
	for _, tt := range tests {
		r, ok := ruleFor(tt.pkg)
		if !ok {
			t.Fatalf("ruleFor(%q): no rule", tt.pkg)
		}
		if got := allowed(r, mod, tt.imp, std); got != tt.want {
			t.Errorf("%s importing %s: allowed = %v, want %v", tt.pkg, tt.imp, got, tt.want)
		}
	}
}
