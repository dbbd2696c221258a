package bunstore

import (
	"reflect"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
)

// TestStoredEventFastPathIsTheRoundTrip checks that StoredEvent gives what
// the round trip through the stored row gives, for events already in
// stored form (the fast path) and for events that are not (Go ints, a
// typed nil slice, invalid UTF-8, a time with a monotonic reading or in
// nanoseconds), and never changes its argument.
func TestStoredEventFastPathIsTheRoundTrip(t *testing.T) {
	at := time.UnixMicro(1_780_000_000_123_456).UTC()
	ev := func(t time.Time, cs ...parts.Change) *parts.Event {
		return &parts.Event{ID: 7, PartID: 3, PartNumber: "P-1", Name: "n", Category: "cnc", Version: 2, Action: "update",
			Actor: "a", At: t, Changes: cs}
	}
	for name, tc := range map[string]struct {
		e    *parts.Event
		fast bool
	}{
		"normal":         {ev(at, parts.Change{Field: "amount", Before: 1.0, After: 2.0}, parts.Change{Field: "miscInfo", After: map[string]any{"k": []any{1.0, "x", true, nil}}}), true},
		"no changes":     {ev(at), true},
		"empty changes":  {ev(at, []parts.Change{}...), true},
		"go int":         {ev(at, parts.Change{Field: "miscInfo", After: map[string]any{"k": 5}}), false},
		"typed nil":      {ev(at, parts.Change{Field: "files", Before: []any(nil)}), false},
		"invalid utf-8":  {ev(at, parts.Change{Field: "notes", After: "a\xffb"}), false},
		"invalid key":    {ev(at, parts.Change{Field: "miscInfo", After: map[string]any{"\xff": "x"}}), false},
		"nanoseconds":    {ev(at.Add(1), parts.Change{Field: "amount", After: 1.0}), false},
		"monotonic time": {ev(time.Now(), parts.Change{Field: "amount", After: 1.0}), false},
	} {
		t.Run(name, func(t *testing.T) {
			before := *tc.e
			if got := storedForm(tc.e); got != tc.fast {
				t.Fatalf("storedForm = %v, want %v", got, tc.fast)
			}
			r, err := toEventRow(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			r.ID = tc.e.ID
			want, err := r.toEvent()
			if err != nil {
				t.Fatal(err)
			}
			got, err := (&Store{}).StoredEvent(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("StoredEvent = %#v\nround trip gives %#v", got, want)
			}
			if !reflect.DeepEqual(*tc.e, before) {
				t.Fatal("StoredEvent changed its argument")
			}
		})
	}
}
