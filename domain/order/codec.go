package order

import "github.com/commerce-dev/commerce/domain"

var codec = domain.NewCodec(
	domain.Type[Event, Placed](),
	domain.Type[Event, Confirmed](),
	domain.Type[Event, Rejected](),
	domain.Type[Event, LineAccepted](),
	domain.Type[Event, LineRejected](),
	domain.Type[Event, LineShipped](),
	domain.Type[Event, LineDelivered](),
	domain.Type[Event, LineCancelRequested](),
	domain.Type[Event, LineCancelled](),
)

// Decode turns a stored event (its wire name and its JSON from json.Marshal) back into the event
// value. An unknown type is an error wrapping domain.ErrUnknownEvent.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

// EventTypes returns the wire name of every order event.
func EventTypes() []string { return codec.Types() }
