// Package bus carries the event log to consumers through Watermill: to Kafka
// (watermill-kafka/v3 with sarama) when brokers are configured, else through an in-process
// Pub/Sub whose Publish returns once the subscribers acknowledged. The relay publishes one message
// per event (NewMessage) to the topic of the event's aggregate type (Topic), keyed by stream id;
// consumers turn messages back into records (Record) and run a handler over them (Consume).
package bus

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/commerce-dev/commerce/infra/eventstore"
)

// FulfilmentGroup is the consumer group of the order-fulfilment process manager.
const FulfilmentGroup = "order-fulfilment"

// OrderTopic is the topic of the order events.
const OrderTopic = TopicPrefix + "order"

// Config chooses and configures the transport.
type Config struct {
	// Brokers are the Kafka bootstrap brokers; none means the in-process bus.
	Brokers []string
	// ClientID names this process to Kafka (default "commerce").
	ClientID string
	// RequireSubscriber lists the in-process topics that must have a subscriber before a publish
	// succeeds (see InProcessConfig). The default is OrderTopic, which the order-fulfilment
	// process manager consumes.
	RequireSubscriber []string
	// SessionTimeout is how long Kafka waits for a consumer that stopped sending heartbeats (a
	// process killed or cut off) before it gives that consumer's partitions to the others of its
	// group; their messages wait that long. Default DefaultSessionTimeout. The broker refuses
	// a value below its group.min.session.timeout.ms (6 s unless changed).
	SessionTimeout time.Duration
	// Logger receives Watermill's logs, its info messages at debug level. Nil discards them.
	Logger *slog.Logger
}

// Bus is the configured transport: its publisher, subscribers for consumer groups, and a
// readiness check.
type Bus struct {
	cfg     Config
	logger  watermill.LoggerAdapter
	inproc  *InProcess
	kafkaPb *KafkaPublisher
}

