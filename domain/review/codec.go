package review

import "github.com/commerce-dev/commerce/domain"

var codec = domain.NewCodec(
	domain.Type[Event, Written](),
	domain.Type[Event, Edited](),
	domain.Type[Event, Deleted](),
)

// Decode turns a stored event (its wire name and its JSON from json.Marshal) back into the event
// value. An unknown type is an error wrapping domain.ErrUnknownEvent.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

// EventTypes returns the wire name of every review event.
func EventTypes() []string { return codec.Types() }
