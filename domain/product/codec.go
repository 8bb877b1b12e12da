package product

import "github.com/commerce-dev/commerce/domain"

var codec = domain.NewCodec(
	domain.Type[Event, Created](),
	domain.Type[Event, Edited](),
	domain.Type[Event, StatusChanged](),
	domain.Type[Event, Restocked](),
	domain.Type[Event, StockReserved](),
	domain.Type[Event, StockReleased](),
	domain.Type[Event, ReservationCommitted](),
)

// Decode turns a stored event (its wire name and its JSON from json.Marshal) back into the event
// value. An unknown type is an error wrapping domain.ErrUnknownEvent.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

// EventTypes returns the wire name of every product event.
func EventTypes() []string { return codec.Types() }
