package httpapi

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/partflow/partflow/internal/sample"
	"github.com/partflow/partflow/parts"
)

// trickyStrings exercise every escape of encoding/json.
var trickyStrings = []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr\bbs\fff", "ctl \x00\x01\x1f\x7f",
	"<script>&amp;</script>", "line\u2028para\u2029", "Größe Σίγμα 日本語 🔩", "bad \xff\xfe utf8", "\xe2\x80"}

// TestAppendPartMatchesMarshal holds the hand-written list encoder to the
// reflection-based wire form, for sample parts and for parts full of
// characters that need escaping.
func TestAppendPartMatchesMarshal(t *testing.T) {
	g := sample.New(7)
	var ps []*parts.Part
	at := time.Date(2026, 3, 4, 5, 6, 7, 891234000, time.UTC)
	for i := range 200 {
		p := g.Part()
		p.ID, p.Version = int64(i+1), int64(i%5+1)
		p.CreatedAt, p.UpdatedAt = at.Add(time.Duration(i)*time.Minute), at.Add(time.Duration(i)*time.Hour)
		if i%3 == 0 {
			c := at.In(time.FixedZone("X", 3600))
			p.ClaimedDate = &c
			p.Assigned = "Ada"
		}
		if i%4 == 0 {
			p.MiscInfo = map[string]any{"reviewer": "Rita", "handWorkers": []any{map[string]any{"name": "Bo", "timestamp": "t"}}}
		}
		if i%5 == 0 {
			p.Files = []parts.File{{Name: "a.step", Kind: parts.FileKind("source"), Size: 12, SHA256: "ab", ContentType: "application/step", UploadedAt: at},
				{Name: "b.pdf", Kind: parts.FileKind("drawing"), Size: 0, UploadedAt: at}}
			p.Model = parts.Model{State: parts.ModelFailed, Error: "converter <crashed>"}
		}
		ps = append(ps, p)
	}
	for i, s := range trickyStrings {
		ps = append(ps, &parts.Part{ID: int64(1000 + i), PartID: s, Name: s, Type: parts.Type(s), Material: s, Subsystem: s,
			Assigned: s, Status: parts.Status(s), Category: parts.Category(s), Notes: s, File: s, OnshapeURL: s,
			MiscInfo: map[string]any{s: s}, Files: []parts.File{{Name: s, Kind: parts.FileKind(s), SHA256: s, ContentType: s}},
			Model: parts.Model{State: parts.ModelState(s), Error: s}})
	}
	for _, p := range ps {
		want, err := json.Marshal(toPartJSON(p))
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendPart(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("part %d:\n got %s\nwant %s", p.ID, got, want)
		}
	}
}

// FuzzAppendString checks the string encoder against encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}

var valueSeeds = []string{`{"reviewer":"Rita","handWorkers":[{"name":"Bo","timestamp":"t"}]}`, `[1, 2.5, -0, 1e-7, 1e21, 123456789012345678901234567890, 0.000001, 1e-6, 5e-324]`,
	`{"b":true,"a":false,"c":null,"d":[],"e":{},"<&>":"\u2028"}`, `"x"`, `3.14159`, `{"z":{"y":{"x":[[["deep"]]]}}}`}

// FuzzAppendValue checks the miscInfo encoder against encoding/json for
// every value JSON decodes to.
func FuzzAppendValue(f *testing.F) {
	for _, s := range valueSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		checkAppendValue(t, v)
	})
}

func TestAppendValueMatchesMarshal(t *testing.T) {
	for _, s := range valueSeeds {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		checkAppendValue(t, v)
	}
	// Go values a library caller may put in miscInfo go through json.Marshal.
	checkAppendValue(t, map[string]any{"n": 3, "l": []string{"a"}, "m": map[string]int{"b": 1}, "nil": []any(nil), "nm": map[string]any(nil)})
	if _, err := appendValue(nil, map[string]any{"x": math.NaN()}); err == nil {
		t.Error("NaN encoded without an error")
	}
}

func checkAppendValue(t *testing.T, v any) {
	t.Helper()
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := appendValue(nil, v)
	if err != nil || string(got) != string(want) {
		t.Fatalf("%#v: got %s (%v), want %s", v, got, err, want)
	}
}
