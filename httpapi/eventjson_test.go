package httpapi

import (
	"bytes"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/partflow/partflow/parts"
)

// TestAppendEventMatchesMarshal holds appendEvent to the bytes of
// Event.MarshalJSON (encoding/json) for events with every kind of change
// value: JSON-decoded values, strings that need escaping (quotes, control
// characters, HTML characters, U+2028, invalid UTF-8), numbers in both
// float forms, nested maps and lists, other Go types, times with and
// without fractions and in other zones, and no changes at all.
func TestAppendEventMatchesMarshal(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 7, 23, 123456000, time.FixedZone("X", 3600))
	odd := "a\"b\\c\n\r\t\b\f\x01<>&\u2028\u2029é\xff"
	values := []any{nil, "", "Completed", odd, true, false, 0.0, 1.5, -2.0, 1e-7, 1e21, 123456789.0,
		map[string]any{"z": 1.0, "a": []any{"x", nil, map[string]any{}}, odd: odd}, []any{}, []any(nil),
		map[string]any(nil), 42, int64(-7), at, []string{"s"}}
	var events []*parts.Event
	for i, v := range values {
		events = append(events, &parts.Event{ID: int64(i + 1), PartID: int64(100 + i), PartNumber: "DRV-" + strconv.Itoa(i),
			Name: odd, Category: parts.Category("cnc"), Version: int64(i), Action: "update", Actor: "Ada <a@b>",
			At: at.Add(time.Duration(i) * 333 * time.Millisecond), Changes: []parts.Change{{Field: "f" + strconv.Itoa(i), Before: v, After: values[len(values)-1-i]}}})
	}
	events = append(events, &parts.Event{ID: 99, At: time.Unix(0, 0)}, &parts.Event{ID: 100, At: at.Truncate(time.Second), Action: "delete",
		Changes: []parts.Change{{Field: "name", Before: "x"}, {Field: "status", Before: "a", After: "b"}}})
	for _, e := range events {
		want, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendEvent([]byte("prefix"), e)
		if err != nil || !bytes.Equal(got[len("prefix"):], want) {
			t.Errorf("event %d:\n got %s (%v)\nwant %s", e.ID, got[len("prefix"):], err, want)
		}
		frame, err := appendFrame(nil, e)
		if wantFrame := "id: " + strconv.FormatInt(e.ID, 10) + "\ndata: " + string(want) + "\n\n"; err != nil || string(frame) != wantFrame {
			t.Errorf("frame %q, want %q", frame, wantFrame)
		}
	}
	bad := &parts.Event{ID: 1, Changes: []parts.Change{{Field: "x", After: math.Inf(1)}}}
	if _, err := appendEvent(nil, bad); err == nil {
		t.Error("an infinite value encoded without an error")
	}
}

// BenchmarkAppendEvent compares the hub's encoder with Event.MarshalJSON.
func BenchmarkAppendEvent(b *testing.B) {
	e := &parts.Event{ID: 12345, PartID: 77, PartNumber: "DRV-001", Name: "Gearbox plate", Category: "cnc", Version: 4,
		Action: "create", Actor: "ada", At: time.Now(), Changes: []parts.Change{{Field: "name", After: "Gearbox plate"},
			{Field: "material", After: "al"}, {Field: "subsystem", After: "drive"}, {Field: "quantity", After: 2.0}}}
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = appendFrame(buf[:0], e)
		}
	})
	b.Run("marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = e.MarshalJSON()
		}
	})
}
