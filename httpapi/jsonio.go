package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/partflow/partflow/parts"
)

// writeJSON writes v as JSON with status. Encoding errors cannot reach the
// client any more; the types written here always encode.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte{'\n'})
}

// isJSONRequest reports whether the request declares a JSON body, or
// declares nothing (scripts often omit Content-Type).
func isJSONRequest(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/plain"
}

// readJSON returns the request's JSON body, read at most once per request
// and capped at MaxBodyBytes (a larger body is an *http.MaxBytesError). A
// body of another declared content type is parts.ErrUnsupportedType (415)
// and is not read.
func (h *handler) readJSON(r *http.Request) ([]byte, error) {
	st := stateFrom(r.Context())
	if st.bodyRead {
		return st.body, st.bodyErr
	}
	if r.Body == nil || r.Body == http.NoBody {
		st.bodyRead = true
		return nil, nil
	}
	if !isJSONRequest(r) {
		return nil, fmt.Errorf("request body: %w: Content-Type must be application/json", parts.ErrUnsupportedType)
	}
	st.bodyRead = true
	if r.ContentLength > h.opts.MaxBodyBytes {
		st.bodyErr = &http.MaxBytesError{Limit: h.opts.MaxBodyBytes}
		return nil, st.bodyErr
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, h.opts.MaxBodyBytes+1))
	switch {
	case err != nil:
		st.bodyErr = fmt.Errorf("read request body: %w", err)
	case int64(len(b)) > h.opts.MaxBodyBytes:
		st.bodyErr = &http.MaxBytesError{Limit: h.opts.MaxBodyBytes}
	default:
		st.body = b
	}
	return st.body, st.bodyErr
}

// object is a decoded JSON object whose values are still raw.
type object map[string]json.RawMessage

// maxJSONDepth bounds nesting in request bodies.
const maxJSONDepth = 32

// decodeObject parses b as one JSON object of valid UTF-8. An empty body is
// an empty object. Anything else is a *parts.ValidationError (400).
func decodeObject(b []byte) (object, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return object{}, nil
	}
	if !utf8.Valid(b) {
		return nil, &parts.ValidationError{Field: "body", Reason: "Request body is not valid UTF-8"}
	}
	if b[0] != '{' {
		return nil, &parts.ValidationError{Field: "body", Reason: "Request body must be a JSON object"}
	}
	if !json.Valid(b) {
		return nil, &parts.ValidationError{Field: "body", Reason: "Request body is not valid JSON"}
	}
	if depth(b) > maxJSONDepth {
		return nil, &parts.ValidationError{Field: "body", Reason: fmt.Sprintf("Request body is nested more than %d levels deep", maxJSONDepth)}
	}
	var o object
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, &parts.ValidationError{Field: "body", Reason: "Request body must be a JSON object"}
	}
	return o, nil
}

// depth returns the deepest nesting of objects and arrays in valid JSON b.
func depth(b []byte) int {
	d, maxD, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			d++
			maxD = max(maxD, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return maxD
}

// lookup returns the value of the first of names present, and that name.
func (o object) lookup(names ...string) (json.RawMessage, string, bool) {
	for _, n := range names {
		if v, ok := o[n]; ok {
			return v, n, true
		}
	}
	return nil, "", false
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// str reads a string field (or null, read as ""). present is false when the
// field is absent. The error names the field by its first (camelCase) name.
func (o object) str(names ...string) (s string, present bool, err error) {
	v, _, ok := o.lookup(names...)
	if !ok {
		return "", false, nil
	}
	if isNull(v) {
		return "", true, nil
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", true, &parts.ValidationError{Field: names[0], Reason: names[0] + " must be a string"}
	}
	return s, true, nil
}

// miscInfo reads an object field (or null). present is false when absent.
func (o object) miscInfo(names ...string) (m map[string]any, present bool, err error) {
	v, _, ok := o.lookup(names...)
	if !ok {
		return nil, false, nil
	}
	if isNull(v) {
		return nil, true, nil
	}
	bad := &parts.ValidationError{Field: names[0], Reason: names[0] + " must be a JSON object (or null)"}
	if t := bytes.TrimSpace(v); len(t) == 0 || t[0] != '{' {
		return nil, true, bad
	}
	if err := json.Unmarshal(v, &m); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Value == "number" {
			return nil, true, &parts.ValidationError{Field: names[0], Reason: names[0] + " holds a number out of range"}
		}
		return nil, true, bad
	}
	if err := parts.ValidateMiscInfo(m); err != nil {
		return nil, true, err
	}
	return m, true, nil
}
