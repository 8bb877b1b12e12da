package commands

import "time"

// Observer is told what the command side does, for metrics. The lead implements it with
// Prometheus counters; commands does not import a metrics library. Methods are called on the
// command's goroutine and must not block.
type Observer interface {
	// Command is called once per handled command with its name ("PlaceOrder"), its outcome (nil,
	// a business error (*domain.Error) or a technical error) and how long it took.
	Command(name string, err error, took time.Duration)
	// Conflict is called for every append refused with eventstore.ErrWrongVersion. Stream is the
	// stream id; use domain.AggregateType(stream) as a label, not the id.
	Conflict(stream string)
	// Retry is called before every new attempt after a conflict; attempt is 2 for the first retry.
	Retry(stream string, attempt int)
	// SnapshotFailed is called when saving or reading a snapshot failed. The command itself goes
	// on: a snapshot only saves reading time.
	SnapshotFailed(stream string, err error)
	// StaleCache is called when a cached state at version turned out not to be the stream's
	// history any more (the store took back events) and the stream was loaded again.
	StaleCache(stream string, version int64)
}

// CommandNames are the names Observer.Command reports, one per handler, so that metrics can show
// every command at zero before its first use.
var CommandNames = []string{
	"AcceptLine", "ChangeProductStatus", "ConfirmCancel", "CreateBrand", "CreateCategory",
	"CreateItem", "CreateProduct", "DeleteReview", "DeliverLine", "EditItem", "EditProduct",
	"EditReview", "PlaceOrder", "RejectLine", "RenameBrand", "RenameCategory", "RequestCancel",
	"RestockProduct", "ShipLine", "WriteReview",
}

// NopObserver observes nothing.
type NopObserver struct{}

// Command does nothing.
func (NopObserver) Command(string, error, time.Duration) {}

// Conflict does nothing.
func (NopObserver) Conflict(string) {}

// Retry does nothing.
func (NopObserver) Retry(string, int) {}

// SnapshotFailed does nothing.
func (NopObserver) SnapshotFailed(string, error) {}

// StaleCache does nothing.
func (NopObserver) StaleCache(string, int64) {}

// BatchObserver is an Observer that also wants to know the size of every batch a stream's writer
// takes: the number of commands decided together and appended at once. Stream is the stream id;
// use domain.AggregateType(stream) as a label, not the id.
type BatchObserver interface {
	Batch(stream string, commands int)
}

// observeBatch tells obs of a batch when it is a BatchObserver.
func observeBatch(obs Observer, stream string, commands int) {
	if b, ok := obs.(BatchObserver); ok {
		b.Batch(stream, commands)
	}
}

// ConditionObserver is an Observer that also wants to know when a stream's writer had an append
// refused because a condition on another stream failed (eventstore.ErrConditionFailed): the
// commands that took facts from the cache (an order's products) or from an event (a reservation's
// order) then read them and decide again, so the count is how often the order path falls back to
// reading. Stream is the appended stream's id; use domain.AggregateType(stream) as a label.
type ConditionObserver interface {
	ConditionFailed(stream string)
}

// observeCondition tells obs of a failed condition when it is a ConditionObserver.
func observeCondition(obs Observer, stream string) {
	if c, ok := obs.(ConditionObserver); ok {
		c.ConditionFailed(stream)
	}
}
