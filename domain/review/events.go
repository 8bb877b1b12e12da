package review

import (
	"time"

	"github.com/google/uuid"
)

// Event is a fact in a review's stream. Each event type has an explicit, versioned wire name.
type Event interface {
	// EventType returns the event's wire name, such as "review.written.v1".
	EventType() string
}

// Wire names of the review events. They never change; a new shape gets a new version suffix.
const (
	TypeWritten = "review.written.v1"
	TypeEdited  = "review.edited.v1"
	TypeDeleted = "review.deleted.v1"
)

// Written happens when the order's user reviews a delivered line.
type Written struct {
	ReviewID  uuid.UUID `json:"review_id"`
	OrderID   uuid.UUID `json:"order_id"`
	Line      int       `json:"line"`
	ProductID uuid.UUID `json:"product_id"`
	UserID    uuid.UUID `json:"user_id"`
	Rating    int       `json:"rating"`
	Content   string    `json:"content"`
	At        time.Time `json:"at"`
}

// Edited happens when the author changes the rating or content.
type Edited struct {
	ReviewID  uuid.UUID `json:"review_id"`
	ProductID uuid.UUID `json:"product_id"`
	UserID    uuid.UUID `json:"user_id"`
	Rating    int       `json:"rating"`
	Content   string    `json:"content"`
	At        time.Time `json:"at"`
}

// Deleted happens when the author deletes the review.
type Deleted struct {
	ReviewID  uuid.UUID `json:"review_id"`
	ProductID uuid.UUID `json:"product_id"`
	UserID    uuid.UUID `json:"user_id"`
	At        time.Time `json:"at"`
}

// EventType returns "review.written.v1".
func (Written) EventType() string { return TypeWritten }

// EventType returns "review.edited.v1".
func (Edited) EventType() string { return TypeEdited }

// EventType returns "review.deleted.v1".
func (Deleted) EventType() string { return TypeDeleted }
