package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"
)

// The topics and the consumer group of the stock requests (see Requests).
const (
	// StockRequestTopic carries the process manager's stock requests, keyed by product stream.
	StockRequestTopic = TopicPrefix + "stock-requests"
	// StockReplyTopic carries the answers back to the processes that asked.
	StockReplyTopic = TopicPrefix + "stock-replies"
	// StockWriterGroup is the consumer group of the processes that carry out stock requests: the
	// member that owns a product's partition is the product's only writer in the cluster.
	StockWriterGroup = "stock-writer"
)

// Headers of the request and reply messages.
const (
	headerRequestID = "request_id"
	headerReplyTo   = "reply_to"
)

// DefaultReplyTimeout is how long Request waits for an answer: longer than a session timeout
// and a rebalance, after which the partition's new owner has carried out the request again.
const DefaultReplyTimeout = 20 * time.Second

// RequestHandler carries out a wave of requests, in the order they came, and returns one answer
// per request. Requests of one stream may be carried out concurrently as long as their effect
// is as if in order; ctx ends when the partition is taken away, and then the answers are not sent.
type RequestHandler func(ctx context.Context, payloads [][]byte) [][]byte

// Requests is request and reply over Kafka, for the stock requests of the order-fulfilment
// process manager: Request publishes a request to StockRequestTopic keyed by the stream it is
// about, and Serve, run in the StockWriterGroup consumer group, carries out every request of the
// partitions this process owns and answers on StockReplyTopic (or directly, when the asker is
// this process). A stream's requests so reach one process of the cluster, whichever process
// asks, and that process's writer of the stream decides them together.
//
// Replies are keyed by the asker's address, so each asking process reads one partition of the
// reply topic (ListenReplies, from its end when it starts) and keeps the replies addressed to it. A reply can be lost (the asker restarted its listener, the
// server failed to publish it): Request then times out and the caller asks again, so requests
// must be idempotent. A request is carried out again after a crash or rebalance of its server
// (its offset is committed after the answer), in partition order.
//
// Watermill's Kafka subscriber hands a partition's messages over one at a time, so that the
// stream's writer would decide one request at a time; Serve uses sarama's consumer group
// directly to hand its handler every request that waits in a partition at once (a wave).
type Requests struct {
	bus  *Bus
	self string // this process's address for replies

	mu      sync.Mutex
	waiting map[string]chan []byte

	readyOnce sync.Once
	ready     chan struct{} // closed once ListenReplies reads the reply topic
}

// Requests returns the bus's request and reply channel, or nil when the bus is not Kafka: in one
// process, the product's writer is already the only one.
func (b *Bus) Requests() *Requests {
	if b.kafkaPb == nil {
		return nil
	}
	return &Requests{bus: b, self: uuid.NewString(), waiting: make(map[string]chan []byte), ready: make(chan struct{})}
}

// Request sends payload about stream to the process that serves the stream's partition and
// returns its answer. It waits for ListenReplies to read the reply topic first, and for the
// answer at most DefaultReplyTimeout.
func (q *Requests) Request(ctx context.Context, stream string, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultReplyTimeout)
	defer cancel()
	select {
	case <-q.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("request on %s: wait for the reply listener: %w", stream, ctx.Err())
	}
	id := uuid.NewString()
	ch := make(chan []byte, 1)
	q.mu.Lock()
	q.waiting[id] = ch
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		delete(q.waiting, id)
		q.mu.Unlock()
	}()
	msg := message.NewMessage(id, payload)
	msg.Metadata.Set(HeaderStream, stream)
	msg.Metadata.Set(headerRequestID, id)
	msg.Metadata.Set(headerReplyTo, q.self)
	// The request's publish span is then a child of the asker's span.
	propagation.TraceContext{}.Inject(ctx, propagation.MapCarrier(msg.Metadata))
	if err := q.bus.kafkaPb.Publish(StockRequestTopic, msg); err != nil {
		return nil, fmt.Errorf("request on %s: %w", stream, err)
	}
	select {
	case answer := <-ch:
		return answer, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("request %s on %s: no answer: %w", id, stream, ctx.Err())
	}
}

// deliver hands answer to the Request waiting for request id, if it still waits.
func (q *Requests) deliver(id string, answer []byte) {
	q.mu.Lock()
	ch := q.waiting[id]
	q.mu.Unlock()
	if ch != nil {
		select {
		case ch <- answer:
		default:
		}
	}
}