// New returns the Kafka bus when cfg.Brokers is set, else the in-process one. Neither connects
// yet: Kafka may be down at start.
func New(cfg Config) *Bus {
	if cfg.ClientID == "" {
		cfg.ClientID = "commerce"
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.RequireSubscriber == nil {
		cfg.RequireSubscriber = []string{OrderTopic}
	}
	b := &Bus{cfg: cfg, logger: watermill.NopLogger{}}
	if cfg.Logger != nil {
		b.logger = watermill.NewSlogLoggerWithLevelMapping(cfg.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	}
	if len(cfg.Brokers) > 0 {
		b.kafkaPb = NewKafkaPublisher(cfg.Brokers, cfg.ClientID)
	} else {
		b.inproc = NewInProcess(InProcessConfig{RequireSubscriber: cfg.RequireSubscriber, Logger: b.logger})
	}
	return b
}

// Kafka reports whether the bus is Kafka.
func (b *Bus) Kafka() bool { return b.kafkaPb != nil }

// Publisher returns the bus's publisher. It is safe for concurrent use.
func (b *Bus) Publisher() message.Publisher {
	if b.kafkaPb != nil {
		return b.kafkaPb
	}
	return b.inproc
}

// Subscriber returns a subscriber in consumer group group. In process there are no groups: every
// subscriber gets every message.
func (b *Bus) Subscriber(group string) (message.Subscriber, error) {
	if b.kafkaPb != nil {
		return NewKafkaSubscriber(b.cfg.Brokers, b.cfg.ClientID, group, b.cfg.SessionTimeout, b.logger)
	}
	return nopClose{b.inproc}, nil
}

// nopClose keeps a consumer's Close from closing the shared in-process bus.
type nopClose struct{ *InProcess }

func (nopClose) Close() error { return nil }

// Ping checks that Kafka answers; the in-process bus is always ready.
func (b *Bus) Ping(ctx context.Context) error {
	if b.kafkaPb == nil {
		return nil
	}
	return PingKafka(ctx, b.cfg.Brokers, b.cfg.ClientID)
}

// Close closes the publisher (and the in-process bus).
func (b *Bus) Close() error {
	if b.kafkaPb != nil {
		return b.kafkaPb.Close()
	}
	return b.inproc.Close()
}

// Handler is what consumes events from the bus, such as the order-fulfilment process manager.
type Handler interface {
	// Handle handles one event. An error has the message delivered again later.
	Handle(ctx context.Context, rec eventstore.Record) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, rec eventstore.Record) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, rec eventstore.Record) error { return f(ctx, rec) }

// RunFulfilment runs the order-fulfilment process manager h on the order topic in its consumer
// group until ctx ends (then it returns nil). In process it is Consume. With Kafka, each
// partition's messages are handled in waves (consumeWaves): the events of different orders at
// once, those of one order (one stream, one key) one after the other, so that the orders of a
// partition do not wait for each other, and their stock requests reach a product's writer
// together. A failed event is handled again, after a pause, until it succeeds, and the events of
// its order after it wait, as they would for a nacked message delivered again.
func (b *Bus) RunFulfilment(ctx context.Context, h Handler) error {
	if b.kafkaPb == nil {
		return b.Consume(ctx, FulfilmentGroup, []string{OrderTopic}, h)
	}
	for {
		err := b.consumeWaves(ctx, FulfilmentGroup, []string{OrderTopic}, func(ctx context.Context, wave []*sarama.ConsumerMessage) {
			b.handleWave(ctx, FulfilmentGroup, h, wave)
		})
		if ctx.Err() != nil {
			return nil
		}
		b.warn("bus consumer stopped, restarting", "group", FulfilmentGroup, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// handleWave handles a wave's messages: those of one stream in order, the streams at once, each
// until it is handled (handleUntilDone). It returns when all are handled or ctx ended.
func (b *Bus) handleWave(ctx context.Context, group string, h Handler, wave []*sarama.ConsumerMessage) {
	chains := make(map[string][]*message.Message)
	var keys []string
	for _, m := range wave {
		msg, err := marshaler.Unmarshal(m)
		if err != nil {
			b.logError("drop message that is not a Watermill message", "topic", m.Topic, "offset", m.Offset, "err", err)
			continue
		}
		k := string(m.Key)
		if _, ok := chains[k]; !ok {
			keys = append(keys, k)
		}
		chains[k] = append(chains[k], msg)
	}
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Go(func() {
			for _, msg := range chains[k] {
				if !b.handleUntilDone(ctx, group, h, msg) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// handleUntilDone handles msg (handle) again, after a pause, until it is handled; false when ctx
// ended first.
func (b *Bus) handleUntilDone(ctx context.Context, group string, h Handler, msg *message.Message) bool {
	for b.handle(ctx, group, h, msg) != nil {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(nackResendSleep):
		}
	}
	return true
}

// nackResendSleep is how long a message that could not be handled waits before it is handled
// again.
const nackResendSleep = 100 * time.Millisecond

// Consume runs h over every event of topics as consumer group group, through a Watermill router,
// until ctx ends; then it returns nil. Messages are handled concurrently (in Kafka, one at a
// time per partition). A failed message is retried a few times with backoff and then nacked, so
// that the transport delivers it again. A message that is not an event is logged and dropped.
// When the subscription cannot be made (Kafka down) it tries again every few seconds.
func (b *Bus) Consume(ctx context.Context, group string, topics []string, h Handler) error {
	for {
		err := b.consumeOnce(ctx, group, topics, h)
		if ctx.Err() != nil {
			return nil
		}
		b.warn("bus consumer stopped, restarting", "group", group, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

func (b *Bus) consumeOnce(ctx context.Context, group string, topics []string, h Handler) error {
	sub, err := b.Subscriber(group)
	if err != nil {
		return err
	}
	defer sub.Close()
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, b.logger)
	if err != nil {
		return fmt.Errorf("create router: %w", err)
	}
	for _, topic := range topics {
		router.AddConsumerHandler(group+"."+topic, topic, sub, func(msg *message.Message) error {
			return b.handle(msg.Context(), group, h, msg)
		})
	}
	if err := router.Run(ctx); err != nil {
		return fmt.Errorf("run consumer group %s: %w", group, err)
	}
	return nil
}

// handle turns msg into the event it carries and handles it with h (handleWithRetry); an error
// means it must be delivered again. A message that is not an event is logged and dropped.
func (b *Bus) handle(ctx context.Context, group string, h Handler, msg *message.Message) error {
	rec, err := Record(msg)
	if err != nil {
		b.logError("drop message that is not an event", "group", group, "message", msg.UUID, "err", err)
		return nil
	}
	err = handleWithRetry(consumeContext(ctx, msg), h, rec)
	if err != nil {
		b.warn("event not handled, delivering it again", "group", group, "event_id", rec.ID,
			"event_type", rec.Type, "correlation_id", msg.Metadata.Get(HeaderCorrelationID), "err", err)
	}
	return err
}

func (b *Bus) logError(msg string, args ...any) {
	if b.cfg.Logger != nil {
		b.cfg.Logger.Error(msg, args...)
	}
}

// handleWithRetry calls h, and again after a growing, jittered pause while it fails, up to five
// times in all; the last error is returned (and the message nacked).
func handleWithRetry(ctx context.Context, h Handler, rec eventstore.Record) error {
	pause := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := h.Handle(ctx, rec)
		if err == nil || attempt == 5 || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause/2 + rand.N(pause)):
		}
		pause *= 2
	}
}
