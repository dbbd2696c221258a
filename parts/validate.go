package parts

import (
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Field length limits, in characters.
const (
	MaxPartIDLen     = 100
	MaxNameLen       = 200
	MaxMaterialLen   = 200
	MaxSubsystemLen  = 100
	MaxAssignedLen   = 100
	MaxStatusLen     = 50
	MaxOnshapeURLLen = 500
	MaxNotesLen      = 10000
	MaxFileNameLen   = 255
	MaxAmount        = 1_000_000
	// MaxMiscInfoBytes is the largest encoded size of MiscInfo.
	MaxMiscInfoBytes = 64 << 10
	// MaxMiscInfoDepth is how deeply MiscInfo values may nest.
	MaxMiscInfoDepth = 8
)

// normalize trims the fields that are compared and searched, and drops null
// values from MiscInfo.
func (p *Part) normalize() {
	for _, f := range fieldTable {
		if f.Trim {
			s := f.Text(p)
			*s = strings.TrimSpace(*s)
		}
	}
	p.File = BaseName(p.File)
	if p.MiscInfo != nil {
		p.MiscInfo, _ = normalizeValue(p.MiscInfo).(map[string]any)
	}
}

// BaseName returns the last element of a client-supplied file name, treating
// both / and \ as separators, so that a name can never act as a path. "." and
// ".." become empty.
func BaseName(name string) string {
	name = strings.TrimSpace(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "." || name == ".." {
		return ""
	}
	return name
}

// Validate checks every field of p against the rules of the data model and
// returns the first problem as a *ValidationError (matching ErrInvalid), or nil.
// Fields are checked in a fixed order: partId, material, subsystem first.
// The known categories are the built-in workflows' stages; a Service checks
// parts against its own workflow (Workflow.Validate).
func (p *Part) Validate() error { return p.validate(originalWorkflow) }

func (p *Part) validate(w *Workflow) error {
	for _, f := range fieldTable {
		if f.Required && strings.TrimSpace(*f.Text(p)) == "" {
			return invalid(f.Name, "%s is required", f.Label)
		}
	}
	for _, f := range fieldTable {
		if f.Kind != FieldInt && f.Max > 0 {
			if err := checkText(f.Name, *f.Text(p), f.Max); err != nil {
				return err
			}
		}
	}
	for _, f := range fieldTable {
		if f.Kind == FieldInt && (*f.Int(p) < f.Min || *f.Int(p) > f.Max) {
			return invalid(f.Name, "%s must be a whole number from %d to %d", f.Label, f.Min, f.Max)
		}
	}
	if !w.HasStage(p.Category) {
		return invalid("category", "unknown category %q (want %s)", p.Category, orList(w.spec.Stages))
	}
	if !p.Type.Valid() {
		return invalid("type", "unknown type %q (want cnc, hand or none)", p.Type)
	}
	if !p.Status.Valid() {
		return invalid("status", "unknown status %q", p.Status)
	}
	if p.OnshapeURL != "" {
		u, err := url.Parse(p.OnshapeURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("onshapeUrl", "onshapeUrl must be an http or https URL")
		}
	}
	if p.File != BaseName(p.File) {
		return invalid("file", "file must be a file name, not a path")
	}
	return ValidateMiscInfo(p.MiscInfo)
}

// ValidateMiscInfo checks a miscInfo object: string keys; values strings,
// numbers, booleans, lists or objects; no NaN or Infinity; nested at most
// MaxMiscInfoDepth deep; at most MaxMiscInfoBytes encoded.
func ValidateMiscInfo(m map[string]any) error {
	if m == nil {
		return nil
	}
	if err := checkValue(m, 1); err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return invalid("miscInfo", "miscInfo cannot be encoded: %v", err)
	}
	if len(b) > MaxMiscInfoBytes {
		return invalid("miscInfo", "miscInfo is too large (%d bytes, at most %d)", len(b), MaxMiscInfoBytes)
	}
	return nil
}

// checkValue checks one value; depth counts the objects and lists around it,
// itself included.
func checkValue(v any, depth int) error {
	switch v.(type) {
	case map[string]any, []any:
		if depth > MaxMiscInfoDepth {
			return invalid("miscInfo", "miscInfo is nested more than %d levels deep", MaxMiscInfoDepth)
		}
	}
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return invalid("miscInfo", "miscInfo holds a string that is not valid UTF-8")
		}
	case bool, nil:
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return invalid("miscInfo", "miscInfo numbers must be finite")
		}
	case float32:
		return checkValue(float64(x), depth)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return invalid("miscInfo", "miscInfo numbers must be finite")
		}
	case map[string]any:
		for k, e := range x {
			if !utf8.ValidString(k) {
				return invalid("miscInfo", "miscInfo keys must be valid UTF-8")
			}
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := checkValue(e, depth+1); err != nil {
				return err
			}
		}
	default:
		return invalid("miscInfo", "miscInfo holds an unsupported value of type %T", v)
	}
	return nil
}

// normalizeValue drops nulls inside objects and turns every number into a
// float64, so a value looks the same before and after a JSON round trip.
func normalizeValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if e == nil {
				continue
			}
			out[k] = normalizeValue(e)
		}
		return out
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, normalizeValue(e))
		}
		return out
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return f
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case float32:
		return float64(x)
	default:
		return v
	}
}

// orList writes "a, b or c".
func orList[T ~string](xs []T) string {
	var b strings.Builder
	for i, x := range xs {
		switch {
		case i == 0:
		case i == len(xs)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(string(x))
	}
	return b.String()
}

// checkText checks a text field's encoding and length.
func checkText(field, value string, max int) error {
	if !utf8.ValidString(value) {
		return invalid(field, "%s is not valid UTF-8", field)
	}
	if strings.ContainsRune(value, 0) {
		return invalid(field, "%s must not contain NUL characters", field)
	}
	if n := utf8.RuneCountInString(value); n > max {
		return invalid(field, "%s is too long (%d characters, at most %d)", field, n, max)
	}
	return nil
}
