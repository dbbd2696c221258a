package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
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

// encodeJSON returns v as writeJSON writes it (with a final newline), or
// the error of the function that produced v.
func encodeJSON(v any, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode answer: %w", err)
	}
	return append(b, '\n'), nil
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
		st.bodyErr = bodyReadError(err)
	case int64(len(b)) > h.opts.MaxBodyBytes:
		st.bodyErr = &http.MaxBytesError{Limit: h.opts.MaxBodyBytes}
	default:
		st.body = b
	}
	return st.body, st.bodyErr
}

// errBodyUnreadable answers a body that ended early (shorter than its
// Content-Length, a truncated or malformed chunked encoding): the client
// sent a broken request.
var errBodyUnreadable = &statusError{status: http.StatusBadRequest,
	message: "Request body is incomplete or malformed (shorter than its Content-Length, or a broken chunked encoding)"}

// bodyReadError maps an error reading a request body: a size limit stays an
// *http.MaxBytesError (413), anything else is the client's broken body (400).
func bodyReadError(err error) error {
	if _, ok := as[*http.MaxBytesError](err); ok {
		return err
	}
	return fmt.Errorf("%w: %w", errBodyUnreadable, err)
}

// object is a decoded JSON object whose values are still raw.
type object map[string]json.RawMessage

// maxJSONDepth bounds nesting in request bodies.
const maxJSONDepth = 32

// decodeObject parses b as one JSON object of valid UTF-8. An empty body is
// an empty object. Anything else is a *parts.ValidationError (400); a value
// holding invalid UTF-8 or a lone UTF-16 surrogate escape ("\ud800", which
// encoding/json would silently turn into U+FFFD) names its field.
func decodeObject(b []byte) (object, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return object{}, nil
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
	if err := checkText(b, o); err != nil {
		return nil, err
	}
	return o, nil
}

// checkText rejects invalid UTF-8 and lone surrogate escapes in the body b,
// naming the first top-level field (in sorted order) that holds them.
func checkText(b []byte, o object) error {
	if utf8.Valid(b) && !hasLoneSurrogate(b) {
		return nil
	}
	keys := slices.Sorted(maps.Keys(o))
	for _, k := range keys {
		v := o[k]
		switch {
		case !utf8.ValidString(k) || k == "":
		case !utf8.Valid(v):
			return &parts.ValidationError{Field: k, Reason: k + " is not valid UTF-8"}
		case hasLoneSurrogate(v):
			return &parts.ValidationError{Field: k, Reason: k + ` holds a lone UTF-16 surrogate escape (\ud800-\udfff without its pair), which is not text`}
		}
	}
	return &parts.ValidationError{Field: "body", Reason: "Request body is not valid UTF-8 text (a field name holds invalid UTF-8 or a lone surrogate escape)"}
}

// hasLoneSurrogate reports whether JSON text b holds a \uD800-\uDFFF escape
// that is not a high surrogate directly followed by a low one.
func hasLoneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 < len(b) && b[i+1] != 'u' {
			i++ // a two-character escape such as \\ or \"
			continue
		}
		r, ok := hexEscape(b, i)
		if !ok {
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			lo, ok := hexEscape(b, i+6)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// hexEscape decodes the \uXXXX escape at b[i:], if there is one.
func hexEscape(b []byte, i int) (rune, bool) {
	if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
	return rune(n), err == nil
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
