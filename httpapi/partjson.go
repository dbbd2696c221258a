package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/partflow/partflow/parts"
)

// timeFormat is RFC 3339 in UTC with exactly six fractional digits.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// wireField is a plain part field (parts.Fields) as the encoders write it.
type wireField struct {
	parts.Field
	// key is `,"name":` for appendPart.
	key string
}

// wireFields are the plain fields in wire order, after "id".
var wireFields = func() []wireField {
	fs := parts.Fields()
	out := make([]wireField, len(fs))
	for i, f := range fs {
		out[i] = wireField{f, `,"` + f.Name + `":`}
	}
	return out
}()

// plainWire is wireFields reduced to what appendPart reads, kept small so
// the list encoder's loop stays in cache: each field's offset in Part,
// found once from the table's accessors, so that the loop reads the field
// without an indirect call per field (one list page writes hundreds).
var plainWire = func() []plainEncoder {
	out := make([]plainEncoder, len(wireFields))
	for i, f := range wireFields {
		e := plainEncoder{key: f.key, null: f.Kind == parts.FieldNullText, num: f.Kind == parts.FieldInt}
		if e.num {
			e.off = fieldOffset(unsafe.Pointer(f.Int(&offsetProbe)), unsafe.Sizeof(int(0)))
		} else {
			e.off = fieldOffset(unsafe.Pointer(f.Text(&offsetProbe)), unsafe.Sizeof(""))
		}
		out[i] = e
	}
	return out
}()

// offsetProbe is the Part whose field addresses give the offsets.
var offsetProbe parts.Part

// fieldOffset returns the offset in offsetProbe of the field at ptr, size
// bytes long. An accessor that points anywhere else would break the
// encoder: it panics at start instead.
func fieldOffset(ptr unsafe.Pointer, size uintptr) uintptr {
	base := uintptr(unsafe.Pointer(&offsetProbe))
	off := uintptr(ptr) - base
	if uintptr(ptr) < base || off+size > unsafe.Sizeof(offsetProbe) {
		panic("httpapi: a parts.Field accessor does not point into the Part it is given")
	}
	return off
}

type plainEncoder struct {
	key  string
	off  uintptr // of the field in Part
	null bool    // write "" as null
	num  bool    // an int field, else a string
}

// partJSON is the wire form of a part, for encoding/json: its members in
// wire order. appendPart writes the same bytes without reflection.
type partJSON []jsonMember

type jsonMember struct {
	name  string
	value any
}

