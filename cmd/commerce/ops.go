package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/commerce-dev/commerce/httpapi"
)

// opsServer is the operations listener of a process that does not serve the HTTP API, or whose
// METRICS_ADDR puts them apart: /healthz, /readyz and /metrics, with the bodies the API's own
// endpoints answer, so that probes and scrapers treat every process alike.
type opsServer struct {
	srv *http.Server
	ln  net.Listener
}

// listenOps binds addr and returns the server; Serve starts answering.
func listenOps(addr string, checks []httpapi.Check, reg *prometheus.Registry, log *slog.Logger) (*opsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for operations on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeEnvelope(w, http.StatusOK, "", httpapi.Health{Status: "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ready, notReady := httpapi.CheckReadiness(r.Context(), checks, log)
		if notReady != "" {
			writeEnvelope(w, http.StatusServiceUnavailable, notReady, ready)
			return
		}
		writeEnvelope(w, http.StatusOK, "", ready)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &opsServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}, nil
}

// Addr is the bound address.
func (o *opsServer) Addr() string { return o.ln.Addr().String() }

// Serve answers until Shutdown; it returns nil then.
func (o *opsServer) Serve() error {
	if err := o.srv.Serve(o.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve operations on %s: %w", o.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting and waits for the requests in flight until ctx ends.
func (o *opsServer) Shutdown(ctx context.Context) error { return o.srv.Shutdown(ctx) }

// writeEnvelope writes data in the API's JSON envelope; description defaults to the status text.
func writeEnvelope[T any](w http.ResponseWriter, status int, description string, data T) {
	if description == "" {
		description = http.StatusText(status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(httpapi.Envelope[T]{
		Result: httpapi.Result{ResultCode: status, ResultMessage: http.StatusText(status), ResultDescription: description},
		Data:   data,
	})
}
