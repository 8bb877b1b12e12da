package catalog

import "github.com/commerce-dev/commerce/domain"

var codec = domain.NewCodec(
	domain.Type[Event, CategoryCreated](),
	domain.Type[Event, CategoryRenamed](),
	domain.Type[Event, BrandCreated](),
	domain.Type[Event, BrandRenamed](),
	domain.Type[Event, ItemCreated](),
	domain.Type[Event, ItemEdited](),
)

// Decode turns a stored event (its wire name and its JSON from json.Marshal) back into the event
// value. An unknown type is an error wrapping domain.ErrUnknownEvent.
func Decode(typ string, data []byte) (Event, error) { return codec.Decode(typ, data) }

// EventTypes returns the wire name of every catalog event.
func EventTypes() []string { return codec.Types() }
