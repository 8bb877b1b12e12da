package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
)

// marshaler writes the message id and metadata as Kafka headers and the stream id as the key.
var marshaler = kafka.NewWithPartitioningMarshaler(PartitionKey)

// saramaConfig is the client configuration shared by the publisher, the subscribers and Ping:
// short timeouts, so that an unreachable broker is reported in seconds.
func saramaConfig(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = clientID
	c.Version = sarama.V2_4_0_0 // the least that has incremental cooperative rebalancing
	c.Net.DialTimeout = 3 * time.Second
	c.Net.ReadTimeout = 10 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Metadata.Retry.Max = 1
	c.Metadata.Retry.Backoff = 250 * time.Millisecond
	return c
}

// KafkaPublisher is a Watermill publisher to Kafka. It marshals with watermill-kafka's
// partitioning marshaler (key = stream id, so one stream's events stay in one partition and in
// order) and sends all the messages of one Publish call in one batch through a sarama sync
// producer, which returns once the broker has them (acks from all in-sync replicas). The producer
// is made on first use and again after any failure, so a publisher can be made while Kafka is
// down; Publish fails until it is back.
// The producer is traced by otelsarama (saramaTracer): a "<topic> publish" span per message that
// carries a trace context, and the message's traceparent header then names that span.
type KafkaPublisher struct {
	brokers []string
	config  *sarama.Config

	mu       sync.Mutex
	producer sarama.SyncProducer
	closed   bool
}

var _ message.Publisher = (*KafkaPublisher)(nil)

// NewKafkaPublisher returns a publisher to brokers. It does not connect yet.
func NewKafkaPublisher(brokers []string, clientID string) *KafkaPublisher {
	c := saramaConfig(clientID)
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Retry.Max = 3
	c.Producer.Retry.Backoff = 250 * time.Millisecond
	c.Producer.Partitioner = sarama.NewHashPartitioner
	// One request in flight per broker: a retried batch cannot overtake the next one, so a
	// stream's events keep their order in the partition.
	c.Net.MaxOpenRequests = 1
	return &KafkaPublisher{brokers: brokers, config: c}
}

func (p *KafkaPublisher) get() (sarama.SyncProducer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("kafka publisher closed")
	}
	if p.producer == nil {
		prod, err := sarama.NewSyncProducer(p.brokers, p.config)
		if err != nil {
			return nil, fmt.Errorf("connect to kafka %v: %w", p.brokers, err)
		}
		p.producer = saramaTracer.WrapSyncProducer(p.config, prod)
	}
	return p.producer, nil
}

// discard drops a producer that failed, so that the next Publish connects afresh.
func (p *KafkaPublisher) discard(prod sarama.SyncProducer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.producer == prod {
		p.producer = nil
		go prod.Close()
	}
}

// Publish sends msgs to topic and returns once Kafka acknowledged every one of them. Messages
// with the same key keep their order.
func (p *KafkaPublisher) Publish(topic string, msgs ...*message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	batch := make([]*sarama.ProducerMessage, len(msgs))
	for i, msg := range msgs {
		km, err := marshaler.Marshal(topic, msg)
		if err != nil {
			return fmt.Errorf("marshal message %s: %w", msg.UUID, err)
		}
		batch[i] = km
	}
	prod, err := p.get()
	if err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	if err := prod.SendMessages(batch); err != nil {
		p.discard(prod)
		return fmt.Errorf("publish %d messages to %s: %w", len(msgs), topic, err)
	}
	return nil
}

// Close closes the producer.
func (p *KafkaPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.producer == nil {
		return nil
	}
	err := p.producer.Close()
	p.producer = nil
	if err != nil {
		return fmt.Errorf("close kafka producer: %w", err)
	}
	return nil
}

// DefaultSessionTimeout is the consumer groups' session timeout unless Config says otherwise:
// the smallest a Kafka broker accepts by default (group.min.session.timeout.ms), so that the
// partitions of a consumer that died are handed to the others as soon as the broker allows.
const DefaultSessionTimeout = 6 * time.Second

// NewKafkaSubscriber returns a watermill-kafka subscriber in consumer group group. A new group
// starts at the oldest message, so nothing published before its first commit is skipped. Each
// partition is consumed in order: the next message of a partition comes after the previous one
// was acknowledged.
//
// A member that stops heartbeating loses its partitions after sessionTimeout (heartbeats go every
// tenth of it). Partitions are assigned by sarama's cooperative-sticky strategy (incremental
// cooperative rebalancing, KIP-429): on a rebalance every member keeps consuming the partitions it
// keeps, and only those of a member that left, or some for one that joined, move; nobody else
// stops. Rebalance.Timeout bounds how long a rebalance waits for a member that is alive but slow
// to rejoin. A group whose members still use an eager strategy (the range assignor of earlier
// releases) shares no protocol with these: stop the old members before starting new ones, or
// deploy twice, first with both strategies listed.
func NewKafkaSubscriber(brokers []string, clientID, group string, sessionTimeout time.Duration, logger watermill.LoggerAdapter) (*kafka.Subscriber, error) {
	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{
		Brokers:               brokers,
		Unmarshaler:           marshaler,
		OverwriteSaramaConfig: consumerConfig(clientID, sessionTimeout),
		ConsumerGroup:         group,
		Tracer:                saramaTracer,
		NackResendSleep:       nackResendSleep,
		ReconnectRetrySleep:   time.Second,
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("create kafka subscriber for group %s: %w", group, err)
	}
	return sub, nil
}

// consumerConfig is a consumer group member's sarama configuration: a new one per member, as the
// cooperative-sticky strategy keeps state.
func consumerConfig(clientID string, sessionTimeout time.Duration) *sarama.Config {
	if sessionTimeout <= 0 {
		sessionTimeout = DefaultSessionTimeout
	}
	c := saramaConfig(clientID)
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	c.Consumer.Group.Session.Timeout = sessionTimeout
	c.Consumer.Group.Heartbeat.Interval = sessionTimeout / 10
	c.Consumer.Group.Rebalance.Timeout = sessionTimeout + 4*time.Second
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyCooperativeSticky()}
	return c
}

// PingKafka checks that one of brokers answers a metadata request.
func PingKafka(ctx context.Context, brokers []string, clientID string) error {
	done := make(chan error, 1)
	go func() {
		client, err := sarama.NewClient(brokers, saramaConfig(clientID))
		if err != nil {
			done <- err
			return
		}
		defer client.Close()
		if len(client.Brokers()) == 0 {
			done <- errors.New("no brokers in metadata")
			return
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("ping kafka %v: %w", brokers, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ping kafka %v: %w", brokers, ctx.Err())
	}
}
