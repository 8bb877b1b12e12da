// Package commands runs the write side: every command handler asks the domain to decide on an
// aggregate's current state and appends the resulting events with the expected version; a
// business error from the domain is returned at once and never retried.
//
// Repo is the one write path, for every handler and the order-fulfilment process manager alike:
// each stream has one writer in a process (writer.go), which decides the commands waiting for it
// in turn, each on the state the previous one left, and appends them together. Commands of one
// process so never conflict; a conflict with another process reads the stream and decides again,
// with a jittered, growing pause, until the command's context ends (retry.go). Loading a hot
// stream costs about the same at any length: a Repo keeps recent decided state in memory keyed by
// stream and version and reads only the tail after it (cache.go), and saves a snapshot through the
// SnapshotStore port every N events (snapshot.go).
//
// Every event carries Meta (correlation id, causation id, actor) in its metadata, taken from the
// context (WithMeta) or given explicitly. IdempotencyStore is the port behind the Idempotency-Key
// header: Idempotent runs a command once per account and key and replays its stored result.
//
// The package imports only the domain and the event store port; adapters for its ports live in
// infra/snapshot and infra/idempotency, and metrics come in through the Observer interface.
package commands
