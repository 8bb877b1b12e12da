package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/commerce-dev/commerce/httpapi"
	"github.com/commerce-dev/commerce/infra/adminapi"
	"github.com/commerce-dev/commerce/infra/bus"
	"github.com/commerce-dev/commerce/infra/liveness"
	"github.com/commerce-dev/commerce/infra/relay"
	"github.com/commerce-dev/commerce/infra/telemetry"
	"github.com/commerce-dev/commerce/projections"
	"github.com/commerce-dev/commerce/readmodels"
)

// serve runs the roles of this process (ROLES: api, projector, relay, saga) until SIGINT or
// SIGTERM, then stops accepting requests, drains those in flight and the workers, and returns nil.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	version, _ := telemetry.Version()
	stopTracing, err := telemetry.StartTracing(ctx, os.Getenv, version)
	if err != nil {
		return err
	}
	defer func() {
		if err := stopTracing(context.WithoutCancel(ctx)); err != nil {
			log.Warn("spans not flushed at shutdown", "err", err)
		}
	}()
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()

	b := bus.New(bus.Config{Brokers: cfg.KafkaBrokers, SessionTimeout: cfg.KafkaSessionTimeout, Logger: log})
	defer b.Close()
	// With Kafka, the saga's stock requests go to the product's one writer in the cluster: the
	// saga process that owns the product's partition of the stock requests. The takeover, which
	// settles orders only when no saga did, writes the products itself.
	saga, stock := a.fulfil, b.Requests()
	if stock != nil {
		saga = a.fulfilment(stock)
	}
	// Without Kafka the API and the process manager share this process and its writers: an
	// order whose products are cached and idle is placed and settled in one append.
	if stock == nil && cfg.hasRole("api") && cfg.hasRole("saga") {
		a.handlers.PlaceOrder.SettleWith(a.fulfil)
	}

	// Workers run until workCtx ends; shutdown cancels it after the HTTP server has drained.
	workCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	var wg sync.WaitGroup
	worker := func(name string, run func(context.Context) error) {
		wg.Go(func() {
			if err := run(workCtx); err != nil && workCtx.Err() == nil {
				log.Error("worker stopped", "worker", name, "err", err)
			}
		})
	}

	ready := []httpapi.Check{
		{Name: "database", Ping: a.pool.Ping},
		{Name: "eventstore", Ping: a.store.Ping},
		{Name: "bus", Ping: b.Ping},
		{Name: "readmodels", Ping: a.readModelsExist},
		// Orders settle only while some relay publishes and some process manager consumes, in
		// whichever process: every process reads their liveness from the database.
		{Name: "relay", Ping: func(ctx context.Context) error { return liveness.Check(ctx, a.pool, liveness.Relay) }},
		{Name: "saga", Ping: func(ctx context.Context) error { return liveness.Check(ctx, a.pool, liveness.ProcessManager) }},
	}
	if cfg.hasRole("saga") {
		worker("fulfilment", func(ctx context.Context) error {
			bctx, stop := context.WithCancel(ctx)
			defer stop()
			// Consuming while it runs and its broker answers.
			go liveness.Beat(bctx, a.pool, liveness.ProcessManager, liveness.Polled(bctx, time.Second, b.Ping), log)
			return b.RunFulfilment(ctx, saga)
		})
		if stock != nil {
			worker("stock-writer", func(ctx context.Context) error { return stock.Serve(ctx, saga.ServeStock) })
			worker("stock-replies", stock.ListenReplies)
		}
	}
	if cfg.hasRole("api") {
		worker("order-outcomes", a.outcomes.Run)
		if b.Kafka() && cfg.TakeoverAfter > 0 {
			worker("saga-takeover", newTakeover(a.tail, a.fulfil, cfg.TakeoverAfter, log).Run)
		}
	}
	if cfg.hasRole("relay") {
		r := relay.New(a.store, a.pool, b.Publisher(), relay.Options{Logger: log, DurableOnly: len(cfg.KafkaBrokers) > 0, Log: a.tail})
		a.metrics.WatchRelay(r)
		worker("relay", r.Run)
		worker("relay-liveness", func(ctx context.Context) error {
			liveness.Beat(ctx, a.pool, liveness.Relay, r.Active, log)
			return nil
		})
	}
	if cfg.hasRole("projector") {
		worker("projections", a.runner.Run)
	}
	worker("token-purge", func(ctx context.Context) error { return a.auth.Run(ctx, 10*time.Minute) })
	worker("idempotency-purge", func(ctx context.Context) error { return a.idemKeys.Run(ctx, 10*time.Minute, log) })

	for _, c := range ready {
		a.metrics.WatchReady(c.Name, c.Ping)
	}

	// Listeners are bound before "serving" is logged, so that the line means connections are
	// accepted; a port in use stops the process at once.
	errc := make(chan error, 2)
	attrs := []any{"roles", cfg.Roles, "eventstore", cfg.EventStore, "kafka", len(cfg.KafkaBrokers) > 0}
	var ops *opsServer
	if !cfg.hasRole("api") || cfg.MetricsAddr != "" {
		if ops, err = listenOps(cfg.opsAddr(), ready, a.metrics.Registry, log); err != nil {
			stopWorkers()
			wg.Wait()
			return err
		}
		go func() { errc <- ops.Serve() }()
		attrs = append(attrs, "ops_addr", ops.Addr())
	}
	var api *fiber.App
	if cfg.hasRole("api") {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			if ops != nil {
				_ = ops.Shutdown(context.WithoutCancel(ctx))
			}
			stopWorkers()
			wg.Wait()
			return fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
		}
		api = httpapi.New(a.httpDeps(ready))
		go func() {
			if err := api.Listener(ln); err != nil {
				errc <- fmt.Errorf("serve HTTP on %s: %w", cfg.HTTPAddr, err)
			}
		}()
		attrs = append(attrs, "addr", ln.Addr().String())
	}
	log.Info("serving", attrs...)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	log.Info("shutting down: draining requests")
	if api != nil {
		if err := api.ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil {
			serveErr = errors.Join(serveErr, fmt.Errorf("drain HTTP server: %w", err))
		}
	}

	log.Info("shutting down: stopping workers")
	stopWorkers()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.ShutdownTimeout):
		serveErr = errors.Join(serveErr, errors.New("workers did not stop within SHUTDOWN_TIMEOUT"))
	}
	if ops != nil {
		// The operations listener answers until the workers are stopped, so probes see the drain.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := ops.Shutdown(sctx); err != nil {
			serveErr = errors.Join(serveErr, fmt.Errorf("drain operations listener: %w", err))
		}
		cancel()
	}
	log.Info("stopped")
	return serveErr
}

