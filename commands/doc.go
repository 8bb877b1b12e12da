// Package commands runs the write side: every command handler loads an aggregate's stream, asks
// the domain to decide, and appends the resulting events with the expected version. A version
// conflict reloads and decides again (bounded, jittered, honouring the context); a business error
// from the domain is returned at once and never retried.
//
// Repo is the generic load–decide–append loop every handler (and the order-fulfilment process
// manager) uses. Loading a hot stream costs about the same at any length: a Repo keeps recent
// decided state in memory keyed by stream and version and reads only the tail after it, and saves a
// snapshot through the SnapshotStore port every N events.
//
// Every event carries Meta (correlation id, causation id, actor) in its metadata, taken from the
// context (WithMeta) or given explicitly. IdempotencyStore is the port behind the Idempotency-Key
// header: Idempotent runs a command once per account and key and replays its stored result.
//
// The package imports only the domain and the event store port; adapters for its ports live in
// infra/snapshot and infra/idempotency, and metrics come in through the Observer interface.
package commands
