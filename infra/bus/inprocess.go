package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// ErrNoSubscriber is returned by an in-process Publish to a topic that must not lose messages
// (InProcessConfig.RequireSubscriber) while nothing subscribes to it. The relay retries then, so
// the events wait in the log until the consumer is up.
var ErrNoSubscriber = errors.New("no subscriber for topic")

// ErrNotDelivered is returned by an in-process Publish when a subscriber went away before it
// acknowledged the message: the message may not have been handled, so the publisher must retry.
var ErrNotDelivered = errors.New("message not acknowledged by every subscriber")

// deliveryKey is the metadata key of the id that matches a delivered copy to its Publish call.
const deliveryKey = "_inprocess_delivery"

// InProcessConfig configures an InProcess bus.
type InProcessConfig struct {
	// Shards is the number of Watermill GoChannels messages are spread over by stream (default
	// 256, the relay's default number of workers, so that each worker has a shard of its own). A GoChannel handles one blocking publish per topic at a time, so shards are how many
	// messages of one topic can be in flight at once.
	Shards int
	// RequireSubscriber lists the topics whose messages matter even before anyone subscribes:
	// Publish to them fails with ErrNoSubscriber until a subscriber is there. Messages to other
	// topics without a subscriber are dropped, as nobody in the process wants them.
	RequireSubscriber []string
	// Logger receives Watermill's logs; nil discards them.
	Logger watermill.LoggerAdapter
}

// InProcess is a Watermill Pub/Sub inside the process, made of GoChannels with
// BlockPublishUntilSubscriberAck: Publish returns once every subscriber of the topic acknowledged
// each message, in order. Messages are spread over the shards by their stream id, so one stream's
// messages stay in order and different streams are delivered concurrently. Unlike a bare
// GoChannel, Publish reports a message that a closing subscriber dropped (ErrNotDelivered) instead
// of returning as if it had been handled. Every Subscribe gets every message: there are no
// consumer groups in one process.
type InProcess struct {
	shards   []*gochannel.GoChannel
	required map[string]bool

	mu         sync.Mutex
	subs       map[string]int          // topic -> live subscriptions
	deliveries map[string]*deliveryAck // delivery id -> acknowledgements
	nextID     uint64
}

type deliveryAck struct{ acked int }

var (
	_ message.Publisher  = (*InProcess)(nil)
	_ message.Subscriber = (*InProcess)(nil)
)

// NewInProcess returns an in-process bus.
func NewInProcess(cfg InProcessConfig) *InProcess {
	if cfg.Shards <= 0 {
		cfg.Shards = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = watermill.NopLogger{}
	}
	b := &InProcess{
		required:   make(map[string]bool),
		subs:       make(map[string]int),
		deliveries: make(map[string]*deliveryAck),
	}
	for _, t := range cfg.RequireSubscriber {
		b.required[t] = true
	}
	for range cfg.Shards {
		b.shards = append(b.shards, gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, cfg.Logger))
	}
	return b
}

func (b *InProcess) shard(msg *message.Message) *gochannel.GoChannel {
	h := fnv.New32a()
	_, _ = h.Write([]byte(msg.Metadata.Get(HeaderStream)))
	return b.shards[h.Sum32()%uint32(len(b.shards))]
}

// Publish delivers msgs in order, each to every subscriber of topic, and returns once all of them
// acknowledged it. A nacked message is delivered again.
func (b *InProcess) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		if err := b.publish(topic, msg); err != nil {
			return err
		}
	}
	return nil
}

// Wants reports whether a message published to topic now would go anywhere: a subscriber is
// there, or the topic requires one (RequireSubscriber). The relay builds no message for a topic
// nobody in the process wants, which Publish would drop.
func (b *InProcess) Wants(topic string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subs[topic] > 0 || b.required[topic]
}

func (b *InProcess) publish(topic string, msg *message.Message) error {
	b.mu.Lock()
	subs := b.subs[topic]
	if subs == 0 {
		b.mu.Unlock()
		if b.required[topic] {
			return fmt.Errorf("publish %s to %s: %w", msg.UUID, topic, ErrNoSubscriber)
		}
		return nil
	}
	b.nextID++
	id := fmt.Sprint(b.nextID)
	d := &deliveryAck{}
	b.deliveries[id] = d
	b.mu.Unlock()

	out := msg.Copy()
	out.Metadata.Set(deliveryKey, id)
	endSpan := tracePublish(topic, msg, out)
	err := b.shard(msg).Publish(topic, out)

	b.mu.Lock()
	delete(b.deliveries, id)
	acked := d.acked
	b.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("publish %s to %s: %w", msg.UUID, topic, err)
	} else if acked < subs {
		err = fmt.Errorf("publish %s to %s: %d of %d subscribers acknowledged: %w", msg.UUID, topic, acked, subs, ErrNotDelivered)
	}
	endSpan(err)
	return err
}

// Subscribe returns every message published to topic from now on until ctx ends or the bus
// closes. Each must be acknowledged (or nacked, to have it delivered again).
func (b *InProcess) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	ctx, cancel := context.WithCancel(ctx)
	var ins []<-chan *message.Message
	for _, s := range b.shards {
		in, err := s.Subscribe(ctx, topic)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("subscribe to %s: %w", topic, err)
		}
		ins = append(ins, in)
	}
	b.mu.Lock()
	b.subs[topic]++
	b.mu.Unlock()

	out := make(chan *message.Message)
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range in {
				b.forward(ctx, m, out)
			}
		}()
	}
	go func() {
		wg.Wait()
		b.mu.Lock()
		b.subs[topic]--
		b.mu.Unlock()
		cancel()
		close(out)
	}()
	return out, nil
}

// forward hands the consumer a copy of m and passes its ack or nack back to m, counting the ack
// first so that Publish sees it. A message the consumer never takes or answers before ctx ends is
// left unacknowledged; the GoChannel then gives up on it and Publish reports ErrNotDelivered.
func (b *InProcess) forward(ctx context.Context, m *message.Message, out chan<- *message.Message) {
	c := m.Copy()
	delete(c.Metadata, deliveryKey)
	c.SetContext(m.Context())
	select {
	case out <- c:
	case <-ctx.Done():
		return
	}
	go func() {
		select {
		case <-c.Acked():
			b.mu.Lock()
			if d := b.deliveries[m.Metadata.Get(deliveryKey)]; d != nil {
				d.acked++
			}
			b.mu.Unlock()
			m.Ack()
		case <-c.Nacked():
			m.Nack()
		case <-ctx.Done():
		}
	}()
}

// Close closes every shard; Subscribe channels close and blocked Publish calls return.
func (b *InProcess) Close() error {
	var errs []error
	for _, s := range b.shards {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