// readModelsExist fails until the projection runner has created every read-model table, so that
// a new deployment is not sent queries it can only answer with 500.
func (a *app) readModelsExist(ctx context.Context) error {
	var tables []string
	for _, p := range projectors() {
		for _, t := range p.Tables() {
			tables = append(tables, projections.LiveSchema+"."+t)
		}
	}
	var missing []string
	err := a.pool.QueryRow(ctx, `SELECT coalesce(array_agg(t), '{}') FROM unnest($1::text[]) t WHERE to_regclass(t) IS NULL`, tables).Scan(&missing)
	if err != nil {
		return fmt.Errorf("look up read-model tables: %w", err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("read-model tables not created yet: %v", missing)
	}
	return nil
}

// httpDeps is what the HTTP server needs from the wired process.
func (a *app) httpDeps(ready []httpapi.Check) httpapi.Deps {
	return httpapi.Deps{
		Log:     a.log,
		Auth:    a.auth,
		Ready:   ready,
		Metrics: a.metrics.Registry,
		Config: httpapi.Config{
			CORSOrigins:    a.cfg.CORSOrigins,
			RateLimit:      a.cfg.RateLimit,
			RateBurst:      a.cfg.RateBurst,
			TrustedProxies: a.cfg.TrustedProxies,
			RequestTimeout: a.cfg.RequestTimeout,
		},
		Commands:    a.handlers,
		Idempotency: a.idem,
		Reader:      readmodels.New(a.pool),
		Positions:   a.runner,
		Orders:      a.outcomes,
		Projections: adminapi.Projections{Runner: a.runner},
		Store:       a.store,
		Tracing:     telemetry.TracerProvider(),
		// The live-update streams and the console's tail follow the process's one tail of the log.
		Live: a.tail,
	}
}
