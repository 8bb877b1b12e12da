package bus

import (
	"context"
	"fmt"

	"github.com/IBM/sarama"
)

// maxWave bounds how many messages of one partition a wave holds.
const maxWave = 1024

// waveFunc handles a wave: messages of one partition, in partition order. It returns when they
// are all handled, or when ctx ends (the partition was taken away: they are delivered again to
// its next owner).
type waveFunc func(ctx context.Context, msgs []*sarama.ConsumerMessage)

// consumeWaves consumes topics as a member of consumer group group until ctx ends (then it
// returns nil), handing each partition's messages to wave in waves: every message that waits, up
// to maxWave; a wave's offsets are committed once it is handled, before the next one. Unlike
// Watermill's Kafka subscriber, which hands a partition's messages over one at a time, a wave
// lets the handler work on many messages of a partition at once (those of different streams).
//
// Its claims are not wrapped by otelsarama (saramaTracer): that wrapper hands records over one at
// a time through an unbuffered channel, so every wave would hold a single message. The handler's
// spans continue from the publish span that the record's traceparent header names
// (consumeContext), without a receive span between them.
func (b *Bus) consumeWaves(ctx context.Context, group string, topics []string, wave waveFunc) error {
	cg, err := sarama.NewConsumerGroup(b.cfg.Brokers, group, consumerConfig(b.cfg.ClientID, b.cfg.SessionTimeout))
	if err != nil {
		return fmt.Errorf("join consumer group %s: %w", group, err)
	}
	defer cg.Close()
	go func() {
		for err := range cg.Errors() {
			b.warn("consumer group error", "group", group, "err", err)
		}
	}()
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, topics, waveConsumer(wave)); err != nil {
			return fmt.Errorf("consume %v as %s: %w", topics, group, err)
		}
	}
	return nil
}

func (b *Bus) warn(msg string, args ...any) {
	if b.cfg.Logger != nil {
		b.cfg.Logger.Warn(msg, args...)
	}
}

// waveConsumer is the sarama handler of consumeWaves' sessions.
type waveConsumer waveFunc

func (waveConsumer) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (waveConsumer) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim handles one partition in waves until it is taken away.
func (w waveConsumer) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	for {
		var wave []*sarama.ConsumerMessage
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			wave = append(wave, m)
		}
	fill:
		for len(wave) < maxWave {
			select {
			case m, ok := <-claim.Messages():
				if !ok {
					break fill
				}
				wave = append(wave, m)
			default:
				break fill
			}
		}
		w(ctx, wave)
		if ctx.Err() != nil {
			return nil
		}
		sess.MarkMessage(wave[len(wave)-1], "")
	}
}