// MarshalJSON writes the members in order, each value by json.Marshal.
func (o partJSON) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(m.name)
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// fileJSON describes a stored file; the storage key is never exposed.
type fileJSON struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"contentType"`
	UploadedAt  string `json:"uploadedAt"`
}

type modelJSON struct {
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// toPartJSON converts a part to its wire form.
func toPartJSON(p *parts.Part) partJSON {
	out := partJSON{{"id", p.ID}}
	for _, f := range wireFields {
		var v any
		switch {
		case f.Kind == parts.FieldInt:
			v = *f.Int(p)
		case f.Kind == parts.FieldNullText && *f.Text(p) == "":
		default:
			v = *f.Text(p)
		}
		out = append(out, jsonMember{f.Name, v})
	}
	var misc, claimed any
	if len(p.MiscInfo) > 0 {
		misc = p.MiscInfo
	}
	if p.ClaimedDate != nil {
		claimed = formatTime(*p.ClaimedDate)
	}
	files := make([]fileJSON, 0, len(p.Files))
	for _, f := range p.Files {
		files = append(files, fileJSON{Name: f.Name, Kind: string(f.Kind), Size: f.Size,
			SHA256: f.SHA256, ContentType: f.ContentType, UploadedAt: formatTime(f.UploadedAt)})
	}
	model := modelJSON{State: cmp.Or(string(p.Model.State), string(parts.ModelNone)), Error: p.Model.Error}
	return append(out, jsonMember{"miscInfo", misc}, jsonMember{"claimedDate", claimed},
		jsonMember{"createdAt", formatTime(p.CreatedAt)}, jsonMember{"updatedAt", formatTime(p.UpdatedAt)},
		jsonMember{"version", p.Version}, jsonMember{"files", files}, jsonMember{"model", model})
}

// partInput is a decoded create or edit body, as an Update: nil fields
// were absent. MiscInfo and ClaimedDate are absent unless their Clear flag
// or value is set.
type partInput struct {
	u parts.Update
}

// decodePart parses a create or edit body. It accepts camelCase and the
// snake_case spellings (camelCase wins when both are present), ignores
// unknown fields, and rejects wrong types with a *parts.ValidationError
// naming the field. Business rules (required fields, lengths, known
// statuses) are left to parts.Validate, so create and edit share them.
func decodePart(b []byte) (*partInput, error) {
	o, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	in := &partInput{}
	for _, f := range wireFields {
		if f.Edit == nil {
			continue
		}
		s, ok, err := o.str(f.Name, f.Column)
		if err != nil {
			return nil, err
		}
		if ok {
			*f.Edit(&in.u) = &s
		}
	}
	if err := in.decodeRuled(o); err != nil {
		return nil, err
	}
	if m, ok, err := o.miscInfo("miscInfo", "misc_info"); err != nil {
		return nil, err
	} else if ok {
		in.u.MiscInfo, in.u.ClearMiscInfo = m, m == nil
	}
	// claimedDate is set by the server when a part is assigned; a client
	// may set it (or echo it back): RFC 3339, with or without a zone, or
	// null to clear it.
	if s, ok, err := o.str("claimedDate", "claimed_date"); err != nil {
		return nil, err
	} else if ok {
		in.u.ClearClaimedDate = strings.TrimSpace(s) == ""
		if !in.u.ClearClaimedDate {
			t, err := parseClaimedDate(s)
			if err != nil {
				return nil, err
			}
			in.u.ClaimedDate = &t
		}
	}
	return in, nil
}

// decodeRuled decodes the plain fields the Service sets by rules of their
// own (Field.Edit is nil): assigned, type, status, category and amount.
func (in *partInput) decodeRuled(o object) error {
	if s, ok, err := o.str("assigned"); err != nil {
		return err
	} else if ok {
		in.u.Assigned = &s
	}
	if s, ok, err := o.str("type"); err != nil {
		return err
	} else if ok {
		t := parts.Type(strings.ToLower(strings.TrimSpace(s)))
		if !t.Valid() {
			return &parts.ValidationError{Field: "type", Reason: fmt.Sprintf("type must be cnc, hand or empty, not %q", s)}
		}
		in.u.Type = &t
	}
	if s, ok, err := o.str("status"); err != nil {
		return err
	} else if ok {
		st := parts.Status(strings.TrimSpace(s))
		in.u.Status = &st
	}
	if s, ok, err := o.str("category"); err != nil {
		return err
	} else if ok && strings.TrimSpace(s) != "" {
		c := parts.Category(strings.ToLower(strings.TrimSpace(s)))
		in.u.Category = &c
	}
	if v, _, ok := o.lookup("amount"); ok && !isNull(v) && !isEmptyString(v) {
		n, err := parseAmount(v)
		if err != nil {
			return err
		}
		in.u.Amount = &n
	}
	return nil
}

// isEmptyString reports whether v is the JSON string "" (or only spaces).
func isEmptyString(v json.RawMessage) bool {
	var s string
	return json.Unmarshal(v, &s) == nil && strings.TrimSpace(s) == ""
}

// claimedDateLayouts are the spellings of claimedDate accepted on input:
// RFC 3339 as Partflow writes it, and the zone-less ISO 8601 the original
// (Python's isoformat of a UTC time) wrote, read as UTC.
var claimedDateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

// parseClaimedDate parses a claimedDate value, or returns a
// *parts.ValidationError.
func parseClaimedDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range claimedDateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, &parts.ValidationError{Field: "claimedDate",
		Reason: fmt.Sprintf("claimedDate must be an RFC 3339 date-time such as 2025-03-14T15:09:26Z, not %q", s)}
}

// parseAmount accepts a JSON integer or a string holding one ("3"): the
// client's form sends strings. 0, negatives, fractions, exponents, other
// text and values above parts.MaxAmount are errors.
func parseAmount(v json.RawMessage) (int, error) {
	bad := &parts.ValidationError{Field: "amount",
		Reason: fmt.Sprintf("Amount must be a whole number from 1 to %d", parts.MaxAmount)}
	t := bytes.TrimSpace(v)
	var text string
	switch {
	case len(t) > 0 && t[0] == '"':
		if err := json.Unmarshal(t, &text); err != nil {
			return 0, bad
		}
		text = strings.TrimSpace(text)
	case len(t) > 0 && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9')):
		text = string(t)
	default:
		return 0, bad
	}
	text = strings.TrimPrefix(text, "+")
	if text == "" || strings.TrimLeft(text, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n < 1 || n > parts.MaxAmount {
		return 0, bad
	}
	return int(n), nil
}

// part returns the input as a new part for Service.CreatePart.
func (in *partInput) part() *parts.Part {
	p := &parts.Part{MiscInfo: in.u.MiscInfo, ClaimedDate: in.u.ClaimedDate}
	for _, f := range wireFields {
		if f.Edit != nil && *f.Edit(&in.u) != nil {
			*f.Text(p) = **f.Edit(&in.u)
		}
	}
	deref := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	deref(&p.Assigned, in.u.Assigned)
	deref((*string)(&p.Type), (*string)(in.u.Type))
	deref((*string)(&p.Status), (*string)(in.u.Status))
	deref((*string)(&p.Category), (*string)(in.u.Category))
	if in.u.Amount != nil {
		p.Amount = *in.u.Amount
	}
	return p
}

// update returns the input as a partial edit for Service.UpdatePart.
func (in *partInput) update() parts.Update { return in.u }

// appendPart appends the wire form of p to dst: the same bytes as
// json.Marshal(toPartJSON(p)) (a test holds them equal), written without
// reflection or intermediate values, for the list answers that write
// hundreds of parts.
func appendPart(dst []byte, p *parts.Part) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, p.ID, 10)
	for i := range plainWire {
		f := &plainWire[i]
		dst = append(dst, f.key...)
		field := unsafe.Add(unsafe.Pointer(p), f.off)
		if f.num {
			dst = strconv.AppendInt(dst, int64(*(*int)(field)), 10)
		} else if s := *(*string)(field); s == "" && f.null {
			dst = append(dst, "null"...)
		} else {
			dst = appendString(dst, s)
		}
	}
	dst = append(dst, `,"miscInfo":`...)
	if len(p.MiscInfo) > 0 {
		var err error
		if dst, err = appendValue(dst, p.MiscInfo); err != nil {
			return dst, err
		}
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"claimedDate":`...)
	if p.ClaimedDate != nil {
		dst = appendTime(dst, *p.ClaimedDate)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"createdAt":`...)
	dst = appendTime(dst, p.CreatedAt)
	dst = append(dst, `,"updatedAt":`...)
	dst = appendTime(dst, p.UpdatedAt)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, p.Version, 10)
	dst = append(dst, `,"files":[`...)
	for i, f := range p.Files {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendString(dst, f.Name)
		dst = appendField(dst, "kind", string(f.Kind))
		dst = append(dst, `,"size":`...)
		dst = strconv.AppendInt(dst, f.Size, 10)
		dst = appendField(dst, "sha256", f.SHA256)
		dst = appendField(dst, "contentType", f.ContentType)
		dst = append(dst, `,"uploadedAt":`...)
		dst = appendTime(dst, f.UploadedAt)
		dst = append(dst, '}')
	}
	state := string(p.Model.State)
	if state == "" {
		state = string(parts.ModelNone)
	}
	dst = append(dst, `],"model":{"state":`...)
	dst = appendString(dst, state)
	if p.Model.Error != "" {
		dst = appendField(dst, "error", p.Model.Error)
	}
	return append(dst, "}}"...), nil
}

// appendField appends ,"name":"value".
func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return appendString(dst, value)
}

// appendNullable appends ,"name":"value", or null for an empty value.
func appendNullable(dst []byte, name, value string) []byte {
	if value == "" {
		dst = append(dst, ',', '"')
		dst = append(dst, name...)
		return append(dst, `":null`...)
	}
	return appendField(dst, name, value)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, timeFormat)
	return append(dst, '"')
}

// plainASCII marks the ASCII bytes a JSON string holds as they are.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaped as encoding/json does by
// default: quotes, backslashes and control characters, <, > and & (as
// \u003c...), U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plainASCII[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendValue appends v as json.Marshal would. The types JSON decodes to
// (maps with string keys, slices of any, strings, float64, bool, nil) are
// written directly, map keys sorted; anything else goes to json.Marshal.
func appendValue(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case float64:
		return appendFloat(dst, v)
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendValue(dst, v[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendFloat formats f as encoding/json does: the shortest representation,
// exponent form below 1e-6 and from 1e21 on, exponents without a leading
// zero. NaN and infinities are errors.
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("json: unsupported value: %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}
