package product

import (
	"encoding/json"
	"fmt"

	"github.com/commerce-dev/commerce/domain"
)

var decoders = map[string]func([]byte) (Event, error){
	TypeCreated:              decode[Created],
	TypeEdited:               decode[Edited],
	TypeStatusChanged:        decode[StatusChanged],
	TypeRestocked:            decode[Restocked],
	TypeStockReserved:        decode[StockReserved],
	TypeStockReleased:        decode[StockReleased],
	TypeReservationCommitted: decode[ReservationCommitted],
}

// Decode turns a stored event (its wire name and its JSON from json.Marshal) back into the event
// value. An unknown type is an error wrapping domain.ErrUnknownEvent.
func Decode(typ string, data []byte) (Event, error) {
	dec, ok := decoders[typ]
	if !ok {
		return nil, fmt.Errorf("decode %q: %w", typ, domain.ErrUnknownEvent)
	}
	e, err := dec(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", typ, err)
	}
	return e, nil
}

func decode[E Event](data []byte) (Event, error) {
	var e E
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, err
	}
	return e, nil
}

// EventTypes returns the wire name of every product event.
func EventTypes() []string {
	return []string{
		TypeCreated, TypeEdited, TypeStatusChanged, TypeRestocked,
		TypeStockReserved, TypeStockReleased, TypeReservationCommitted,
	}
}
