package httpapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzJSONTextFields checks the body half of checkText against encoding/json: a JSON document
// is flagged exactly when it holds invalid UTF-8 or a string with a NUL, so that nothing the
// database cannot store gets past it and nothing else is refused.
func FuzzJSONTextFields(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Kim"}`,
		`{"name":"Kim\u0000"}`,
		"{\"name\":\"\xff\xfe\"}",
		"{\"lines\":[{\"product_id\":\"\xc3\"}]}",
		`{"a":{"b":["x","y\u0000"]}}`,
		`{"\u0000":1}`,
		"{\"\xff\":1}",
		`[1,"two",{"three":null}]`,
		`"\u0000"`,
		`{"name":"Kim"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fields := map[string]string{}
		jsonTextFields(body, fields)
		var doc any
		if json.Unmarshal(body, &doc) != nil {
			return // not JSON: the decoder refuses it whatever this found
		}
		nul := stringHasNUL(doc)
		bad := !utf8.Valid(body) || nul
		if bad && len(fields) == 0 {
			t.Fatalf("%q: nothing flagged, yet it holds invalid UTF-8 (%v) or a NUL (%v)", body, !utf8.Valid(body), nul)
		}
		if len(fields) > 0 && utf8.Valid(body) && !bytes.Contains(bytes.ToLower(body), []byte(`\u0000`)) {
			t.Fatalf("%q: flagged %v, yet it is valid UTF-8 without a NUL", body, fields)
		}
		for name, why := range fields {
			if !utf8.ValidString(name) || (why != whyInvalidUTF8 && why != whyNUL) {
				t.Fatalf("%q: flagged %q: %q", body, name, why)
			}
		}
	})
}

// stringHasNUL reports whether a string value anywhere in the decoded document v holds a NUL.
func stringHasNUL(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []any:
		for _, x := range v {
			if stringHasNUL(x) {
				return true
			}
		}
	case map[string]any:
		for _, x := range v {
			if stringHasNUL(x) {
				return true
			}
		}
	}
	return false
}

// Fields are named as validation errors name them, nested ones included.
func TestJSONTextFieldsNamesTheField(t *testing.T) {
	for body, want := range map[string]string{
		"{\"name\":\"Kim\\u0000\"}":                         "name",
		"{\"email\":\"a@b.co\",\"name\":\"\xff\"}":          "name",
		"{\"lines\":[{\"q\":1},{\"product_id\":\"\xc3\"}]}": "lines[1].product_id",
		"{\"a\":{\"b\":[\"x\",\"y\\u0000\"]}}":              "a.b[1]",
		"\"\\u0000\"":                                       "body",
	} {
		fields := map[string]string{}
		jsonTextFields([]byte(body), fields)
		if len(fields) != 1 || fields[want] == "" {
			t.Errorf("jsonTextFields(%q) = %v, want only %s", body, fields, want)
		}
	}
}

// BenchmarkJSONTextFields is the cost checkText adds to a POST /orders body of three lines (the
// figure is in the README).
func BenchmarkJSONTextFields(b *testing.B) {
	body := []byte(`{"address_id":"7d9f0f8e-3c1a-4f7e-9a51-3b0c2f7f1d11","lines":[` +
		`{"product_id":"0b3f6c9e-8a0d-4c55-b2f1-6f3b8e1d2a40","quantity":1},` +
		`{"product_id":"5e2a7d1c-9b4f-4e08-a3c6-1d7f0b9e8c52","quantity":2},` +
		`{"product_id":"c81d4e2f-6a3b-47d9-8e05-2f9c1b7a3d64","quantity":1}]}`)
	b.ReportAllocs()
	for b.Loop() {
		fields := map[string]string{}
		jsonTextFields(body, fields)
		if len(fields) != 0 {
			b.Fatal(fields)
		}
	}
}
