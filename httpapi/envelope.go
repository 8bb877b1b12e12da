package httpapi

import (
	"net/http"
)

// Result is the result part of every response body.
type Result struct {
	ResultCode        int    `json:"result_code" doc:"The HTTP status, or 4000-4005 for token errors" example:"200"`
	ResultMessage     string `json:"result_message" doc:"Short text of the status" example:"OK"`
	ResultDescription string `json:"result_description" doc:"What happened; for validation errors every failing field and why" example:"OK"`
}

// Pagination describes one page of a list; null on anything but a list.
type Pagination struct {
	_               struct{} `nullable:"true"`
	Page            int      `json:"page" doc:"0-based page number" example:"0"`
	Size            int      `json:"size" doc:"Page size" example:"10"`
	CurrentElements int      `json:"current_elements" doc:"Items on this page" example:"10"`
	TotalElements   int64    `json:"total_elements" doc:"Items on every page" example:"42"`
	TotalPage       int64    `json:"total_page" doc:"Number of pages" example:"5"`
}

// Envelope is the body of every JSON response, success or error (the API contract). Data is the payload;
// Pagination is set on lists and null otherwise.
type Envelope[T any] struct {
	Result     Result      `json:"result"`
	Data       T           `json:"data"`
	Pagination *Pagination `json:"pagination"`
}

// Response is a success response whose body is the envelope around T; handlers return it from
// ok or page.
type Response[T any] struct {
	Status int
	Body   Envelope[T]
}

// Created is a 201 response with the new resource's Location; handlers return it from created.
type Created[T any] struct {
	Status   int
	Location string `header:"Location" doc:"The created resource"`
	Body     Envelope[T]
}

func okResult(status int) Result {
	return Result{ResultCode: status, ResultMessage: http.StatusText(status), ResultDescription: http.StatusText(status)}
}

// ok wraps data in a 200 envelope.
func ok[T any](data T) *Response[T] {
	return &Response[T]{Status: http.StatusOK, Body: Envelope[T]{Result: okResult(http.StatusOK), Data: data}}
}

// created wraps data in a 201 envelope with a Location header.
func created[T any](data T, location string) *Created[T] {
	return &Created[T]{Status: http.StatusCreated, Location: location,
		Body: Envelope[T]{Result: okResult(http.StatusCreated), Data: data}}
}

// Empty is the data of responses that carry none: always null.
type Empty struct {
	_ struct{} `nullable:"true"`
}

// PageQuery is the page and size query of every list; embed it in a list's input struct. The
// page is bounded (10,000,000: an offset of at most 10^9 rows) so that page × size never
// overflows; past it is 400.
type PageQuery struct {
	Page int `query:"page" minimum:"0" maximum:"10000000" default:"0" doc:"0-based page number, at most 10,000,000"`
	Size int `query:"size" minimum:"1" maximum:"100" default:"10" doc:"Page size, at most 100"`
}

// Offset is the number of items before the page.
func (q PageQuery) Offset() int { return q.Page * q.Size }

// page wraps one page of items in a 200 envelope with its pagination.
func page[T any](items []T, q PageQuery, total int64) *Response[[]T] {
	if items == nil {
		items = []T{}
	}
	pages := int64(0)
	if q.Size > 0 {
		pages = (total + int64(q.Size) - 1) / int64(q.Size)
	}
	r := ok(items)
	r.Body.Pagination = &Pagination{Page: q.Page, Size: q.Size, CurrentElements: len(items), TotalElements: total, TotalPage: pages}
	return r
}
