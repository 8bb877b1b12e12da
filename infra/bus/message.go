package bus

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/commerce-dev/commerce/domain"
	"github.com/commerce-dev/commerce/infra/eventstore"
)

// TopicPrefix starts every topic the relay publishes to.
const TopicPrefix = "commerce."

// AggregateTypes lists the aggregate types whose streams the log holds, one topic each.
var AggregateTypes = []string{"category", "brand", "item", "product", "order", "review"}

// Topic returns the topic of a stream's events: "commerce.<type>", where type is the part of the
// stream id before the first '-', such as "commerce.order" for "order-<uuid>".
func Topic(stream string) string { return TopicPrefix + domain.AggregateType(stream) }

// Topics returns every topic the bus uses, for creating them on a broker: the topic of every
// aggregate type, and those of the stock requests and their replies.
func Topics() []string {
	topics := make([]string, 0, len(AggregateTypes)+2)
	for _, t := range AggregateTypes {
		topics = append(topics, TopicPrefix+t)
	}
	return append(topics, StockRequestTopic, StockReplyTopic)
}

// Header names of the message metadata (Kafka record headers) that describe an event.
const (
	HeaderEventID       = "event_id"
	HeaderType          = "event_type"
	HeaderStream        = "stream"
	HeaderVersion       = "stream_version"
	HeaderPosition      = "position"
	HeaderRecordedAt    = "recorded_at"
	HeaderCorrelationID = "correlation_id"
	// HeaderTraceParent is the W3C trace context header.
	HeaderTraceParent = "traceparent"
	// HeaderMetadata carries the event's stored metadata JSON as it is.
	HeaderMetadata = "metadata"
)

// NewMessage turns a stored event into the message the relay publishes: the payload is the event
// data, the message id is the event id (so consumers can deduplicate), and the headers describe
// the event. The partition key is the stream id (see PartitionKey).
func NewMessage(rec eventstore.Record) *message.Message {
	msg := message.NewMessage(rec.ID.String(), message.Payload(rec.Data))
	md := eventstore.ParseMetadata(rec.Metadata)
	msg.Metadata.Set(HeaderEventID, rec.ID.String())
	msg.Metadata.Set(HeaderType, rec.Type)
	msg.Metadata.Set(HeaderStream, rec.Stream)
	msg.Metadata.Set(HeaderVersion, strconv.FormatInt(rec.Version, 10))
	msg.Metadata.Set(HeaderPosition, strconv.FormatUint(uint64(rec.Position), 10))
	msg.Metadata.Set(HeaderRecordedAt, rec.RecordedAt.UTC().Format(time.RFC3339Nano))
	if md.CorrelationID != uuid.Nil {
		msg.Metadata.Set(HeaderCorrelationID, md.CorrelationID.String())
	}
	if tp := traceParent(md, rec.ID); tp != "" {
		msg.Metadata.Set(HeaderTraceParent, tp)
	}
	if len(rec.Metadata) > 0 {
		msg.Metadata.Set(HeaderMetadata, string(rec.Metadata))
	}
	return msg
}

// traceParent returns the event's W3C trace context: the one stored with the event, else one
// derived from the correlation id (trace id) and the event id (parent span id), so that every
// event of one request shares a trace. Without either it returns "".
func traceParent(md eventstore.Metadata, eventID uuid.UUID) string {
	if md.TraceParent != "" {
		return md.TraceParent
	}
	if md.CorrelationID == uuid.Nil {
		return ""
	}
	return "00-" + hex.EncodeToString(md.CorrelationID[:]) + "-" + hex.EncodeToString(eventID[:8]) + "-01"
}

// PartitionKey returns the message's stream id, the Kafka key that keeps a stream's events in one
// partition and so in order.
func PartitionKey(_ string, msg *message.Message) (string, error) {
	stream := msg.Metadata.Get(HeaderStream)
	if stream == "" {
		return "", fmt.Errorf("partition key of message %s: no %s header", msg.UUID, HeaderStream)
	}
	return stream, nil
}

// Record turns a message made by NewMessage back into the stored event it carries.
func Record(msg *message.Message) (eventstore.Record, error) {
	id, err := uuid.Parse(msg.Metadata.Get(HeaderEventID))
	if err != nil {
		return eventstore.Record{}, fmt.Errorf("decode message %s: event id: %w", msg.UUID, err)
	}
	rec := eventstore.Record{
		ID:     id,
		Type:   msg.Metadata.Get(HeaderType),
		Data:   []byte(msg.Payload),
		Stream: msg.Metadata.Get(HeaderStream),
	}
	if rec.Type == "" || rec.Stream == "" {
		return eventstore.Record{}, fmt.Errorf("decode message %s: no event type or stream header", msg.UUID)
	}
	if rec.Version, err = strconv.ParseInt(msg.Metadata.Get(HeaderVersion), 10, 64); err != nil {
		return eventstore.Record{}, fmt.Errorf("decode message %s: version: %w", msg.UUID, err)
	}
	pos, err := strconv.ParseUint(msg.Metadata.Get(HeaderPosition), 10, 64)
	if err != nil {
		return eventstore.Record{}, fmt.Errorf("decode message %s: position: %w", msg.UUID, err)
	}
	rec.Position = eventstore.Position(pos)
	if at := msg.Metadata.Get(HeaderRecordedAt); at != "" {
		if rec.RecordedAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return eventstore.Record{}, fmt.Errorf("decode message %s: recorded at: %w", msg.UUID, err)
		}
	}
	if md := msg.Metadata.Get(HeaderMetadata); md != "" {
		rec.Metadata = []byte(md)
	}
	return rec, nil
}