// ListenReplies reads the reply topic from its end until ctx ends (then it returns nil), and
// hands the replies addressed to this process to their Requests. It reconnects after a failure.
func (q *Requests) ListenReplies(ctx context.Context) error {
	for {
		err := q.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		q.warn("stock reply listener stopped, restarting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (q *Requests) listen(ctx context.Context) error {
	c := saramaConfig(q.bus.cfg.ClientID)
	c.Consumer.Return.Errors = false
	consumer, err := sarama.NewConsumer(q.bus.cfg.Brokers, c)
	if err != nil {
		return fmt.Errorf("connect the reply listener: %w", err)
	}
	defer consumer.Close()
	partitions, err := consumer.Partitions(StockReplyTopic)
	if err != nil {
		return fmt.Errorf("list the partitions of %s: %w", StockReplyTopic, err)
	}
	// Replies are keyed by their asker: all of this process's are in the partition the
	// producers' hash partitioner picks for its address.
	mine, err := sarama.NewHashPartitioner(StockReplyTopic).Partition(
		&sarama.ProducerMessage{Topic: StockReplyTopic, Key: sarama.StringEncoder(q.self)}, int32(len(partitions)))
	if err != nil {
		return fmt.Errorf("find this process's partition of %s: %w", StockReplyTopic, err)
	}
	partitions = partitions[mine : mine+1]
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, p := range partitions {
		pc, err := consumer.ConsumePartition(StockReplyTopic, p, sarama.OffsetNewest)
		if err != nil {
			return fmt.Errorf("read %s partition %d: %w", StockReplyTopic, p, err)
		}
		wg.Go(func() {
			defer pc.AsyncClose()
			for {
				select {
				case <-ctx.Done():
					return
				case m, ok := <-pc.Messages():
					if !ok {
						cancel()
						return
					}
					if replyTo, id := header(m, headerReplyTo), header(m, headerRequestID); replyTo == q.self {
						q.deliver(id, m.Value)
					}
				}
			}
		})
	}
	q.readyOnce.Do(func() { close(q.ready) })
	<-ctx.Done()
	return errors.New("a partition consumer stopped")
}

// header returns the value of Kafka header key of m, or "".
func header(m *sarama.ConsumerMessage, key string) string {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

// Serve carries out the requests of the partitions this process owns in the StockWriterGroup,
// with h, until ctx ends (then it returns nil); it reconnects after a failure. Each partition's
// requests are handed to h in waves (consumeWaves): every request that waits, in order; the wave
// is answered and its offsets committed before the next one.
func (q *Requests) Serve(ctx context.Context, h RequestHandler) error {
	replies := make(chan []*message.Message, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { q.sendReplies(ctx, replies) })
	for {
		err := q.bus.consumeWaves(ctx, StockWriterGroup, []string{StockRequestTopic}, func(ctx context.Context, wave []*sarama.ConsumerMessage) {
			q.serveWave(ctx, h, replies, wave)
		})
		if ctx.Err() != nil {
			return nil
		}
		q.warn("stock request server stopped, restarting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// sendReplies publishes the replies of the waves, everything that waits in one batch, so that a
// partition's next wave does not wait for the broker to take the last one's answers.
func (q *Requests) sendReplies(ctx context.Context, replies <-chan []*message.Message) {
	for {
		var batch []*message.Message
		select {
		case <-ctx.Done():
			return
		case batch = <-replies:
		}
	more:
		for {
			select {
			case r := <-replies:
				batch = append(batch, r...)
			default:
				break more
			}
		}
		// A reply that is not sent costs its asker a timeout and a new request.
		if err := q.bus.kafkaPb.Publish(StockReplyTopic, batch...); err != nil {
			q.warn("stock replies not sent", "replies", len(batch), "err", err)
		}
	}
}

func (q *Requests) warn(msg string, args ...any) { q.bus.warn(msg, args...) }

// serveWave carries out a wave and hands its answers to their askers in this process and to
// sendReplies for the others; after ctx ended it answers none.
func (q *Requests) serveWave(ctx context.Context, h RequestHandler, replies chan<- []*message.Message, wave []*sarama.ConsumerMessage) {
	payloads := make([][]byte, len(wave))
	for i, m := range wave {
		payloads[i] = m.Value
	}
	answers := h(ctx, payloads)
	if ctx.Err() != nil {
		return
	}
	var out []*message.Message
	for i, m := range wave {
		id, replyTo := header(m, headerRequestID), header(m, headerReplyTo)
		switch {
		case id == "" || i >= len(answers):
		case replyTo == q.self:
			q.deliver(id, answers[i])
		default:
			reply := message.NewMessage(uuid.NewString(), answers[i])
			reply.Metadata.Set(HeaderStream, replyTo) // the partition key: the asker's partition
			reply.Metadata.Set(headerRequestID, id)
			reply.Metadata.Set(headerReplyTo, replyTo)
			out = append(out, reply)
		}
	}
	if len(out) > 0 {
		select {
		case replies <- out:
		case <-ctx.Done():
		}
	}
}
