package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// The one error path: whatever a handler returns is answered in the envelope with the status
// the mapping gives, and only unknown errors are logged, once, with the request id.
func TestHandlerErrorsMapToStatuses(t *testing.T) {
	var logs bytes.Buffer
	app, s := build(Deps{Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	tests := []struct {
		name   string
		err    error
		status int
		code   int
		fields map[string]string
		logged bool
	}{
		{"validation", (domain.Fields{"price": "must be between 1 and 100000000"}).Err(), 400, 400, map[string]string{"price": "must be between 1 and 100000000"}, false},
		{"business rule", domain.Invalidf("NOT_ON_SALE", "product is not on sale"), 422, 422, nil, false},
		{"not found", fmt.Errorf("load order: %w", domain.NotFoundf("ORDER_NOT_FOUND", "no order")), 404, 404, nil, false},
		{"conflict", domain.Conflictf("LINE_STATUS", "line is shipped"), 409, 409, nil, false},
		{"forbidden", domain.Forbiddenf("NOT_OWNER", "not yours"), 403, 403, nil, false},
		// The command side never gives up on a version conflict: one that reaches HTTP is a fault.
		{"version conflict", fmt.Errorf("place order: %w", &eventstore.WrongVersionError{Stream: "order-1", Actual: 3}), 500, 500, nil, true},
		{"token expired", fmt.Errorf("refresh: %w", auth.ErrTokenExpired), 401, 4002, nil, false},
		{"bad credentials", auth.ErrBadCredentials, 401, 401, nil, false},
		{"not fresh", statusError(http.StatusServiceUnavailable, "read model behind"), 503, 503, nil, false},
		{"unknown", fmt.Errorf("query: %w", errors.New("connection reset by peer")), 500, 500, nil, true},
	}
	for i, tt := range tests {
		path := fmt.Sprintf("/test/%d", i)
		huma.Register(s.api, op(huma.Operation{OperationID: fmt.Sprintf("test-%d", i), Method: http.MethodGet, Path: path, Summary: tt.name}, public),
			func(context.Context, *struct{}) (*Response[*Empty], error) { return nil, tt.err })
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.Header.Set("X-Request-ID", fmt.Sprintf("req-%d", i))
			resp, err := app.Test(r, -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			var env struct {
				Result Result `json:"result"`
				Data   *struct {
					Fields map[string]string `json:"fields"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("body is not the envelope: %s", body)
			}
			if resp.StatusCode != tt.status || env.Result.ResultCode != tt.code {
				t.Fatalf("got %d %s, want %d with result_code %d", resp.StatusCode, body, tt.status, tt.code)
			}
			if tt.fields != nil && (env.Data == nil || !reflect.DeepEqual(env.Data.Fields, tt.fields)) {
				t.Fatalf("fields: got %s, want %v", body, tt.fields)
			}
			if tt.code == 4002 && resp.Header.Get("Www-Authenticate") != `Bearer error="invalid_token"` {
				t.Fatalf("a token error returned by a handler lacks WWW-Authenticate: %v", resp.Header)
			}
			if tt.status == 500 && strings.Contains(string(body), "connection reset") {
				t.Fatalf("500 leaks its cause: %s", body)
			}
			n := strings.Count(logs.String(), `"msg":"request failed"`)
			if tt.logged != (n == 1) || n > 1 {
				t.Fatalf("logged %d times, want logged=%v: %s", n, tt.logged, logs.String())
			}
			if tt.logged && (!strings.Contains(logs.String(), fmt.Sprintf(`"request_id":"req-%d"`, i)) || !strings.Contains(logs.String(), tt.err.Error())) {
				t.Fatalf("500 log lacks request id or cause: %s", logs.String())
			}
		})
	}
}

// The JSON Schema patterns in struct tags must say what infra/auth checks.
func TestSchemaPatternsMatchAuthRules(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[AccountBody](), reflect.TypeFor[UserChangesBody](), reflect.TypeFor[AddressBody]()} {
		f, ok := typ.FieldByName("Phone")
		if !ok {
			t.Fatalf("%s has no Phone", typ)
		}
		if got := f.Tag.Get("pattern"); got != auth.PhonePattern {
			t.Fatalf("%s.Phone pattern %q, want auth.PhonePattern %q", typ, got, auth.PhonePattern)
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[AccountBody](), reflect.TypeFor[UserChangesBody]()} {
		f, _ := typ.FieldByName("Password")
		class := strings.TrimSuffix(strings.TrimPrefix(f.Tag.Get("pattern"), "^"), "*$")
		if !strings.HasPrefix(auth.PasswordPattern, "^"+class+"{8,16}$") || f.Tag.Get("minLength") != "8" || f.Tag.Get("maxLength") != "16" {
			t.Fatalf("%s.Password: pattern %q, length %s-%s; auth.PasswordPattern is %q", typ, f.Tag.Get("pattern"),
				f.Tag.Get("minLength"), f.Tag.Get("maxLength"), auth.PasswordPattern)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2, 3, 2) // 2 a second, bursts of 3, 2 buckets kept
	now := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _ := l.allow("a", now); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.allow("a", now)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("4th at once: allowed=%v wait=%v, want refused with 500ms", ok, wait)
	}
	if ok, _ := l.allow("b", now); !ok {
		t.Fatal("another key shares the bucket")
	}
	if ok, _ := l.allow("a", now.Add(500*time.Millisecond)); !ok {
		t.Fatal("refused after the wait it announced")
	}
	if ok, _ := l.allow("a", now.Add(600*time.Millisecond)); ok {
		t.Fatal("allowed with no token left")
	}
	// The map is bounded: a third key drops the least recently used bucket (b), not a.
	l.allow("c", now.Add(600*time.Millisecond))
	if n := l.buckets.Len(); n != 2 || l.buckets.Contains("b") || !l.buckets.Contains("a") {
		t.Fatalf("after a third key: %d buckets %v, want 2 with a kept and b dropped", n, l.buckets.Keys())
	}
	if got := retryAfter(0.2); got != "1" {
		t.Fatalf("retryAfter(0.2) = %s, want 1", got)
	}
	if got := retryAfter(1.5); got != "2" {
		t.Fatalf("retryAfter(1.5) = %s, want 2", got)
	}
}

func TestOperationWithoutAccessRuleIsRefused(t *testing.T) {
	_, s := build(Deps{})
	defer func() {
		if recover() == nil {
			t.Fatal("registering an operation not built with op() did not panic")
		}
	}()
	huma.Register(s.api, huma.Operation{OperationID: "bare", Method: http.MethodGet, Path: "/bare"},
		func(context.Context, *struct{}) (*Response[*Empty], error) { return nil, nil })
}
