package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/commerce-dev/commerce/commands"
	"github.com/commerce-dev/commerce/infra/auth"
	"github.com/commerce-dev/commerce/infra/eventstore"
	"github.com/commerce-dev/commerce/infra/eventstore/kurrentdb"
	"github.com/commerce-dev/commerce/infra/eventstore/logtail"
	pgstore "github.com/commerce-dev/commerce/infra/eventstore/postgres"
	"github.com/commerce-dev/commerce/infra/idempotency"
	"github.com/commerce-dev/commerce/infra/postgres"
	"github.com/commerce-dev/commerce/infra/snapshot"
	"github.com/commerce-dev/commerce/infra/telemetry"
	"github.com/commerce-dev/commerce/projections"
)

// app is the wired process: the one place where adapters are chosen.
type app struct {
	cfg      config
	log      *slog.Logger
	pool     *pgxpool.Pool
	store    eventstore.Store
	tail     *logtail.Tail // the process's one tail of the log, for every follower
	closers  []func()
	metrics  *telemetry.Metrics
	repos    *commands.Repos
	handlers *commands.Handlers
	idem     *commands.Idempotency
	idemKeys *idempotency.Store
	fulfil   *commands.Fulfilment
	outcomes *commands.Outcomes
	runner   *projections.Runner
	auth     *auth.Service
}

// projectors are the read models this binary keeps.
func projectors() []projections.Projector {
	return []projections.Projector{projections.NewCatalog(), projections.NewOrders(), projections.NewReviews()}
}

// openApp connects to the database, applies the migrations and builds the command side, the
// projection runner and the account service.
func openApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	var names []string
	for _, p := range projectors() {
		names = append(names, p.Name())
	}
	a := &app{cfg: cfg, log: log, metrics: telemetry.New(names...)}
	pool, err := postgres.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a.pool = pool
	a.closers = append(a.closers, pool.Close)
	a.metrics.WatchPool(pool)
	if err := postgres.Migrate(ctx, pool, log); err != nil {
		a.close()
		return nil, err
	}
	switch cfg.EventStore {
	case "kurrentdb":
		ks, err := kurrentdb.Dial(cfg.KurrentDBURL)
		if err != nil {
			a.close()
			return nil, fmt.Errorf("connect to KurrentDB: %w", err)
		}
		a.store = ks
		a.closers = append(a.closers, func() { _ = ks.Close() })
	default:
		a.store = pgstore.New(pool)
	}
	commandCfg := commands.Config{
		Snapshots:     snapshot.New(pool),
		SnapshotEvery: int64(cfg.SnapshotEvery),
		Observer:      a.metrics.Commands(),
	}
	a.repos = commands.NewRepos(a.store, commandCfg)
	a.handlers = commands.NewHandlers(a.repos, commandCfg)
	a.idemKeys = idempotency.New(pool)
	a.idem = commands.NewIdempotency(a.idemKeys)
	a.tail = logtail.New(a.store, logtail.Options{})
	a.outcomes = commands.NewOutcomes(a.store, a.repos, commands.OutcomesConfig{Log: a.tail, Logger: log})
	a.fulfil = a.fulfilment(nil)
	a.runner, err = projections.NewRunner(pool, a.store, projectors(), projections.Options{
		Metrics: a.metrics.Projections(),
		Logger:  log,
		Tracer:  telemetry.Tracer("github.com/commerce-dev/commerce/projections"),
		Log:     a.tail,
	})
	if err != nil {
		a.close()
		return nil, fmt.Errorf("create projection runner: %w", err)
	}
	a.closers = append(a.closers, a.runner.Close)
	secrets := auth.Secrets{User: cfg.SecretUser, Seller: cfg.SecretSeller, Supervisor: cfg.SecretSuper}
	if !cfg.production() && (secrets.User == "" || secrets.Seller == "" || secrets.Supervisor == "") {
		dev, err := auth.DevelopmentSecrets(cfg.SecretsFile)
		if err != nil {
			a.close()
			return nil, fmt.Errorf("load development secrets: %w", err)
		}
		secrets = fillSecrets(secrets, dev)
	}
	authCfg := auth.Config{Secrets: secrets, AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, HashConcurrency: cfg.HashConcurrency, Log: log}
	if err := authCfg.Validate(cfg.production()); err != nil {
		a.close()
		return nil, fmt.Errorf("JWT_SECRET_*: %w", err)
	}
	a.auth, err = auth.New(pool, authCfg)
	if err != nil {
		a.close()
		return nil, fmt.Errorf("create account service: %w", err)
	}
	return a, nil
}

// fillSecrets keeps the secrets set in the environment and takes the rest from dev.
func fillSecrets(s, dev auth.Secrets) auth.Secrets {
	if s.User == "" {
		s.User = dev.User
	}
	if s.Seller == "" {
		s.Seller = dev.Seller
	}
	if s.Supervisor == "" {
		s.Supervisor = dev.Supervisor
	}
	return s
}

// close releases what openApp opened, last opened first.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

// fulfilment returns a process manager on the app's repos. The outcome waiter hears of the orders
// it settles at once, not via the log. stock, when not nil, carries its stock requests to the
// products' writers in the cluster.
func (a *app) fulfilment(stock commands.StockTransport) *commands.Fulfilment {
	return commands.NewFulfilment(a.repos, commands.FulfilmentConfig{Observer: a.metrics.Fulfilment(), Outcomes: a.outcomes, Stock: stock})
}
