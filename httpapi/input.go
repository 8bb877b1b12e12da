package httpapi

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
)

// Why a text field is refused: PostgreSQL stores neither, so either would otherwise reach the
// database and come back as a 500.
const (
	whyInvalidUTF8 = "must be valid UTF-8"
	whyNUL         = "must not contain a NUL character"
)

// checkText refuses, before any route sees it, a request whose path, query parameters or JSON
// body strings are not valid UTF-8 or hold a NUL character: 400 naming every such field, as the
// client sent it (q, name, lines[0].name). It is the one place this is checked, for every route.
// A body that is not JSON is left to the decoder, which refuses it.
func checkText(c *fiber.Ctx) error {
	fields := map[string]string{}
	if path, err := url.PathUnescape(string(c.Request().URI().PathOriginal())); err == nil {
		if why := badText(path); why != "" {
			fields["path"] = why
		}
	}
	for k, v := range c.Context().QueryArgs().All() {
		name := string(k)
		if why := badText(name); why != "" {
			fields["query"] = "a parameter name " + why
			continue
		}
		if why := badText(string(v)); why != "" {
			fields[name] = why
		}
	}
	if body := c.Body(); len(body) > 0 {
		jsonTextFields(body, fields)
	}
	if len(fields) > 0 {
		return validationEnvelope(fields)
	}
	return c.Next()
}

// badText says why s may not be stored as text, or "" when it may.
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return whyInvalidUTF8
	case strings.IndexByte(s, 0) >= 0:
		return whyNUL
	}
	return ""
}

// jsonFrame is an open JSON object or array while jsonTextFields walks a document.
type jsonFrame struct {
	array   bool
	index   int    // array: the current element
	key     string // object: the current member
	wantKey bool   // object: the next string is a member name
}

// jsonTextFields adds to fields every string value of the JSON document body that is not valid
// UTF-8 or holds a NUL (a \u0000 escape), named by its path. encoding/json silently replaces
// invalid UTF-8 by U+FFFD, so the raw bytes are checked first and the token holding the first
// bad byte is found by its offset. It stops at the first syntax error.
func jsonTextFields(body []byte, fields map[string]string) {
	bad := -1
	if !utf8.Valid(body) {
		bad = firstInvalidUTF8(body)
	} else if !bytes.Contains(body, []byte(`\u0000`)) {
		return // the common case, found without decoding: a NUL in JSON is always this escape
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []jsonFrame
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return
		}
		end := dec.InputOffset()
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			valueDone(stack)
			continue
		}
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey {
			stack[n-1].key, stack[n-1].wantKey = tok.(string), false
			if bad >= int(start) && bad < int(end) {
				fields[jsonPath(stack)] = whyInvalidUTF8
			}
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].array {
			stack[n-1].index++
		}
		switch v := tok.(type) {
		case json.Delim:
			stack = append(stack, jsonFrame{array: v == '[', index: -1, wantKey: v == '{'})
			continue
		case string:
			if bad >= int(start) && bad < int(end) {
				fields[jsonPath(stack)] = whyInvalidUTF8
			} else if strings.IndexByte(v, 0) >= 0 {
				fields[jsonPath(stack)] = whyNUL
			}
		}
		valueDone(stack)
	}
}

// valueDone records that a value of the innermost object ended: a member name comes next.
func valueDone(stack []jsonFrame) {
	if n := len(stack); n > 0 && !stack[n-1].array {
		stack[n-1].wantKey = true
	}
}

// jsonPath names the current value as a validation error names a field: lines[0].name; "body"
// for the document itself.
func jsonPath(stack []jsonFrame) string {
	var b strings.Builder
	for _, f := range stack {
		if f.array {
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strings.ToValidUTF8(f.key, "\uFFFD"))
	}
	if b.Len() == 0 {
		return "body"
	}
	return b.String()
}

// firstInvalidUTF8 is the offset of the first byte of b that is not valid UTF-8.
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}
