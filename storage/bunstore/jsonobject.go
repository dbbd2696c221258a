package bunstore

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeObject decodes a stored JSON object (miscInfo) into the same value
// json.Unmarshal gives for a map[string]any: objects become map[string]any,
// arrays []any, numbers float64. Lists read many parts and encoding/json
// spends most of its time validating and reflecting; this parser makes one
// pass. Anything it does not handle (it is strict) goes to json.Unmarshal,
// so the result and the errors are always encoding/json's; a fuzz test holds
// the two equal.
func decodeObject(s string) (map[string]any, error) {
	d := objDecoder{s: s}
	d.space()
	if d.literal("null") {
		d.space()
		if d.i == len(d.s) {
			return nil, nil
		}
	} else if d.i < len(d.s) && d.s[d.i] == '{' {
		v, err := d.value(0)
		if err == nil {
			d.space()
			if d.i == len(d.s) {
				return v.(map[string]any), nil
			}
		}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// errFallback makes decodeObject hand the input to encoding/json.
var errFallback = errors.New("not handled")

// maxDepth matches encoding/json's nesting limit.
const maxDepth = 10000

type objDecoder struct {
	s string
	i int
}

func (d *objDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *objDecoder) literal(lit string) bool {
	if len(d.s)-d.i >= len(lit) && d.s[d.i:d.i+len(lit)] == lit {
		d.i += len(lit)
		return true
	}
	return false
}

func (d *objDecoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errFallback
	}
	d.space()
	if d.i >= len(d.s) {
		return nil, errFallback
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case d.literal("true"):
		return true, nil
	case d.literal("false"):
		return false, nil
	case d.literal("null"):
		return nil, nil
	}
	return nil, errFallback
}

// object parses a JSON object at d.i (the opening brace).
func (d *objDecoder) object(depth int) (any, error) {
	d.i++
	m := map[string]any{}
	d.space()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, errFallback
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, errFallback
		}
		d.i++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		if done, err := d.next('}'); done || err != nil {
			return m, err
		}
	}
}

// array parses a JSON array at d.i (the opening bracket).
func (d *objDecoder) array(depth int) (any, error) {
	d.i++
	a := []any{}
	d.space()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if done, err := d.next(']'); done || err != nil {
			return a, err
		}
	}
}

// next reads what follows a member or element: a comma (more to come) or
// the closing byte (done); anything else is handed to encoding/json.
func (d *objDecoder) next(closing byte) (done bool, err error) {
	d.space()
	if d.i >= len(d.s) {
		return false, errFallback
	}
	switch d.s[d.i] {
	case ',':
		d.i++
		return false, nil
	case closing:
		d.i++
		return true, nil
	}
	return false, errFallback
}

// number parses a JSON number literal as encoding/json does for any:
// strconv.ParseFloat of the literal.
func (d *objDecoder) number() (any, error) {
	start := d.i
	if d.s[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.s) && d.s[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		return nil, errFallback
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, errFallback
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, errFallback
		}
	}
	f, err := strconv.ParseFloat(d.s[start:d.i], 64)
	if err != nil {
		return nil, errFallback
	}
	return f, nil
}

// str parses a JSON string at d.i (the opening quote) as encoding/json
// does: escapes decoded, a lone or broken UTF-16 surrogate and each invalid
// UTF-8 byte become U+FFFD; a raw control character is an error.
func (d *objDecoder) str() (string, error) {
	d.i++ // opening quote
	start := d.i
	for d.i < len(d.s) {
		c := d.s[d.i]
		if c == '"' {
			s := d.s[start:d.i]
			d.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.i++
	}
	return d.slowStr([]byte(d.s[start:d.i]))
}

// slowStr finishes a string that has escapes or non-ASCII bytes, appending
// to b what the plain ASCII prefix gave.
func (d *objDecoder) slowStr(b []byte) (string, error) {
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			return string(b), nil
		case c < 0x20:
			return "", errFallback
		case c == '\\':
			var err error
			if b, err = d.escape(b); err != nil {
				return "", err
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			d.i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[d.i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, d.s[d.i:d.i+size]...)
			}
			d.i += size
		}
	}
	return "", errFallback
}

// simpleEscapes maps the byte after a backslash to what it stands for, for
// every escape but \u.
var simpleEscapes = [256]byte{
	'"': '"', '\\': '\\', '/': '/',
	'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t',
}

// escape decodes the escape at d.i (the backslash) onto b.
func (d *objDecoder) escape(b []byte) ([]byte, error) {
	if d.i+1 >= len(d.s) {
		return nil, errFallback
	}
	e := d.s[d.i+1]
	d.i += 2
	if e == 'u' {
		return d.unicodeEscape(b)
	}
	if r := simpleEscapes[e]; r != 0 {
		return append(b, r), nil
	}
	return nil, errFallback
}

// unicodeEscape decodes the four hex digits after \u at d.i onto b, with
// the low half that follows a high surrogate. Not a pair: the first is
// replaced by U+FFFD and the second is read again on its own.
func (d *objDecoder) unicodeEscape(b []byte) ([]byte, error) {
	r, ok := d.hex4()
	if !ok {
		return nil, errFallback
	}
	if !utf16.IsSurrogate(r) {
		return utf8.AppendRune(b, r), nil
	}
	if save := d.i; d.i+1 < len(d.s) && d.s[d.i] == '\\' && d.s[d.i+1] == 'u' {
		d.i += 2
		r2, ok := d.hex4()
		if !ok {
			return nil, errFallback
		}
		if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
			return utf8.AppendRune(b, dec), nil
		}
		d.i = save
	}
	return utf8.AppendRune(b, utf8.RuneError), nil
}

func (d *objDecoder) hex4() (rune, bool) {
	if d.i+4 > len(d.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(d.s[d.i : d.i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	d.i += 4
	return r, true
}
