package httpapi_test

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/partflow/partflow/httpapi"
	"github.com/partflow/partflow/parts"
)

// FuzzDecodePart checks that the part decoder never panics, that every
// rejection is a *parts.ValidationError (a 400, never a 500), that it is
// deterministic, and that what it accepts survives a round trip: encoding
// the decoded fields and decoding them again gives the same fields.
func FuzzDecodePart(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `"x"`, `{"partId":"A","material":"M","subsystem":"S"}`,
		`{"part_id":"A","amount":"3","type":"CNC","misc_info":{"a":[1,{"b":null}]}}`,
		`{"amount":1.5}`, `{"amount":1e400}`, `{"amount":"007"}`, `{"amount":-1}`, `{"amount":true}`,
		`{"miscInfo":null,"type":null,"status":""}`, `{"partId":5}`, `{"onshape_url":"https://x","onshapeUrl":"https://y"}`,
		"{\"name\":\"\xff\"}", `{"miscInfo":{"x":1e308}}`, `{"claimed_date":"2020-01-01T00:00:00Z"}`,
		`{"a":` + `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]` + `}`,
		`{"file":"../../x.step","category":"CNC"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := httpapi.DecodePartFields(b)
		again, err2 := httpapi.DecodePartFields(b)
		if (err == nil) != (err2 == nil) || !cmp.Equal(got, again) {
			t.Fatalf("not deterministic: %v/%v vs %v/%v", got, err, again, err2)
		}
		if err != nil {
			var ve *parts.ValidationError
			if !errors.As(err, &ve) || ve.Field == "" || ve.Reason == "" {
				t.Fatalf("rejection %T %v is not a ValidationError with a field", err, err)
			}
			return
		}
		if a, ok := got["amount"].(int); ok && (a < 1 || a > parts.MaxAmount) {
			t.Fatalf("amount %d accepted", a)
		}
		if ty, ok := got["type"].(string); ok && !parts.Type(ty).Valid() {
			t.Fatalf("type %q accepted", ty)
		}
		for k, v := range got {
			if s, ok := v.(string); ok && !utf8.ValidString(s) {
				t.Fatalf("%s holds invalid UTF-8", k)
			}
		}
		enc, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("decoded fields do not encode: %v", err)
		}
		round, err := httpapi.DecodePartFields(enc)
		if err != nil {
			t.Fatalf("round trip of %s rejected: %v", enc, err)
		}
		// JSON numbers come back as float64 inside miscInfo either way.
		if diff := cmp.Diff(normalize(got), normalize(round)); diff != "" {
			t.Fatalf("round trip differs (-first +second):\n%s", diff)
		}
	})
}

func normalize(m map[string]any) any {
	b, _ := json.Marshal(m)
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

// FuzzListQuery checks that the list query parser never panics, rejects
// only with a *parts.ValidationError, and never yields a Filter that
// Service.FindParts would refuse.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{
		"", "category=cnc", "category=PAINT", "search=alpha&sort_by=name&sort_order=asc",
		"limit=50&offset=100", "limit=0", "limit=10001", "limit=-1", "offset=99999999999999", "sort_by=partId",
		"sort_by=notes", "sort_order=sideways", "search=%ff", "search=%zz", "limit=1e3", "limit=+5",
		"api_key=secret&limit=1", "category=&sort_by=&limit=", "search=" + string(make([]byte, 300)),
	} {
		f.Add(s, "")
		f.Add(s, "hand")
	}
	f.Add("=%80", "0") // a nameless parameter with invalid UTF-8 (found by fuzzing)
	f.Fuzz(func(t *testing.T, raw, category string) {
		filter, limitSet, err := httpapi.ParseListQuery(raw, category)
		if err != nil {
			var ve *parts.ValidationError
			if !errors.As(err, &ve) || ve.Field == "" {
				t.Fatalf("rejection %T %v is not a ValidationError with a field", err, err)
			}
			return
		}
		if filter.Category != "" && !filter.Category.Valid() {
			t.Fatalf("category %q", filter.Category)
		}
		if !slices.Contains(parts.SortFields, filter.SortBy) {
			t.Fatalf("sort field %q", filter.SortBy)
		}
		if filter.Limit < 0 || filter.Limit > parts.MaxLimit || (limitSet && filter.Limit == 0) || (!limitSet && filter.Limit != 0) {
			t.Fatalf("limit %d (set %v)", filter.Limit, limitSet)
		}
		if filter.Offset < 0 || filter.Offset > math.MaxInt32 {
			t.Fatalf("offset %d", filter.Offset)
		}
		if !utf8.ValidString(filter.Search) || utf8.RuneCountInString(filter.Search) > parts.MaxSearchLen {
			t.Fatalf("search %q", filter.Search)
		}
	})
}
